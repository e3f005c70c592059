//! `adain train`: settings from `--config run.toml` (or a resumed run's saved config),
//! overridden by flags. The setting flags are made from the settings struct itself
//! ([`TrainConfig::fields`]): one flag per setting, named after its key (`lr.decay` →
//! `--lr-decay`), its help text the setting's doc comment; booleans take an optional value
//! (`--flip false`). Only the short aliases below are chosen here.

use super::args::DeviceArgs;
use super::flags::{FlagSet, SettingFlags, flag_error};
use adain::dist::launch::LocalLaunch;
use adain::dist::{ProcessGroup, World};
use adain::train::{TrainConfig, Trainer};
use anyhow::{Result, bail};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tch::Device;

#[derive(clap::Args)]
pub struct Args {
    /// Run directory: config, metrics.csv, checkpoints and the final decoder go here.
    #[arg(long)]
    run_dir: PathBuf,
    /// TOML file with the settings (the keys of a run's config.toml; flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in --run-dir from its newest checkpoint (its saved config is used;
    /// flags given with it change the settings from that step on).
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Data-parallel training on this machine: start N ranks (processes) that each train on
    /// --batch-size pairs of every step and average their gradients (torch.distributed: Gloo
    /// on CPU, NCCL on GPUs, one GPU per rank). Under torchrun or SLURM, leave it out: the
    /// ranks are read from RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT.
    #[arg(long, value_name = "N")]
    nproc: Option<usize>,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    settings: SettingFlags<TrainFlags>,
}

/// `adain train` takes every training setting as a flag.
pub struct TrainFlags;

impl FlagSet for TrainFlags {
    type S = TrainConfig;
    const KEYS: Option<&'static [&'static str]> = None;
    /// Shorter or historical names for some setting flags.
    const ALIASES: &'static [(&'static str, &'static [&'static str])] = &[
        ("content_dir", &["content"]),
        ("init_decoder", &["init"]),
        ("style_dir", &["style"]),
        ("lr.schedule", &["schedule"]),
        ("lr.warmup", &["warmup"]),
        ("lr.patience", &["patience"]),
        ("style_loss.reduce", &["style-reduce"]),
        ("style_loss.sqrt", &["style-sqrt"]),
        ("style_loss.normalize", &["style-normalize"]),
        ("style_loss.pixel_weight", &["pixel-style-weight"]),
        ("style_loss.pixel_covariance", &["pixel-covariance"]),
        ("style_loss.covariance", &["style-covariance"]),
    ];
    const HEADING: &'static str = "Settings (as in config.toml)";
}

fn resolve(a: &Args) -> Result<TrainConfig> {
    let saved = a.run_dir.join("config.toml");
    let base = match (&a.config, a.resume) {
        (Some(p), _) => TrainConfig::from_toml_file(p)?,
        (None, true) if saved.exists() => TrainConfig::from_toml_file(&saved)?,
        (None, true) => bail!("--resume: {} has no config.toml", a.run_dir.display()),
        (None, false) => TrainConfig::default(),
    };
    a.settings.apply(&base)
}

/// This program's arguments without `--nproc N`, for the ranks.
fn rank_args() -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--nproc" {
            args.next();
        } else if !a.to_string_lossy().starts_with("--nproc=") {
            out.push(a);
        }
    }
    out
}

/// The device of this rank: with `auto` or `cuda`, rank k of a machine takes GPU k.
fn rank_device(a: &Args, world: Option<&World>) -> Result<Device> {
    let device = a.device.device()?;
    Ok(match world {
        Some(w) if device.is_cuda() && matches!(a.device.device.as_str(), "auto" | "cuda") => {
            Device::Cuda(w.local_rank % tch::Cuda::device_count().max(1) as usize)
        }
        _ => device,
    })
}

pub fn run(a: Args) -> Result<ExitCode> {
    let world = World::from_env()?;
    if let Some(n) = a.nproc.filter(|&n| n > 1) {
        if world.is_some() {
            bail!("--nproc {n}: this process is already a rank of a distributed run (WORLD_SIZE is set)");
        }
        LocalLaunch { nproc: n, grace: Duration::from_secs(15) }.run(&std::env::current_exe()?, &rank_args())?;
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = resolve(&a)?;
    // The loss network's weights (the library only reads them).
    super::args::encoder_path(&cfg.encoder)?;
    let device = rank_device(&a, world.as_ref())?;
    let mut t = match &world {
        // A setting that cannot work (Trainer::new checks them) is named by its flag.
        None => Trainer::new(cfg, &a.run_dir, device, a.resume).map_err(flag_error)?,
        Some(w) => {
            let group = ProcessGroup::new(w, device, Duration::from_secs(cfg.dist.timeout))?;
            Trainer::distributed(cfg, &a.run_dir, device, a.resume, group).map_err(flag_error)?
        }
    };
    if !t.is_leader() {
        t.run(false)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ranks = match &world {
        Some(w) => format!(" per rank × {} ranks, {}", w.size, t.group().map_or("", |g| g.backend().name())),
        None => String::new(),
    };
    eprintln!(
        "adain: training the {} network, stage {:?} on {device:?}, steps {}..{} (batch {}{ranks}, crop {}), run dir {}",
        t.cfg.model,
        t.cfg.stage,
        t.step,
        t.cfg.steps,
        t.cfg.batch_size,
        t.cfg.crop_size,
        a.run_dir.display()
    );
    let s = t.run(!a.quiet)?;
    if s.first_loss.is_none() {
        println!("nothing to train: the run is already at step {}; weights {}", s.steps, s.weights.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "trained {} steps: loss {} -> {:.5}; weights {}",
        s.steps,
        s.first_loss.map(|l| format!("{l:.5}")).unwrap_or_else(|| "-".into()),
        s.last_loss,
        s.weights.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags::flag_of;
    use adain::settings::Settings;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn every_setting_has_a_flag_with_help_and_booleans_switch_both_ways() {
        let cmd = <T as clap::CommandFactory>::command();
        for f in TrainConfig::fields() {
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(flag_of(&f.key).as_str()));
            let arg = arg.unwrap_or_else(|| panic!("no flag for {}", f.key));
            assert!(arg.get_help().is_some_and(|h| h.to_string().len() > 10), "{} has no help", f.key);
        }
        let t = T::try_parse_from([
            "t",
            "--run-dir",
            "r",
            "--flip",
            "false",
            "--rotate",
            "--lr",
            "2e-4",
            "--style-sqrt",
            "--content",
            "c",
            "--lr-decay",
            "1e-3",
        ])
        .unwrap();
        let c = resolve(&t.a).unwrap();
        assert!(!c.flip && c.rotate && c.style_loss.sqrt);
        assert_eq!((c.lr.lr, c.lr.decay, c.content_dir.to_str()), (2e-4, 1e-3, Some("c")));
        let t = T::try_parse_from(["t", "--run-dir", "r", "--steps", "ten"]).unwrap();
        let e = resolve(&t.a).unwrap_err().to_string();
        assert!(e.starts_with("--steps") && e.contains("ten"), "{e}");
    }
}

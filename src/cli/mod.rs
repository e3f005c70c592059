//! Command-line interface: the commands, each in its own file, dispatched from here; their
//! shared options are in [`args`], flags made from settings structs in [`flags`]. Errors are
//! `anyhow` here, at the edge. The light build (no libtorch) has `stylize`, `video`, `serve`
//! and `export` (lite network); the other commands answer with one line that says how to get the full build.

mod args;
#[cfg(feature = "torch")]
mod bench;
#[cfg(feature = "torch")]
mod eval;
mod export;
mod flags;
mod serve;
pub mod stylize;
#[cfg(feature = "torch")]
mod train;
mod video;
#[cfg(feature = "torch")]
mod weights;

use clap::{Parser, Subcommand};

/// AdaIN arbitrary style transfer: repaint any photo in the style of any painting.
#[derive(Parser)]
#[command(name = "adain", version, about)]
#[cfg_attr(not(feature = "torch"), command(after_help = LIGHT_BUILD))]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stylize content images with style images.
    Stylize(stylize::Args),
    /// Stylize a video (file, camera or ffmpeg source) with one style; audio is kept.
    Video(video::Args),
    /// Train a decoder (reconstruction stage, then AdaIN stage).
    #[cfg(feature = "torch")]
    Train(train::Args),
    /// Benchmark against PyTorch eager on the same weights (median time, peak memory).
    #[cfg(feature = "torch")]
    Bench(bench::Args),
    /// Style/content loss of the decoder next to the colour-transfer baseline; grid images.
    #[cfg(feature = "torch")]
    Eval(eval::Args),
    /// Export the network as ONNX (arbitrary style, or a fixed style baked in).
    Export(export::Args),
    /// Web app and HTTP API: upload or webcam, style gallery, sliders, live camera mode.
    Serve(serve::Args),
    /// Manage encoder weights.
    #[cfg(feature = "torch")]
    Weights {
        #[command(subcommand)]
        command: weights::Command,
    },
}

/// What the light build's `--help` adds, and what it answers to the commands it lacks.
#[cfg(not(feature = "torch"))]
const LIGHT_BUILD: &str = "This is the light build (no libtorch): it stylizes, films, serves and exports the lite \
network on this CPU. train, eval, bench and weights, and the vgg and microast networks, are in the full build: \
scripts/setup.sh && cargo build --release (README, Install).";

/// The commands only the full build has.
#[cfg(not(feature = "torch"))]
const FULL_ONLY: [&str; 4] = ["train", "eval", "bench", "weights"];

pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).without_time().init();
    #[cfg(not(feature = "torch"))]
    if let Some(cmd) = std::env::args().nth(1).filter(|c| FULL_ONLY.contains(&c.as_str())) {
        eprintln!(
            "adain: error: `adain {cmd}` needs the full build (libtorch); this light build stylizes with the lite network only: scripts/setup.sh && cargo build --release"
        );
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    // ADAIN_WINOGRAD=0: the direct convolution everywhere (for comparisons; `adain
    // bench --direct` sets it in its workers).
    #[cfg(feature = "torch")]
    if std::env::var("ADAIN_WINOGRAD").is_ok_and(|v| v == "0") {
        adain::model::winograd::set_enabled(false);
    }
    let r = match cli.command {
        Command::Stylize(a) => stylize::run(a),
        #[cfg(feature = "torch")]
        Command::Train(a) => train::run(a),
        Command::Video(a) => video::run(a),
        #[cfg(feature = "torch")]
        Command::Bench(a) => bench::run(a),
        #[cfg(feature = "torch")]
        Command::Eval(a) => eval::run(a),
        Command::Export(a) => export::run(a),
        Command::Serve(a) => serve::run(a),
        #[cfg(feature = "torch")]
        Command::Weights { command } => weights::run(command),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("adain: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

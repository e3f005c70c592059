//! Command-line interface: the commands, each in its own file, dispatched from here; their
//! shared options are in [`args`], flags made from settings structs in [`flags`]. Errors are
//! `anyhow` here, at the edge.

mod args;
mod bench;
mod eval;
mod export;
mod flags;
mod serve;
pub mod stylize;
mod train;
mod video;
mod weights;

use clap::{Parser, Subcommand};

/// AdaIN arbitrary style transfer: repaint any photo in the style of any painting.
#[derive(Parser)]
#[command(name = "adain", version, about)]
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
    Train(train::Args),
    /// Benchmark against PyTorch eager on the same weights (median time, peak memory).
    Bench(bench::Args),
    /// Style/content loss of the decoder next to the colour-transfer baseline; grid images.
    Eval(eval::Args),
    /// Export the network as ONNX (arbitrary style, or a fixed style baked in).
    Export(export::Args),
    /// Web app and HTTP API: upload or webcam, style gallery, sliders, live camera mode.
    Serve(serve::Args),
    /// Manage encoder weights.
    Weights {
        #[command(subcommand)]
        command: weights::Command,
    },
}

pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).without_time().init();
    let cli = Cli::parse();
    // ADAIN_WINOGRAD=0: the direct convolution everywhere (for comparisons; `adain
    // bench --direct` sets it in its workers).
    if std::env::var("ADAIN_WINOGRAD").is_ok_and(|v| v == "0") {
        adain::model::winograd::set_enabled(false);
    }
    let r = match cli.command {
        Command::Stylize(a) => stylize::run(a),
        Command::Train(a) => train::run(a),
        Command::Video(a) => video::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Export(a) => export::run(a),
        Command::Serve(a) => serve::run(a),
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

//! Command-line interface: argument parsing and the shared pieces of every command (device,
//! encoder and decoder resolution). Errors are `anyhow` here, at the edge.

mod bench;
mod eval;
mod export;
mod serve;
pub mod stylize;
mod train;
mod video;
mod weights;

use adain::infer::{Family, Network, NetworkSpec};
use adain::model::Precision;
use adain::weights::LoadedEncoder;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tch::Device;

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

/// Options that pick the networks for inference (stylize, video, serve, eval, export, bench).
#[derive(clap::Args, Clone, Debug)]
pub struct NetworkArgs {
    /// Network: vgg (VGG-16 encoder and decoder) or lite (micro encoders and a modulated
    /// micro decoder, about 20× fewer operations; real time on CPUs and in browsers).
    #[arg(long, default_value = "vgg")]
    pub model: Family,
    /// Trained weights: the decoder for vgg, the whole network for lite (default: the shipped
    /// file in models/).
    #[arg(long, visible_alias = "decoder")]
    pub weights: Option<PathBuf>,
    /// VGG encoder: vgg16 (default, fetched when missing), another name in the cache dir, or a path.
    #[arg(long, default_value = "vgg16")]
    pub encoder: String,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16.
    #[arg(long, default_value = "auto")]
    pub precision: adain::model::Precision,
}

impl NetworkArgs {
    /// The library's description of the network these options name.
    pub fn spec(&self, device: Device) -> NetworkSpec {
        NetworkSpec {
            family: self.model,
            encoder: self.encoder.clone(),
            weights: self.weights.clone(),
            precision: self.precision,
            device,
        }
    }

    /// Loads the network these options name, saying which weights and precision it uses.
    pub fn load(&self, device: Device) -> Result<Network> {
        load_network(&self.spec(device))
    }
}

/// Options that pick the compute device.
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArgs {
    /// cpu, cuda, cuda:N, or auto (cuda when available).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl DeviceArgs {
    pub fn device(&self) -> Result<Device> {
        Ok(match self.device.as_str() {
            "auto" => Device::cuda_if_available(),
            "cpu" => Device::Cpu,
            "cuda" => {
                if !tch::Cuda::is_available() {
                    bail!("--device cuda: no CUDA device is available (libtorch sees none)");
                }
                Device::Cuda(0)
            }
            s if s.starts_with("cuda:") => {
                let i: usize = s[5..].parse().with_context(|| format!("--device {s}: bad device index"))?;
                if i as i64 >= tch::Cuda::device_count() {
                    bail!("--device {s}: only {} CUDA device(s) available", tch::Cuda::device_count());
                }
                Device::Cuda(i)
            }
            s => bail!("--device {s}: expected cpu, cuda, cuda:N or auto"),
        })
    }
}

pub fn load_encoder(spec: &str, device: Device) -> Result<LoadedEncoder> {
    let path = adain::weights::resolve_encoder(spec)?;
    Ok(adain::weights::load_encoder(&path, device)?)
}

/// Loads a network, saying which weights and precision it uses.
pub fn load_network(spec: &NetworkSpec) -> Result<Network> {
    let net = spec.load()?;
    if let Some(p) = net.weights_path() {
        eprintln!("adain: {} network, weights {}", net.family(), p.display());
    }
    if net.precision() == Precision::Bf16 {
        eprintln!("adain: bfloat16 inference (this CPU has native bfloat16; --precision f32 for full precision)");
    }
    Ok(net)
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

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

use adain::infer::Network;
use adain::model::Precision;
use adain::weights::{LoadedDecoder, LoadedEncoder, fetch};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
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

/// Options that pick the networks for inference (stylize, video, serve).
#[derive(clap::Args, Clone, Debug)]
pub struct NetworkArgs {
    /// Decoder weights (default: the shipped decoder for the encoder).
    #[arg(long)]
    pub decoder: Option<PathBuf>,
    /// Encoder: vgg16 (default, fetched when missing), another name in the cache dir, or a path.
    #[arg(long, default_value = "vgg16")]
    pub encoder: String,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16.
    #[arg(long, default_value = "auto")]
    pub precision: adain::model::Precision,
}

impl NetworkArgs {
    /// Loads the encoder and decoder these options name, saying which decoder it uses.
    pub fn load(&self, device: Device) -> Result<Network> {
        load_network(&self.encoder, self.decoder.as_deref(), self.precision, device)
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

/// The decoder shipped with the project, if this build can find it.
pub fn default_decoder(encoder: &str) -> Option<PathBuf> {
    let name = format!("decoder-{encoder}.safetensors");
    let candidates = [
        std::env::var_os("ADAIN_DECODER").map(PathBuf::from),
        Some(fetch::home().join(&name)),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(&name)),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// The decoder file: `--decoder`, or the default one.
fn decoder_path(spec: Option<&Path>, enc: &LoadedEncoder) -> Result<PathBuf> {
    let name = enc.encoder.config().name.clone();
    Ok(match spec {
        Some(p) => p.to_owned(),
        None => default_decoder(&name).with_context(|| {
            format!("no decoder given and no default decoder-{name}.safetensors found (models/ or $ADAIN_HOME); train one with `adain train` or pass --decoder")
        })?,
    })
}

/// Loads `--decoder`, or the default one.
pub fn load_decoder(spec: Option<&Path>, enc: &LoadedEncoder, device: Device) -> Result<LoadedDecoder> {
    Ok(adain::weights::load_decoder(&decoder_path(spec, enc)?, enc.encoder.config(), device)?)
}

/// [`load_network`] without saying anything (the server's workers).
pub fn load_network_quiet(
    encoder: &str,
    decoder: Option<&Path>,
    precision: Precision,
    device: Device,
) -> Result<Network> {
    let enc = load_encoder(encoder, device)?;
    let dec = load_decoder(decoder, &enc, device)?;
    Ok(Network::new(enc, dec, precision))
}

/// Loads the encoder and the decoder (`--decoder`, or the default one) in the requested
/// precision; says which decoder and precision are used.
pub fn load_network(encoder: &str, decoder: Option<&Path>, precision: Precision, device: Device) -> Result<Network> {
    let enc = load_encoder(encoder, device)?;
    let dec = load_decoder(decoder, &enc, device)?;
    eprintln!("adain: decoder {}", decoder_path(decoder, &enc)?.display());
    let net = Network::new(enc, dec, precision);
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

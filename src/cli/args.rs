//! Options shared by the commands: the network (`--model`, `--weights`, `--encoder`,
//! `--precision`) and the device, and loading what they name.

#[cfg(not(feature = "torch"))]
use adain::infer::Device;
use adain::infer::{Family, Network, NetworkSpec};
use adain::model::Precision;
#[cfg(feature = "torch")]
use adain::weights::LoadedEncoder;
#[cfg(feature = "torch")]
use anyhow::Context;
use anyhow::{Result, bail};
use std::path::PathBuf;
#[cfg(feature = "torch")]
use tch::Device;

/// The default `--model`: the VGG model in the full build, the lite network (the only one)
/// in the light build.
#[cfg(feature = "torch")]
const DEFAULT_MODEL: &str = "vgg";
#[cfg(not(feature = "torch"))]
const DEFAULT_MODEL: &str = "lite";

/// Options that pick the networks for inference (stylize, video, serve, eval, export, bench).
#[derive(clap::Args, Clone, Debug)]
pub struct NetworkArgs {
    /// Network: vgg (VGG-16 encoder and decoder) or lite (micro encoders and a modulated
    /// micro decoder, about 20× fewer operations; real time on CPUs and in browsers). The
    /// light build has lite only.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: Family,
    /// Trained weights: the decoder for vgg, the whole network for lite (default: the shipped
    /// file in models/).
    #[arg(long, visible_alias = "decoder")]
    pub weights: Option<PathBuf>,
    /// VGG encoder: vgg16 (default, fetched when missing), another name in the cache dir, or a path.
    #[arg(long, default_value_t = NetworkSpec::default().encoder)]
    pub encoder: String,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16.
    #[arg(long, default_value_t)]
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
    /// The light build computes on this CPU: `cpu` and `auto` are it, CUDA needs libtorch.
    #[cfg(not(feature = "torch"))]
    pub fn device(&self) -> Result<Device> {
        match self.device.as_str() {
            "auto" | "cpu" => Ok(Device::Cpu),
            s => bail!("--device {s}: the light build runs on the CPU only (cpu or auto; CUDA needs the full build)"),
        }
    }

    #[cfg(feature = "torch")]
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

#[cfg(feature = "torch")]
pub fn load_encoder(spec: &str, device: Device) -> Result<LoadedEncoder> {
    Ok(adain::weights::load_encoder(&encoder_path(spec)?, device)?)
}

/// The weights file of an encoder spec; the default `vgg16` is fetched first when missing
/// (the library only reads: fetching, with its download and messages, is the front ends').
#[cfg(feature = "torch")]
pub fn encoder_path(spec: &str) -> Result<std::path::PathBuf> {
    if spec == "vgg16" {
        return Ok(adain::weights::fetch::ensure(None, false)?);
    }
    Ok(adain::weights::resolve_encoder(spec)?)
}

/// Fetches what loading `spec` needs and this machine lacks (the VGG model's default encoder).
#[cfg(feature = "torch")]
pub fn fetch_for(spec: &NetworkSpec) -> Result<()> {
    if spec.family == adain::infer::Family::Vgg {
        encoder_path(&spec.encoder)?;
    }
    Ok(())
}

/// The light build loads nothing it would fetch (its lite weights are built in).
#[cfg(not(feature = "torch"))]
pub fn fetch_for(_spec: &NetworkSpec) -> Result<()> {
    Ok(())
}

/// Loads a network, saying which weights and precision it uses.
pub fn load_network(spec: &NetworkSpec) -> Result<Network> {
    fetch_for(spec)?;
    let net = spec.load()?;
    #[cfg(feature = "torch")]
    if let Some(p) = net.weights_path() {
        eprintln!("adain: {} network, weights {}", net.family(), p.display());
    }
    #[cfg(not(feature = "torch"))]
    eprintln!("adain: {} (light build, float32)", net.describe());
    if net.precision() == Precision::Bf16 {
        eprintln!("adain: bfloat16 inference (this CPU has native bfloat16; --precision f32 for full precision)");
    }
    Ok(net)
}

//! `adain export`: ONNX models for onnxruntime / OpenVINO (and from there edge devices).

use adain::data::image as img;
use adain::export::onnx::{self, OnnxOptions};
use adain::infer::{Method, NetworkSpec, Settings, StyleCode, StyleSpec, Stylizer};
use adain::model::Precision;
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use tch::Device;

#[derive(clap::Args)]
pub struct Args {
    /// Output .onnx file.
    #[arg(long, short)]
    output: PathBuf,
    /// Bake this style in (fixed-style model with one input, `content`).
    #[arg(long, short)]
    style: Option<PathBuf>,
    /// Shorter side of the baked style image.
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    /// α baked into a fixed-style model.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// float16 weights and arithmetic (inputs and output stay float32).
    #[arg(long)]
    half: bool,
    #[command(flatten)]
    net: super::NetworkArgs,
}

pub fn run(a: Args) -> Result<ExitCode> {
    // The graph is written in float32 (or float16 with --half), whatever --precision says.
    let spec = NetworkSpec { precision: Precision::F32, ..a.net.spec(Device::Cpu) };
    let network = super::load_network(&spec)?;
    let Some((encoder, decoder)) = network.vgg_parts() else {
        bail!("ONNX export of the {} network is not available yet (use --model vgg)", network.family());
    };
    let fixed_style = match &a.style {
        Some(p) => {
            let stylizer = Stylizer::new(Method::Network(&network), Settings { alpha: a.alpha, ..Default::default() })?;
            let prepared = stylizer.prepare(StyleSpec::Single(img::load_sized(p, a.style_size, false)?))?;
            match prepared.global_code() {
                Some(StyleCode::Vgg(stats)) => Some((stats.clone(), a.alpha)),
                _ => bail!("the style could not be reduced to VGG statistics"),
            }
        }
        None => None,
    };
    let kind = if fixed_style.is_some() { "fixed-style" } else { "arbitrary-style" };
    onnx::export(encoder, decoder, &OnnxOptions { fixed_style, half: a.half }, &a.output)?;
    println!(
        "{}: {kind} ONNX model (opset {}{})",
        a.output.display(),
        onnx::OPSET,
        if a.half { ", float16" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

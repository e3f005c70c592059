//! `adain export`: ONNX models for onnxruntime / OpenVINO (and from there edge devices).

use adain::data::image as img;
use adain::export::onnx::{self, OnnxOptions};
use adain::infer::{Method, Network, Settings, StyleSpec, Stylizer};
use adain::model::Precision;
use anyhow::Result;
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
    #[arg(long)]
    decoder: Option<PathBuf>,
    #[arg(long, default_value = "vgg16")]
    encoder: String,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let enc = super::load_encoder(&a.encoder, Device::Cpu)?;
    let dec = super::load_decoder(a.decoder.as_deref(), &enc, Device::Cpu)?;
    eprintln!(
        "adain: decoder {}",
        a.decoder.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "(the default one)".into())
    );
    let network = Network::new(enc, dec, Precision::F32);
    let fixed_style = match &a.style {
        Some(p) => {
            let stylizer = Stylizer::new(Method::Network(&network), Settings { alpha: a.alpha, ..Default::default() })?;
            let prepared = stylizer.prepare(StyleSpec::Single(img::load_sized(p, a.style_size, false)?))?;
            Some((prepared.global_stats().expect("a single style has global statistics").clone(), a.alpha))
        }
        None => None,
    };
    let kind = if fixed_style.is_some() { "fixed-style" } else { "arbitrary-style" };
    onnx::export(&network.encoder, &network.decoder, &OnnxOptions { fixed_style, half: a.half }, &a.output)?;
    println!(
        "{}: {kind} ONNX model (opset {}{})",
        a.output.display(),
        onnx::OPSET,
        if a.half { ", float16" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

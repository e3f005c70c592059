//! `adain export`: ONNX models for onnxruntime / OpenVINO (and from there edge devices).

use adain::data::image as img;
use adain::export::onnx::{self, OnnxOptions};
use adain::export::onnx_lite;
use adain::infer::{Family, Method, NetworkSpec, Settings, StyleCode, StyleSpec, Stylizer};
use adain::model::Precision;
use anyhow::{Context, Result, bail};
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
    let fixed_code = match &a.style {
        Some(p) => {
            let stylizer = Stylizer::new(Method::Network(&network), Settings { alpha: a.alpha, ..Default::default() })?;
            let prepared = stylizer.prepare(StyleSpec::Single(img::load_sized(p, a.style_size, false)?))?;
            Some(prepared.global_code().cloned().context("a single style has one code")?)
        }
        None => None,
    };
    let kind = if fixed_code.is_some() { "fixed-style" } else { "arbitrary-style" };
    match (network.family(), fixed_code) {
        (Family::Vgg, code) => {
            let (encoder, decoder) = network.vgg_parts().context("a vgg network")?;
            let fixed_style = match code {
                Some(StyleCode::Vgg(stats)) => Some((stats, a.alpha)),
                Some(_) => bail!("the style code is not a VGG one"),
                None => None,
            };
            onnx::export(encoder, decoder, &OnnxOptions { fixed_style, half: a.half }, &a.output)?;
        }
        (Family::Lite, code) => {
            let lite = network.lite_parts().context("a lite network")?;
            let fixed = match code {
                Some(StyleCode::Lite(style)) => Some((style, a.alpha)),
                Some(_) => bail!("the style code is not a lite one"),
                None => None,
            };
            onnx::write(&onnx_lite::build(lite, fixed.as_ref(), a.half)?, &a.output)?;
        }
        (family, _) => bail!("ONNX export of the {family} network is not available (use --model vgg or lite)"),
    }
    println!(
        "{}: {kind} ONNX model (opset {}{})",
        a.output.display(),
        onnx::OPSET,
        if a.half { ", float16" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

//! `adain export`: ONNX models for onnxruntime / OpenVINO (and from there edge devices).

use super::flags::{FlagSet, SettingFlags};
use adain::data::image as img;
use adain::export::{self as onnx, onnx_lite};
use adain::infer::{Device, Family, Method, NetworkSpec, Settings, StyleSpec, Stylizer};
use adain::model::Precision;
use adain::model::light::LiteStyle;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Output .onnx file.
    #[arg(long, short, required_unless_present = "web")]
    output: Option<PathBuf>,
    /// Instead: the page as a static site in this new folder (page, onnxruntime-web, the lite
    /// network in float16 — `--weights` picks its file —, the gallery): any static file server
    /// serves it (`python3 -m http.server`), and the visitor's browser does the work.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "style", "half"])]
    web: Option<PathBuf>,
    /// With --web: also this folder's images in the site's gallery (named by its gallery.toml
    /// when it has one, as `adain serve --styles`).
    #[arg(long, value_name = "DIR", requires = "web")]
    styles: Option<PathBuf>,
    /// Bake this style in (fixed-style model with one input, `content`).
    #[arg(long, short)]
    style: Option<PathBuf>,
    /// float16 weights and arithmetic (inputs and output stay float32).
    #[arg(long)]
    half: bool,
    #[command(flatten)]
    net: super::args::NetworkArgs,
    #[command(flatten)]
    settings: SettingFlags<ExportFlags>,
}

/// The stylize settings baked into a fixed-style model.
pub struct ExportFlags;

impl FlagSet for ExportFlags {
    type S = Settings;
    const KEYS: Option<&'static [&'static str]> = Some(&["alpha", "style_size"]);
    const HEADING: &'static str = "Settings baked into a fixed-style model (with --style)";
}

pub fn run(a: Args) -> Result<ExitCode> {
    if let Some(dir) = &a.web {
        return web(&a, dir);
    }
    let output = a.output.clone().context("--output")?;
    // The graph is written in float32 (or float16 with --half), whatever --precision says.
    let spec = NetworkSpec { precision: Precision::F32, ..a.net.spec(Device::Cpu) };
    let network = super::args::load_network(&spec)?;
    let settings = a.settings.resolve_for(network.family())?;
    let (alpha, style_size) = (settings.alpha, settings.style_size);
    let fixed_code = match &a.style {
        Some(p) => {
            let stylizer = Stylizer::new(Method::Network(&network), settings)?;
            let prepared = stylizer.prepare(StyleSpec::Single(img::load_sized(p, style_size, false)?))?;
            Some(prepared.global_code().cloned().context("a single style has one code")?)
        }
        None => None,
    };
    let kind = if fixed_code.is_some() { "fixed-style" } else { "arbitrary-style" };
    match (network.family(), fixed_code) {
        #[cfg(feature = "torch")]
        (Family::Vgg, code) => {
            use adain::export::onnx::{OnnxOptions, export};
            let (encoder, decoder) = network.vgg_parts().context("a vgg network")?;
            let fixed_style = match code {
                Some(code) if code.family() == Family::Vgg => Some((code.adain_level().clone(), alpha)),
                Some(_) => bail!("the style code is not a VGG one"),
                None => None,
            };
            export(encoder, decoder, &OnnxOptions { fixed_style, half: a.half }, &output)?;
        }
        (Family::Lite, code) => {
            let fixed = match code {
                Some(code) => Some((LiteStyle::from_vecs(&code.to_vecs()).context("a lite style code")?, alpha)),
                None => None,
            };
            onnx::write(&onnx_lite::build(&spec.lite_store()?, fixed.as_ref(), a.half)?, &output)?;
        }
        (family, _) => bail!("ONNX export of the {family} network is not available (use --model vgg or lite)"),
    }
    println!(
        "{}: {kind} ONNX model (opset {}{})",
        output.display(),
        onnx::OPSET,
        if a.half { ", float16" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `--web DIR`: the static site, with the lite network.
fn web(a: &Args, dir: &std::path::Path) -> Result<ExitCode> {
    let spec = NetworkSpec { family: Family::Lite, precision: Precision::F32, ..a.net.spec(Device::Cpu) };
    let n =
        crate::server::site::write(dir, &adain::export::web::lite_graphs(&spec.lite_store()?)?, a.styles.as_deref())?;
    println!(
        "{}: static site ({n} gallery images, onnxruntime-web {}); serve it with e.g. `python3 -m http.server -d {}`",
        dir.display(),
        adain::export::web::ORT_VERSION,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

//! `adain eval`: style and content loss of adain's results next to the colour-transfer
//! baseline on (held-out) pairs, and optionally a styles × contents grid image.

use super::DeviceArgs;
use adain::data::image as img;
use adain::infer::evaluate::{self, Scores};
use adain::infer::stylize::{self, Method, StyleInput, StylizeOptions};
use adain::model::StyleTransfer;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Tab-separated `content<TAB>style` lines (a run's validation-pairs.tsv).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Or: content images (file or folder) …
    #[arg(long, short)]
    content: Option<PathBuf>,
    /// … and style images (file or folder); every content × every style.
    #[arg(long, short)]
    style: Option<PathBuf>,
    /// Shorter side of contents and styles.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Write a styles × contents grid image here (with --content/--style).
    #[arg(long)]
    grid: Option<PathBuf>,
    #[arg(long)]
    decoder: Option<PathBuf>,
    #[arg(long, default_value = "vgg16")]
    encoder: String,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16.
    #[arg(long, value_enum, default_value = "f32")]
    precision: adain::model::Precision,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let device = a.device.device()?;
    let (pairs, contents, styles): (Vec<(PathBuf, PathBuf)>, Vec<PathBuf>, Vec<PathBuf>) = match (&a.pairs, &a.content, &a.style) {
        (Some(p), None, None) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let pairs: Vec<(PathBuf, PathBuf)> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split_once('\t').map(|(c, s)| (PathBuf::from(c), PathBuf::from(s))))
                .collect::<Option<_>>()
                .with_context(|| format!("{}: expected content<TAB>style lines", p.display()))?;
            (pairs, vec![], vec![])
        }
        (None, Some(c), Some(s)) => {
            let cs = img::list_images(c)?;
            let ss = img::list_images(s)?;
            let pairs = ss.iter().flat_map(|s| cs.iter().map(move |c| (c.clone(), s.clone()))).collect();
            (pairs, cs, ss)
        }
        _ => bail!("give --pairs FILE, or --content and --style"),
    };
    let mut enc = super::load_encoder(&a.encoder, device)?;
    let mut dec = super::load_decoder(a.decoder.as_deref(), &enc, device)?;
    super::apply_precision(a.precision, device, &mut enc, &mut dec);
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    let mut sums = [Scores::default(); 3];
    let mut outputs = Vec::new();
    for (c, s) in &pairs {
        let ci = stylize::load(c, a.size, false)?;
        let si = stylize::load(s, a.size, false)?;
        let (ct, st) = (img::to_tensor(&ci).to_device(device), img::to_tensor(&si).to_device(device));
        let style = [StyleInput { image: si.clone(), weight: 1.0 }];
        for (k, method) in [Method::Adain, Method::ColorTransfer].into_iter().enumerate() {
            let opts = StylizeOptions { content_size: a.size, style_size: a.size, method, ..Default::default() };
            let out = stylize::stylize(Some(&net), device, &ci, &style, &opts)?;
            let sc = evaluate::score(&enc.encoder, &img::to_tensor(&out).to_device(device), &ct, &st);
            sums[k].style += sc.style;
            sums[k].content += sc.content;
            if method == Method::Adain {
                outputs.push(out);
            }
        }
        let sc = evaluate::score(&enc.encoder, &ct, &ct, &st);
        sums[2].style += sc.style;
        sums[2].content += sc.content;
    }
    let n = pairs.len() as f64;
    println!("{} pairs at {} px (means; lower is better)", pairs.len(), a.size);
    println!("{:<28} {:>12} {:>12}", "method", "style loss", "content loss");
    for (name, s) in ["adain (decoder)", "color-transfer baseline", "content unchanged"].iter().zip(&sums) {
        println!("{name:<28} {:>12.3} {:>12.3}", s.style / n, s.content / n);
    }
    if let Some(g) = &a.grid {
        if contents.is_empty() {
            bail!("--grid needs --content and --style");
        }
        let load = |p: &PathBuf| stylize::load(p, a.size, false);
        let cs: Vec<_> = contents.iter().map(load).collect::<adain::Result<_>>()?;
        let ss: Vec<_> = styles.iter().map(load).collect::<adain::Result<_>>()?;
        let cells: Vec<Vec<_>> = outputs.chunks(contents.len()).map(|c| c.to_vec()).collect();
        let grid = evaluate::grid(&cs, &ss, &cells, a.size.min(256));
        img::save(&image::DynamicImage::ImageRgb8(grid).to_rgb32f(), g)?;
        println!("grid: {}", g.display());
    }
    Ok(ExitCode::SUCCESS)
}

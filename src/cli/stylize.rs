//! `adain stylize`: every content × every style, or one content with interpolated / masked styles.

use super::DeviceArgs;
use adain::data::image as img;
use adain::infer::stylize::{self, Method, StyleInput, StylizeOptions};
use adain::model::StyleTransfer;
use anyhow::{bail, Result};
use image::Rgb32FImage;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The content, then the style(s), as with -c and -s: `adain stylize photo.jpg painting.jpg`.
    #[arg(value_name = "CONTENT STYLE", conflicts_with_all = ["content", "style"])]
    inputs: Vec<PathBuf>,
    /// Content image, or a directory of them.
    #[arg(long, short)]
    content: Option<PathBuf>,
    /// Style image(s) or directories. Without --style-weights/--mask every content is paired
    /// with every style.
    #[arg(long, short, num_args = 1..)]
    style: Vec<PathBuf>,
    /// Output directory, or a file name (.png/.jpg) when there is a single result.
    #[arg(long, short, default_value = "output")]
    output: PathBuf,
    /// Shorter side of the content before stylizing; the output has this size (0 = original size).
    #[arg(long, default_value_t = 512)]
    content_size: u32,
    /// Shorter side of the style before encoding (0 = original size).
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    /// Centre-crop content and style to squares of their sizes.
    #[arg(long)]
    crop: bool,
    /// Style strength in [0, 1].
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Interpolate the given styles with these weights (comma-separated, one per style).
    #[arg(long)]
    style_weights: Option<String>,
    /// Keep the content's colours.
    #[arg(long)]
    preserve_color: bool,
    /// Mask image for two styles: white areas take the first style, black the second.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Decoder weights (default: the shipped decoder for the encoder).
    #[arg(long)]
    decoder: Option<PathBuf>,
    /// Encoder: vgg16 (default, fetched when missing), another name in the cache dir, or a path.
    #[arg(long, default_value = "vgg16")]
    encoder: String,
    /// adain, or the color-transfer baseline.
    #[arg(long, value_enum, default_value_t = Method::Adain)]
    method: Method,
    /// Process large images in tiles (same result, bounded memory): auto (tiles of 512 above
    /// 1536² pixels), off, or a tile size in pixels.
    #[arg(long, default_value = "auto")]
    tile: stylize::Tile,
    /// Output file extension when writing into a directory.
    #[arg(long, default_value = "png")]
    ext: String,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16.
    #[arg(long, value_enum, default_value = "auto")]
    precision: adain::model::Precision,
    #[command(flatten)]
    device: DeviceArgs,
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "style".into())
}

impl Args {
    /// The content and the style arguments, from the positional form or from -c/-s.
    fn content_and_styles(&self) -> Result<(&Path, &[PathBuf])> {
        match (self.inputs.as_slice(), &self.content) {
            ([], Some(c)) if !self.style.is_empty() => Ok((c, &self.style)),
            ([], _) => bail!("give a content and a style: `adain stylize photo.jpg painting.jpg` or -c photo.jpg -s painting.jpg"),
            ([c], _) => bail!("{}: a style image is missing after the content (`adain stylize CONTENT STYLE...`)", c.display()),
            ([c, styles @ ..], _) => Ok((c, styles)),
        }
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    let (content_arg, style_args) = a.content_and_styles()?;
    if !(0.0..=1.0).contains(&a.alpha) {
        bail!("--alpha {} must be in [0, 1]", a.alpha);
    }
    let device = a.device.device()?;
    let opts = StylizeOptions {
        content_size: a.content_size,
        style_size: a.style_size,
        crop: a.crop,
        alpha: a.alpha,
        preserve_color: a.preserve_color,
        method: a.method,
        tile: a.tile,
    };
    let contents = img::list_images(content_arg)?;
    let mut styles = Vec::new();
    for s in style_args {
        styles.extend(img::list_images(s)?);
    }
    let combined = a.style_weights.is_some() || a.mask.is_some();
    if a.mask.is_some() && styles.len() != 2 {
        bail!("--mask needs exactly two styles (foreground, background), got {}", styles.len());
    }
    let weights = match &a.style_weights {
        Some(w) => stylize::parse_weights(w, styles.len())?,
        None => vec![1.0; styles.len()],
    };
    let n_out = if combined { contents.len() } else { contents.len() * styles.len() };
    let output_is_file = image::ImageFormat::from_path(&a.output).is_ok() && !a.output.is_dir();
    if output_is_file && n_out > 1 {
        bail!("--output {} is a file name, but there are {n_out} results: give a directory", a.output.display());
    }

    let (enc, dec) = if a.method == Method::Adain {
        let mut enc = super::load_encoder(&a.encoder, device)?;
        let mut dec = super::load_decoder(a.decoder.as_deref(), &enc, device)?;
        super::apply_precision(a.precision, device, &mut enc, &mut dec);
        (Some(enc), Some(dec))
    } else {
        (None, None)
    };
    let net = match (&enc, &dec) {
        (Some(e), Some(d)) => Some(StyleTransfer { encoder: &e.encoder, decoder: &d.decoder }),
        _ => None,
    };
    let mask = a.mask.as_deref().map(img::open).transpose()?;
    let name_of = |content: &Path, style: &str| -> PathBuf {
        if output_is_file { a.output.clone() } else { a.output.join(stylize::output_name(content, style, &a.ext)) }
    };
    // Styles are loaded once; unreadable ones are reported and skipped.
    let mut failed = 0usize;
    let mut loaded: Vec<(PathBuf, Rgb32FImage, f64)> = Vec::new();
    for (p, w) in styles.iter().zip(&weights) {
        match stylize::load(p, a.style_size, a.crop) {
            Ok(im) => loaded.push((p.clone(), im, *w)),
            Err(e) => {
                eprintln!("adain: error: {e}");
                failed += 1;
            }
        }
    }
    if combined && failed > 0 {
        bail!("a style needed for the combined result could not be read");
    }
    // Style statistics are computed once per style (or once for the mix) and reused for every
    // content, unless colours are preserved (then the style is recoloured per content).
    let reusable = net.is_some() && !opts.preserve_color && a.mask.is_none();
    let cached: Vec<Option<adain::model::Stats>> = match (&net, reusable, combined) {
        (Some(net), true, true) => {
            let ins: Vec<StyleInput> = loaded.iter().map(|(_, im, w)| StyleInput { image: im.clone(), weight: *w }).collect();
            vec![Some(stylize::style_stats(net, device, &ins, None))]
        }
        (Some(net), true, false) => loaded
            .iter()
            .map(|(_, im, _)| Some(stylize::style_stats(net, device, &[StyleInput { image: im.clone(), weight: 1.0 }], None)))
            .collect(),
        _ => vec![None; if combined { 1 } else { loaded.len() }],
    };
    let pb = if n_out > 1 { ProgressBar::new(n_out as u64) } else { ProgressBar::hidden() };
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap());
    let mut written = 0usize;
    for c in &contents {
        let content = match stylize::load(c, a.content_size, a.crop) {
            Ok(im) => im,
            Err(e) => {
                pb.suspend(|| eprintln!("adain: error: {e}"));
                failed += 1;
                pb.inc(if combined { 1 } else { loaded.len() as u64 });
                continue;
            }
        };
        let jobs: Vec<(String, Rgb32FImage)> = if combined {
            let label = loaded.iter().map(|(p, _, _)| stem(p)).collect::<Vec<_>>().join("+");
            let out = match (&mask, &net, &cached.first()) {
                (Some(m), Some(net), _) => stylize::stylize_masked(net, device, &content, &loaded[0].1, &loaded[1].1, m, &opts),
                (Some(_), None, _) => bail!("--mask works with --method adain only"),
                (None, Some(net), Some(Some(stats))) => stylize::stylize_with_stats(net, device, &content, stats, opts.alpha, opts.tile),
                (None, _, _) => {
                    let ins: Vec<StyleInput> = loaded.iter().map(|(_, im, w)| StyleInput { image: im.clone(), weight: *w }).collect();
                    stylize::stylize(net.as_ref(), device, &content, &ins, &opts)?
                }
            };
            vec![(label, out)]
        } else {
            let mut v = Vec::new();
            for ((p, im, _), stats) in loaded.iter().zip(&cached) {
                let out = match (&net, stats) {
                    (Some(net), Some(stats)) => stylize::stylize_with_stats(net, device, &content, stats, opts.alpha, opts.tile),
                    _ => stylize::stylize(net.as_ref(), device, &content, &[StyleInput { image: im.clone(), weight: 1.0 }], &opts)?,
                };
                v.push((stem(p), out));
            }
            v
        };
        for (label, out) in jobs {
            let path = name_of(c, &label);
            pb.set_message(path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
            match img::save(&out, &path) {
                Ok(()) => {
                    written += 1;
                    if n_out == 1 {
                        println!("{}", path.display());
                    }
                }
                Err(e) => {
                    pb.suspend(|| eprintln!("adain: error: {e}"));
                    failed += 1;
                }
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    if n_out > 1 {
        println!("wrote {written} image(s) to {}", a.output.display());
    }
    if failed > 0 {
        eprintln!("adain: {failed} input(s) failed");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

//! `adain stylize`: every content × every style, or one content with interpolated / masked
//! styles. Parses, prepares each style once through the library's [`Stylizer`], then loops
//! over the contents and saves.

use super::args::DeviceArgs;
use super::flags::{FlagSet, SettingFlags, flag_error};
use adain::data::image as img;
use adain::infer::{Method, PreparedStyle, Settings, StyleSpec, Stylizer};
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The AdaIN network.
    Adain,
    /// Baseline: content pixels re-scaled to the style's per-channel mean/std.
    ColorTransfer,
}

/// `--style-weights 1,3`: one non-negative weight per style.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleWeights(pub Vec<f64>);

impl std::str::FromStr for StyleWeights {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let w: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{s:?}: expected comma-separated numbers"))?;
        if w.iter().any(|x| *x < 0.0 || !x.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
            return Err(format!("{s:?}: weights must be non-negative and not all zero"));
        }
        Ok(Self(w))
    }
}

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
    /// Centre-crop content and style to squares of their sizes.
    #[arg(long)]
    crop: bool,
    /// Interpolate the given styles with these weights (comma-separated, one per style).
    #[arg(long)]
    style_weights: Option<StyleWeights>,
    /// Mask image for two styles: white areas take the first style, black the second.
    #[arg(long)]
    mask: Option<PathBuf>,
    #[command(flatten)]
    net: super::args::NetworkArgs,
    /// adain, or the color-transfer baseline.
    #[arg(long, value_enum, default_value_t = MethodArg::Adain)]
    method: MethodArg,
    /// Output file extension when writing into a directory.
    #[arg(long, default_value = "png")]
    ext: String,
    /// Refuse input images whose header declares more pixels than this (decompression bombs
    /// are refused before their pixels are decoded).
    #[arg(long, default_value_t = img::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    #[command(flatten)]
    settings: SettingFlags<StylizeFlags>,
    #[command(flatten)]
    device: DeviceArgs,
}

/// The stylize settings `adain stylize` takes as flags.
pub struct StylizeFlags;

impl FlagSet for StylizeFlags {
    type S = Settings;
    const KEYS: Option<&'static [&'static str]> =
        Some(&["alpha", "content_size", "style_size", "preserve_color", "match_palette", "tile"]);
    const EQUALS_ONLY: bool = true;
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "style".into())
}

/// Output file name for a pair, as pytorch-AdaIN names it: `{content}_stylized_{style}.{ext}`.
pub fn output_name(content: &Path, style: &str, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}_stylized_{style}.{ext}", stem(content)))
}

impl Args {
    /// The content and the style arguments, from the positional form or from -c/-s.
    fn content_and_styles(&self) -> Result<(&Path, &[PathBuf])> {
        match (self.inputs.as_slice(), &self.content) {
            ([], Some(c)) if !self.style.is_empty() => Ok((c, &self.style)),
            ([], _) => bail!(
                "give a content and a style: `adain stylize photo.jpg painting.jpg` or -c photo.jpg -s painting.jpg"
            ),
            ([c], _) => {
                bail!("{}: a style image is missing after the content (`adain stylize CONTENT STYLE...`)", c.display())
            }
            ([c, styles @ ..], _) => Ok((c, styles)),
        }
    }

    /// True when the styles make one combined result per content.
    fn combined(&self) -> bool {
        self.style_weights.is_some() || self.mask.is_some()
    }

    /// The content and style files, the number of results, and whether `--output` names one
    /// file (checked against that number).
    fn plan(&self) -> Result<(Vec<PathBuf>, Vec<PathBuf>, usize, bool)> {
        let (content_arg, style_args) = self.content_and_styles()?;
        let contents = img::list_images(content_arg)?;
        let mut styles = Vec::new();
        for s in style_args {
            styles.extend(img::list_images(s)?);
        }
        let n_out = contents.len() * if self.combined() { 1 } else { styles.len() };
        let output_is_file = image::ImageFormat::from_path(&self.output).is_ok() && !self.output.is_dir();
        if output_is_file && n_out > 1 {
            bail!("--output {} is a file name, but there are {n_out} results: give a directory", self.output.display());
        }
        Ok((contents, styles, n_out, output_is_file))
    }

    /// Value checks clap cannot express (the settings' own are [`Settings::validate`]'s).
    fn validate(&self) -> Result<()> {
        if self.mask.is_some() && self.method != MethodArg::Adain {
            bail!("--mask works with --method adain only");
        }
        Ok(())
    }

    /// The style specifications, each with its output label: one per style file, or one
    /// combined (weighted or masked). Unreadable styles are reported and skipped (counted in
    /// the second value), except in a combination, which needs all of them.
    fn style_specs(&self, styles: &[PathBuf], style_size: u32) -> Result<(Vec<(String, StyleSpec)>, usize)> {
        if self.mask.is_some() && styles.len() != 2 {
            bail!("--mask needs exactly two styles (foreground, background), got {}", styles.len());
        }
        if let Some(w) = self.style_weights.as_ref().filter(|w| w.0.len() != styles.len()) {
            bail!("--style-weights has {} values for {} styles", w.0.len(), styles.len());
        }
        let load = |p: &PathBuf| img::load_sized_limited(p, style_size, self.crop, self.max_pixels);
        if self.combined() {
            let images = styles.iter().map(load).collect::<adain::Result<Vec<_>>>()?;
            let label = styles.iter().map(|p| stem(p)).collect::<Vec<_>>().join("+");
            let spec = match (&self.mask, &self.style_weights) {
                (Some(m), _) => {
                    let [fg, bg]: [_; 2] = images.try_into().expect("two styles");
                    StyleSpec::Masked { fg, bg, mask: img::open_limited(m, self.max_pixels)? }
                }
                (None, Some(w)) => StyleSpec::Mix(images.into_iter().zip(w.0.iter().copied()).collect()),
                (None, None) => unreachable!("combined() needs a mask or weights"),
            };
            return Ok((vec![(label, spec)], 0));
        }
        let mut specs = Vec::new();
        let mut failed = 0;
        for p in styles {
            match load(p) {
                Ok(im) => specs.push((stem(p), StyleSpec::Single(im))),
                Err(e) => {
                    eprintln!("adain: error: {e}");
                    failed += 1;
                }
            }
        }
        Ok((specs, failed))
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    a.validate()?;
    let settings = a.settings.resolve_for(a.net.model)?;
    settings.validate().map_err(flag_error)?;
    let device = a.device.device()?;
    let (contents, styles, n_out, output_is_file) = a.plan()?;
    let network = match a.method {
        MethodArg::Adain => Some(a.net.load(device)?),
        MethodArg::ColorTransfer => None,
    };
    let method = match &network {
        Some(n) => Method::Network(n),
        None => Method::ColorTransfer,
    };
    let (content_size, style_size) = (settings.content_size, settings.style_size);
    let stylizer = Stylizer::new(method, settings)?;
    let (specs, mut failed) = a.style_specs(&styles, style_size)?;
    // Each style's statistics are computed here once and reused for every content.
    let prepared: Vec<(String, PreparedStyle)> =
        specs.into_iter().map(|(l, s)| Ok((l, stylizer.prepare(s)?))).collect::<Result<_>>()?;
    // Outputs never replace an input (`-o photo.jpg` with photo.jpg as the content).
    let inputs: std::collections::HashSet<PathBuf> =
        contents.iter().chain(&styles).chain(a.mask.iter()).filter_map(|p| p.canonicalize().ok()).collect();
    let name_of = |content: &Path, style: &str| -> PathBuf {
        if output_is_file { a.output.clone() } else { a.output.join(output_name(content, style, &a.ext)) }
    };
    let pb = progress(n_out);
    let mut written = 0usize;
    let mut fail = |e: String| {
        pb.suspend(|| eprintln!("adain: error: {e}"));
        failed += 1;
    };
    for c in &contents {
        let content = match img::load_sized_limited(c, content_size, a.crop, a.max_pixels) {
            Ok(im) => im,
            Err(e) => {
                fail(e.to_string());
                pb.inc(prepared.len() as u64);
                continue;
            }
        };
        for (label, style) in &prepared {
            let path = name_of(c, label);
            pb.set_message(path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
            let result = if path.canonicalize().is_ok_and(|p| inputs.contains(&p)) {
                Err(format!("{}: is one of the inputs; nothing was written (choose another --output)", path.display()))
            } else {
                stylizer.stylize(&content, style).and_then(|out| img::save(&out, &path)).map_err(|e| e.to_string())
            };
            match result {
                Ok(()) if n_out == 1 => println!("{}", path.display()),
                Ok(()) => written += 1,
                Err(e) => fail(e),
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    Ok(summary(n_out, written, failed, &a.output))
}

/// A progress bar for more than one result.
fn progress(n_out: usize) -> ProgressBar {
    let pb = if n_out > 1 { ProgressBar::new(n_out as u64) } else { ProgressBar::hidden() };
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap());
    pb
}

/// The closing lines: how many images went where, and a failing status when any input failed.
fn summary(n_out: usize, written: usize, failed: usize, output: &Path) -> ExitCode {
    if n_out > 1 {
        println!("wrote {written} image(s) to {}", output.display());
    }
    if failed > 0 {
        eprintln!("adain: {failed} input(s) failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

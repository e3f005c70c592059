//! Image-level stylization: sizing, colour preservation, style interpolation and masks around
//! the [`StyleTransfer`] network.

use super::color;
use crate::data::image as img;
use crate::error::{Error, Result};
use crate::model::adain::Stats;
use crate::model::StyleTransfer;
use image::Rgb32FImage;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// How to stylize.
#[derive(Debug, Clone)]
pub struct StylizeOptions {
    /// Shorter side of the content before stylizing (0 = keep). The output has this size.
    pub content_size: u32,
    /// Shorter side of the style before encoding (0 = keep).
    pub style_size: u32,
    /// Centre-crop both to squares of these sizes.
    pub crop: bool,
    /// Content–style trade-off in [0, 1] (1 = full style).
    pub alpha: f64,
    /// Keep the content's colours (CORAL on the style image first).
    pub preserve_color: bool,
    /// Which method to run.
    pub method: Method,
    /// Tiled processing for large images (bounded memory, same result).
    pub tile: Tile,
}

/// When to process an image in tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    Off,
    /// Tiles of 512 pixels for images above [`Tile::AUTO_PIXELS`].
    Auto,
    /// Tiles of this side (pixels, a multiple of 8).
    Size(i64),
}

impl Tile {
    /// Images with more pixels than this are tiled under [`Tile::Auto`] (1536²).
    pub const AUTO_PIXELS: i64 = 1536 * 1536;

    /// The tile side to use for an `h × w` image, if any.
    pub fn size_for(&self, h: i64, w: i64) -> Option<i64> {
        match *self {
            Tile::Off => None,
            Tile::Auto => (h * w > Self::AUTO_PIXELS).then_some(512),
            Tile::Size(n) => Some(n),
        }
    }
}

impl std::str::FromStr for Tile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Tile::Auto),
            "off" | "0" => Ok(Tile::Off),
            n => match n.parse::<i64>() {
                Ok(n) if n >= 64 && n % 8 == 0 => Ok(Tile::Size(n)),
                _ => Err(format!("{n:?}: expected auto, off, or a tile size in pixels (a multiple of 8, at least 64)")),
            },
        }
    }
}

impl Default for StylizeOptions {
    fn default() -> Self {
        Self { content_size: 512, style_size: 512, crop: false, alpha: 1.0, preserve_color: false, method: Method::Adain, tile: Tile::Auto }
    }
}

/// Stylization method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The AdaIN network.
    Adain,
    /// Baseline: content pixels re-scaled to the style's per-channel mean/std.
    ColorTransfer,
}

/// Loads an image and brings it to the working size.
pub fn load(path: &Path, size: u32, crop: bool) -> Result<Rgb32FImage> {
    let im = img::resize_shorter(&img::open(path)?, size);
    Ok(if crop { img::center_crop(&im, if size == 0 { u32::MAX } else { size }) } else { im })
}

/// One style ingredient: an image (already sized) and its weight.
pub struct StyleInput {
    pub image: Rgb32FImage,
    pub weight: f64,
}

/// The relu4_1 statistics of one or several styles mixed by their weights. With `recolor_to`
/// (preserve colour) each style image is first recoloured to that content (CORAL), so the
/// result then belongs to that content only; without it, compute once and reuse.
pub fn style_stats(net: &StyleTransfer, device: Device, styles: &[StyleInput], recolor_to: Option<&Tensor>) -> Stats {
    let _g = tch::no_grad_guard();
    let stats: Vec<Stats> = styles
        .iter()
        .map(|s| {
            let t = img::to_tensor(&s.image).to_device(device);
            let t = match recolor_to {
                Some(c) => color::coral(&t, c),
                None => t,
            };
            net.style_stats(&t)
        })
        .collect();
    let total: f64 = styles.iter().map(|s| s.weight).sum();
    let weights: Vec<f64> = styles.iter().map(|s| s.weight / total).collect();
    Stats::mix(&stats, &weights)
}

/// Stylizes one content image with precomputed style statistics (tiled when `tile` says so).
pub fn stylize_with_stats(net: &StyleTransfer, device: Device, content: &Rgb32FImage, style: &Stats, alpha: f64, tile: Tile) -> Rgb32FImage {
    let _g = tch::no_grad_guard();
    let c = img::to_tensor(content);
    let (h, w) = (c.size()[2], c.size()[3]);
    match tile.size_for(h, w) {
        Some(t) => img::from_tensor(&super::tile::stylize_tiled(net, device, &c, style, alpha, t)),
        None => img::from_tensor(&net.stylize(&c.to_device(device), style, alpha)),
    }
}

/// Stylizes one content image with one or several (interpolated) styles. `net` may be `None`
/// for [`Method::ColorTransfer`], which needs no network.
pub fn stylize(
    net: Option<&StyleTransfer>,
    device: Device,
    content: &Rgb32FImage,
    styles: &[StyleInput],
    opts: &StylizeOptions,
) -> Result<Rgb32FImage> {
    let _g = tch::no_grad_guard();
    let c = img::to_tensor(content).to_device(device);
    if opts.method == Method::ColorTransfer {
        let s = img::to_tensor(&styles[0].image).to_device(device);
        let s = if opts.preserve_color { color::coral(&s, &c) } else { s };
        return Ok(img::from_tensor(&color::color_transfer(&c, &s)));
    }
    let net = net.ok_or_else(|| Error::Invalid("the adain method needs an encoder and a decoder".into()))?;
    let stats = style_stats(net, device, styles, opts.preserve_color.then_some(&c));
    Ok(stylize_with_stats(net, device, content, &stats, opts.alpha, opts.tile))
}

/// Stylizes with two styles split by a mask image (white = first style).
pub fn stylize_masked(
    net: &StyleTransfer,
    device: Device,
    content: &Rgb32FImage,
    fg: &Rgb32FImage,
    bg: &Rgb32FImage,
    mask: &Rgb32FImage,
    opts: &StylizeOptions,
) -> Rgb32FImage {
    let _g = tch::no_grad_guard();
    let c = img::to_tensor(content).to_device(device);
    let (w, h) = content.dimensions();
    let m = img::to_tensor(&img::resize_exact(mask, w, h)).mean_dim([1i64].as_slice(), false, tch::Kind::Float).view([h as i64, w as i64]);
    let m = m.gt(0.5).to_device(device);
    let prep = |s: &Rgb32FImage| {
        let t = img::to_tensor(s).to_device(device);
        if opts.preserve_color { color::coral(&t, &c) } else { t }
    };
    let fg = net.style_stats(&prep(fg));
    let bg = net.style_stats(&prep(bg));
    img::from_tensor(&net.stylize_masked(&c, &fg, &bg, &m, opts.alpha))
}

/// Output file name for a pair, as pytorch-AdaIN names it: `{content}_stylized_{style}.{ext}`.
pub fn output_name(content: &Path, style: &str, ext: &str) -> PathBuf {
    let stem = content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "content".into());
    PathBuf::from(format!("{stem}_stylized_{style}.{ext}"))
}

/// Parses `--style-weights` (`"1,2,1"`), one per style, all ≥ 0 and not all 0.
pub fn parse_weights(s: &str, n: usize) -> Result<Vec<f64>> {
    let w: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Invalid(format!("--style-weights {s:?}: expected comma-separated numbers")))?;
    if w.len() != n {
        return Err(Error::Invalid(format!("--style-weights has {} values for {n} styles", w.len())));
    }
    if w.iter().any(|x| *x < 0.0 || !x.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
        return Err(Error::Invalid("--style-weights must be non-negative and not all zero".into()));
    }
    Ok(w)
}

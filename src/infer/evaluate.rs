//! Quality numbers for stylized images:
//!
//! - in the training losses' own terms: the VGG style loss against the painting and the
//!   content loss (relu4_1 against the AdaIN target);
//! - and in terms training does not optimise ([`crate::metrics`]): LPIPS to the content, the
//!   Lab colour distance to the painting, the AlexNet style distance.
//!
//! Used by `adain eval` to compare the decoder with baselines and peers on held-out pairs.

use super::{StyleSpec, Stylizer};
use crate::data::image as img;
use crate::error::Result;
use crate::metrics::{self, Lpips};
use crate::model::Encoder;
use crate::model::adain::{EPS, Stats, adain_with_stats};
use crate::model::losses;
use image::{Rgb32FImage, RgbImage};
use tch::Tensor;

/// Scores of one stylized image (lower is better for each).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scores {
    /// VGG style loss (the training definition).
    pub style: f64,
    /// Content loss (relu4_1 against the AdaIN target); NaN when the sizes differ.
    pub content: f64,
    /// LPIPS (AlexNet-lin) between the content and the result.
    pub lpips: f64,
    /// Sliced Wasserstein-1 distance of the Lab pixel distributions of result and painting.
    pub color: f64,
    /// AlexNet style distance to the painting (relative per layer).
    pub alexnet_style: f64,
}

impl Scores {
    /// Column names, in the order of [`Scores::values`].
    pub const NAMES: [&'static str; 5] = ["VGG style", "content", "LPIPS", "colour", "AlexNet style"];

    pub fn values(&self) -> [f64; 5] {
        [self.style, self.content, self.lpips, self.color, self.alexnet_style]
    }

    /// Element-wise sum (for means over pairs).
    pub fn add(&mut self, o: &Scores) {
        self.style += o.style;
        self.content += o.content;
        self.lpips += o.lpips;
        self.color += o.color;
        self.alexnet_style += o.alexnet_style;
    }

    /// Element-wise division.
    pub fn div(&self, n: f64) -> Scores {
        Scores {
            style: self.style / n,
            content: self.content / n,
            lpips: self.lpips / n,
            color: self.color / n,
            alexnet_style: self.alexnet_style / n,
        }
    }
}

/// The networks the scores need: the (float32) VGG encoder and LPIPS's AlexNet.
pub struct Scorer<'a> {
    pub encoder: &'a Encoder,
    pub lpips: &'a Lpips,
}

/// What the scores compare a result with, computed once per (content, style) pair.
pub struct Pair {
    content: Tensor,
    /// The AdaIN target at relu4_1 (for the content loss).
    target: Tensor,
    style_vgg: crate::model::Features,
    style_alexnet: Vec<Stats>,
    style_palette: metrics::color::Palette,
}

impl Scorer<'_> {
    /// Prepares a content (`[1, 3, H, W]`) and a style image (any size) for scoring results.
    pub fn pair(&self, content: &Tensor, style: &Tensor) -> Pair {
        let _g = tch::no_grad_guard();
        let style_vgg = self.encoder.forward(style);
        let target = adain_with_stats(&self.encoder.encode(content), &Stats::of(&style_vgg.relu4_1, EPS), EPS);
        Pair {
            content: content.shallow_clone(),
            target,
            style_vgg,
            style_alexnet: metrics::style::alexnet_stats(self.lpips, style),
            style_palette: metrics::color::Palette::of(style),
        }
    }

    /// Scores `output` (`[1, 3, H, W]`, clamped to [0, 1] first as a saved image would be).
    pub fn score(&self, output: &Tensor, pair: &Pair) -> Scores {
        let _g = tch::no_grad_guard();
        let output = output.clamp(0.0, 1.0);
        let of = self.encoder.forward(&output);
        let same_size = output.size() == pair.content.size();
        Scores {
            style: metrics::style::vgg_style_loss(&of, &pair.style_vgg),
            content: if of.relu4_1.size() == pair.target.size() {
                losses::content_loss(&of.relu4_1, &pair.target).double_value(&[])
            } else {
                f64::NAN
            },
            lpips: if same_size { self.lpips.distance(&pair.content, &output).double_value(&[0]) } else { f64::NAN },
            color: metrics::color::Palette::of(&output).distance(&pair.style_palette),
            alexnet_style: metrics::style::alexnet_distance(
                &metrics::style::alexnet_stats(self.lpips, &output),
                &pair.style_alexnet,
            ),
        }
    }
}

/// A styles × contents grid: the first row shows the contents, the first column the styles,
/// each other cell the content stylized with that row's style. All cells are `cell × cell`.
pub fn grid(contents: &[Rgb32FImage], styles: &[Rgb32FImage], cells: &[Vec<Rgb32FImage>], cell: u32) -> RgbImage {
    let (cols, rows) = (contents.len() as u32 + 1, styles.len() as u32 + 1);
    let mut out = RgbImage::from_pixel(cols * cell, rows * cell, image::Rgb([255, 255, 255]));
    let mut put = |im: &Rgb32FImage, r: u32, c: u32| {
        let sq = crate::data::image::center_crop(&crate::data::image::resize_shorter(im, cell), cell);
        let sq = image::DynamicImage::ImageRgb32F(sq).to_rgb8();
        image::imageops::replace(&mut out, &sq, (c * cell) as i64, (r * cell) as i64);
    };
    for (j, c) in contents.iter().enumerate() {
        put(c, 0, j as u32 + 1);
    }
    for (i, s) in styles.iter().enumerate() {
        put(s, i as u32 + 1, 0);
        for (j, im) in cells[i].iter().enumerate() {
            put(im, i as u32 + 1, j as u32 + 1);
        }
    }
    out
}

/// The frame bias of a stylizer on a pair ([`metrics::direction`]), given its result on the
/// pair as it is (`upright`): the pair is stylized once more, turned a quarter turn clockwise.
pub fn frame_bias(st: &Stylizer, content: &Rgb32FImage, style: &Rgb32FImage, upright: &Rgb32FImage) -> Result<f64> {
    let style = StyleSpec::Single(image::imageops::rotate90(style));
    let turned = st.stylize(&image::imageops::rotate90(content), &st.prepare(style)?)?;
    Ok(metrics::direction::frame_bias(&img::to_tensor(upright), &img::to_tensor(&turned)))
}

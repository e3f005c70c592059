//! Quality numbers for stylized images, in the training losses' own terms: the style loss
//! (per-channel mean/std distance at relu1_1..relu4_1, mean over channels, summed over taps)
//! against the style image, and the content loss (relu4_1 against the AdaIN target).
//! Used to compare the decoder with the colour-transfer baseline on held-out pairs.

use crate::model::adain::{adain_with_stats, Stats, EPS};
use crate::model::losses::{self, StyleLossConfig};
use crate::model::Encoder;
use image::{Rgb32FImage, RgbImage};
use tch::Tensor;

/// Scores of one stylized image.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub style: f64,
    pub content: f64,
}

/// Scores `output` (`[1, 3, H, W]`) against its content and style images (any sizes).
pub fn score(enc: &Encoder, output: &Tensor, content: &Tensor, style: &Tensor) -> Scores {
    let _g = tch::no_grad_guard();
    let of = enc.forward(output);
    let sf = enc.forward(style);
    let s_stats = losses::style_stats(&sf);
    let terms = losses::style_terms(&of, &s_stats, &StyleLossConfig::default());
    let t = adain_with_stats(&enc.encode(content), &Stats::of(&sf.relu4_1, EPS), EPS);
    let c = if t.size() == of.relu4_1.size() { losses::content_loss(&of.relu4_1, &t).double_value(&[]) } else { f64::NAN };
    Scores { style: terms.iter().map(|t| t.double_value(&[])).sum(), content: c }
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

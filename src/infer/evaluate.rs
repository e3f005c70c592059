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

/// Frames of [`camera_clip`]'s clips as `adain eval --motion` cuts them.
pub const CLIP_FRAMES: usize = 24;
/// Their motion, in pixels a frame.
pub const CLIP_SHIFT: i64 = 3;
/// Their sensor noise (σ in [0, 1] RGB).
pub const CLIP_NOISE: f64 = 2.0 / 255.0;

/// How steady a stylizer is on video, measured on synthetic camera clips of a photo whose
/// motion is known, so no optical flow is needed: mean absolute differences in [0, 1] RGB
/// after undoing the motion (lower is steadier). See [`camera_clip`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Steadiness {
    /// Consecutive frames of the panning clip.
    pub consecutive: f64,
    /// Consecutive frames of the still clip (sensor noise only).
    pub still: f64,
    /// The panning clip's first and last frames (drift over the clip).
    pub first_last: f64,
}

impl Steadiness {
    /// Column names, in the order of [`Steadiness::values`].
    pub const NAMES: [&'static str; 3] = ["consecutive", "still camera", "first vs last"];

    pub fn values(&self) -> [f64; 3] {
        [self.consecutive, self.still, self.first_last]
    }
}

/// The clips of [`Steadiness`] cut from `photo: [1, 3, H, W]` in [0, 1]: `frames` windows
/// `[1, 3, H, W − shift·(frames − 1)]` panning right by `shift` pixels a frame, and the first
/// window held still; every frame with its own sensor noise (Gaussian, σ = `noise`, clamped;
/// seeded by `seed`). Returns (panning, still).
pub fn camera_clip(photo: &Tensor, frames: usize, shift: i64, noise: f64, seed: i64) -> (Vec<Tensor>, Vec<Tensor>) {
    let _g = tch::no_grad_guard();
    let w = photo.size()[3] - shift * (frames as i64 - 1);
    assert!(w >= 16, "the photo is too narrow for {frames} frames of {shift} px");
    tch::manual_seed(seed);
    let noisy = |x: Tensor| (&x + x.randn_like() * noise).clamp(0.0, 1.0);
    let moving = (0..frames).map(|t| noisy(photo.narrow(3, shift * t as i64, w))).collect();
    let still = (0..frames).map(|_| noisy(photo.narrow(3, 0, w))).collect();
    (moving, still)
}

/// Mean absolute difference between `a` and `b` moved left by `dx` pixels (`a(x)` against
/// `b(x + dx)`), over the pixels both frames show.
pub fn shifted_difference(a: &Tensor, b: &Tensor, dx: i64) -> f64 {
    let w = a.size()[3] - dx;
    (a.narrow(3, 0, w) - b.narrow(3, dx, w)).abs().mean(tch::Kind::Float).double_value(&[])
}

/// [`Steadiness`] of the stylized frames of [`camera_clip`]'s clips (`shift`: its motion).
pub fn steadiness(moving: &[Tensor], still: &[Tensor], shift: i64) -> Steadiness {
    let mean_of = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let last = moving.len() - 1;
    Steadiness {
        consecutive: mean_of(moving.windows(2).map(|p| shifted_difference(&p[1], &p[0], shift)).collect()),
        still: mean_of(still.windows(2).map(|p| shifted_difference(&p[1], &p[0], 0)).collect()),
        first_last: shifted_difference(&moving[last], &moving[0], shift * last as i64),
    }
}

/// A stylizer's frames of both clips, as video stylizes them: one prepared style, temporal
/// smoothing at the stylizer's `temporal` setting, started afresh for each clip.
pub fn stylize_clips(
    st: &Stylizer,
    style: &Rgb32FImage,
    clips: (&[Tensor], &[Tensor]),
) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let prepared = st.prepare(StyleSpec::Single(style.clone()))?;
    let run = |frames: &[Tensor]| -> Result<Vec<Tensor>> {
        let mut state = super::Temporal::new(st.settings().temporal);
        let out =
            frames.iter().map(|f| st.stylize_tensor(f, &prepared, Some(&mut state))).collect::<Result<Vec<_>>>()?;
        Ok(out.into_iter().map(|t| t.to_device(tch::Device::Cpu)).collect())
    };
    Ok((run(clips.0)?, run(clips.1)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn steadiness_undoes_the_known_motion() {
        let photo = Tensor::rand([1, 3, 20, 60], (Kind::Float, Device::Cpu));
        // Without noise the panning clip's frames are the photo moved: after undoing the
        // motion every difference is 0.
        let (moving, still) = camera_clip(&photo, 8, 3, 0.0, 1);
        assert_eq!(moving[0].size(), vec![1, 3, 20, 60 - 21]);
        let s = steadiness(&moving, &still, 3);
        assert_eq!(s.values(), [0.0; 3]);
        // With noise σ the differences are those of two independent noises (≈ 1.13 σ, less
        // where clamping cuts), and a wrong shift is far worse.
        let (moving, still) = camera_clip(&photo.clamp(0.2, 0.8), 8, 3, 0.01, 1);
        let s = steadiness(&moving, &still, 3);
        for v in s.values() {
            assert!((v - 0.0113).abs() < 0.001, "{s:?}");
        }
        assert!(steadiness(&moving, &still, 2).consecutive > 10.0 * s.consecutive);
    }
}

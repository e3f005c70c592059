//! Style distances between a result and the painting.
//!
//! - `vgg_style_loss`: the training definition (per-channel mean/std squared distance at
//!   relu1_1..relu4_1 of the encoder, averaged over channels, summed over taps).
//! - [`alexnet_style_distance`]: the same idea through AlexNet (LPIPS's weights), with each
//!   layer's distance relative to the painting's own statistics, so every layer counts alike:
//!   `Σ_l ‖μ_l(o) − μ_l(s)‖ / ‖μ_l(s)‖ + ‖σ_l(o) − σ_l(s)‖ / ‖σ_l(s)‖` over relu1..relu5 (L2
//!   norms over the channels). A network the decoder was not trained against, so it measures
//!   texture transfer without rewarding what only fools VGG.

use super::Lpips;
use crate::model::Features;
use crate::model::adain::{EPS, Stats};
use crate::model::losses::{self, StyleLossConfig};
use tch::{Kind, Tensor};

/// VGG style loss of a result against the painting, from their encoder features.
pub(crate) fn vgg_style_loss(out: &Features, style: &Features) -> f64 {
    let terms = losses::style_terms(out, &losses::style_stats(style), &StyleLossConfig::default(), None);
    terms.iter().map(|t| t.double_value(&[])).sum()
}

/// Per-layer statistics of an image through LPIPS's AlexNet (relu1..relu5).
pub(crate) fn alexnet_stats(lpips: &Lpips, x: &Tensor) -> Vec<Stats> {
    let _g = tch::no_grad_guard();
    lpips.features(x).iter().map(|f| Stats::of(&f.to_kind(Kind::Float), EPS)).collect()
}

/// The AlexNet style distance between a result's and the painting's [`alexnet_stats`].
pub(crate) fn alexnet_distance(out: &[Stats], style: &[Stats]) -> f64 {
    let rel = |a: &Tensor, b: &Tensor| {
        (a - b).flatten(0, -1).norm().double_value(&[]) / b.flatten(0, -1).norm().double_value(&[]).max(1e-12)
    };
    out.iter().zip(style).map(|(o, s)| rel(&o.mean, &s.mean) + rel(&o.std, &s.std)).sum()
}

/// AlexNet style distance of `out` against `style` (`[1, 3, H, W]` each, any sizes).
pub fn alexnet_style_distance(lpips: &Lpips, out: &Tensor, style: &Tensor) -> f64 {
    alexnet_distance(&alexnet_stats(lpips, out), &alexnet_stats(lpips, style))
}

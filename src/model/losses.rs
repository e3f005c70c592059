//! Training losses.
//!
//! - Content loss: `MSE(φ₄(g(t)), t)`, the decoded image re-encoded at relu4_1 against the
//!   AdaIN target `t`.
//! - Style loss: for each tap k of relu1_1..relu4_1, a distance between the per-channel means
//!   of `φ_k(g(t))` and `φ_k(s)`, plus the same for the stds; summed over the taps.
//!   The distance over the C channels of one sample is `Σ_c Δ²` ([`StyleReduce::Sum`], the
//!   original paper's Torch code) or `mean_c Δ²` ([`StyleReduce::Mean`], `nn.MSELoss` as in
//!   pytorch-AdaIN); with `sqrt` it is the square root of that (the seed's L2 distance). The
//!   batch is averaged.
//! - Reconstruction loss: pixel MSE, optionally plus a perceptual term (MSE of the four taps).

use super::adain::{adain_with_stats, Stats, EPS};
use super::decoder::Decoder;
use super::style_transfer::channels_last;
use super::vgg::{Encoder, Features};
use tch::nn::Module;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// How the style distance reduces over channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StyleReduce {
    Mean,
    Sum,
}

/// Style-loss settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StyleLossConfig {
    pub reduce: StyleReduce,
    pub sqrt: bool,
}

impl Default for StyleLossConfig {
    fn default() -> Self {
        Self { reduce: StyleReduce::Mean, sqrt: false }
    }
}

/// Mean squared error over all elements.
pub fn mse(a: &Tensor, b: &Tensor) -> Tensor {
    (a - b).square().mean(Kind::Float)
}

/// Distance between two `[B, C, 1, 1]` statistics, averaged over the batch.
fn distance(a: &Tensor, b: &Tensor, cfg: &StyleLossConfig) -> Tensor {
    let sq = (a - b).square().flatten(1, -1);
    let per_sample = match cfg.reduce {
        StyleReduce::Mean => sq.mean_dim([1i64].as_slice(), false, Kind::Float),
        StyleReduce::Sum => sq.sum_dim_intlist([1i64].as_slice(), false, Kind::Float),
    };
    let per_sample = if cfg.sqrt { (per_sample + 1e-12).sqrt() } else { per_sample };
    per_sample.mean(Kind::Float)
}

/// Content loss between the re-encoded output at relu4_1 and the AdaIN target.
pub fn content_loss(out_relu4_1: &Tensor, target: &Tensor) -> Tensor {
    mse(out_relu4_1, target)
}

/// Per-tap style terms for the output's features against precomputed style statistics.
pub fn style_terms(out: &Features, style: &[Stats; 4], cfg: &StyleLossConfig) -> [Tensor; 4] {
    let taps = out.taps();
    std::array::from_fn(|k| {
        let o = Stats::of(&taps[k].to_kind(Kind::Float), EPS);
        distance(&o.mean, &style[k].mean, cfg) + distance(&o.std, &style[k].std, cfg)
    })
}

/// Statistics of the four style taps (computed once per batch, without gradient).
pub fn style_stats(style: &Features) -> [Stats; 4] {
    let taps = style.taps();
    std::array::from_fn(|k| Stats::of(&taps[k].to_kind(Kind::Float), EPS))
}

/// The loss terms of one AdaIN training forward.
pub struct AdainLosses {
    /// `MSE(φ₄(g(t)), t)`.
    pub content: Tensor,
    /// Style terms at relu1_1..relu4_1.
    pub style: [Tensor; 4],
}

impl AdainLosses {
    /// `content_weight · content + style_weight · Σ style`.
    pub fn total(&self, content_weight: f64, style_weight: f64) -> Tensor {
        let s = self.style.iter().skip(1).fold(self.style[0].shallow_clone(), |a, b| a + b);
        &self.content * content_weight + s * style_weight
    }
}

/// AdaIN training forward: `t = AdaIN(φ₄(c), φ₄(s))`, `out = g(t)`, losses of `out`.
/// The fixed quantities (style statistics, `t`) are computed without gradient.
///
/// The networks run in the encoder's element type (bfloat16 for mixed precision, see
/// [`crate::model::Precision`]); statistics, `t` and the losses are float32.
pub fn adain_losses(enc: &Encoder, dec: &Decoder, content: &Tensor, style: &Tensor, cfg: &StyleLossConfig) -> AdainLosses {
    let (t, s_stats) = tch::no_grad(|| {
        let sf = enc.forward(&channels_last(style));
        let c4 = enc.encode(&channels_last(content)).to_kind(Kind::Float);
        let s4 = Stats::of(&sf.relu4_1.to_kind(Kind::Float), EPS);
        (channels_last(&adain_with_stats(&c4, &s4, EPS)), style_stats(&sf))
    });
    let out = dec.forward(&t.to_kind(enc.kind()));
    let of = enc.forward(&out);
    AdainLosses { content: content_loss(&of.relu4_1.to_kind(Kind::Float), &t), style: style_terms(&of, &s_stats, cfg) }
}

/// Reconstruction forward: `out = g(φ₄(x))`; returns the pixel MSE and, when
/// `perceptual`, the four feature MSEs between `φ(out)` and `φ(x)` (zeros otherwise).
/// Precision as in [`adain_losses`].
pub fn reconstruction_losses(enc: &Encoder, dec: &Decoder, x: &Tensor, perceptual: bool) -> (Tensor, [Tensor; 4]) {
    let f = tch::no_grad(|| enc.forward(&channels_last(x)));
    let out = dec.forward(&f.relu4_1);
    let pixel = mse(&out.to_kind(Kind::Float), x);
    let terms = if perceptual {
        let of = enc.forward(&out);
        let (o, t) = (of.taps(), f.taps());
        std::array::from_fn(|k| mse(&o[k].to_kind(Kind::Float), &t[k].to_kind(Kind::Float)))
    } else {
        std::array::from_fn(|_| Tensor::zeros([], (Kind::Float, x.device())))
    };
    (pixel, terms)
}

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

use super::adain::{Stats, EPS};
use super::vgg::Features;
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
        let o = Stats::of(taps[k], EPS);
        distance(&o.mean, &style[k].mean, cfg) + distance(&o.std, &style[k].std, cfg)
    })
}

/// Statistics of the four style taps (computed once per batch, without gradient).
pub fn style_stats(style: &Features) -> [Stats; 4] {
    let taps = style.taps();
    std::array::from_fn(|k| Stats::of(taps[k], EPS))
}

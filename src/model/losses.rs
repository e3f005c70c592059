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
//! - Two switches put the palette into the style loss ([`StyleLossConfig::normalize`],
//!   [`StyleLossConfig::pixel_weight`]). VGG-16 on ImageNet-normalised input has relu1_1
//!   activations about 8× smaller than relu4_1's (per-channel std 0.4 against 3.3 on photos),
//!   so with raw features relu1_1, where colour lives, makes under 1 % of the style loss and
//!   the decoder's palette drifts towards the dataset's mean. With `normalize`, every channel's
//!   statistics are divided by that channel's activation scale measured once on training
//!   photos ([`TapScales`]), as a batch-norm encoder would: every tap then counts alike. The
//!   pixel term adds the image itself as a fifth tap (per-channel RGB mean and std, scaled the
//!   same way).
//! - Structure loss (optional, per-tap weights): the MSE between the mean-variance-normalised
//!   features of the result and of the content photo at relu1_1..relu4_1 — SANet's normalised
//!   content loss (Park & Lee 2019), taken at shallower taps. Normalising each channel over
//!   H×W takes away exactly what the style loss sets (per-channel mean and std), so the term
//!   keeps edges and shapes without pulling the colours or the contrast back to the photo's.
//! - Identity loss (optional, weighted): the content photo stylized with its own statistics
//!   (`AdaIN(φ₄(c), φ₄(c)) = φ₄(c)`, so simply `g(φ₄(c))`) against the photo, pixel MSE —
//!   SANet's identity loss, pixel part. The AdaIN objective alone never asks the decoder to
//!   reproduce a photo's detail; this term keeps it an accurate inverse of the encoder while it
//!   learns to paint.
//! - Reconstruction loss: pixel MSE, optionally plus a perceptual term (MSE of the four taps).

use super::adain::{EPS, Stats, adain_with_stats};
use super::decoder::Decoder;
use super::style_transfer::channels_last;
use super::vgg::{Encoder, Features};
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{Kind, Tensor};

/// How the style distance reduces over channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StyleReduce {
    Mean,
    Sum,
}

crate::settings! {
    /// Style-loss settings.
    pub struct StyleLossConfig {
        /// mean | sum: the squared distance of the statistics averaged or summed over channels.
        reduce: StyleReduce = StyleReduce::Mean,
        /// Square root of the distance (per tap).
        sqrt: bool = false,
        /// Divide each channel's statistics by its activation scale on training photos, as a
        /// batch-norm encoder would, so that relu1_1 (colour) counts as much as relu4_1.
        normalize: bool = false,
        /// Weight of the image itself (RGB mean/std) as a fifth style tap, relative to one VGG
        /// tap (0 = off).
        pixel_weight: f64 = 0.0,
        /// The image tap matches the RGB mean and the full 3×3 covariance (each entry divided
        /// by the channels' scales) instead of the per-channel std: colours that go together
        /// in the painting go together in the result, as a covariance colour transfer
        /// (CORAL) does.
        pixel_covariance: bool = false,
    }
}

/// Per-channel activation scales of the image and of the four taps, each `[1, C, 1, 1]`
/// (C = 3, 64, 128, 256, 512): the std of each channel over all positions of a set of
/// training photos. Fixed for a run (saved in its directory), like folded batch-norm
/// statistics.
#[derive(Debug)]
pub struct TapScales {
    /// `[pixels, relu1_1, relu2_1, relu3_1, relu4_1]`.
    pub scales: [Tensor; 5],
}

/// Names of the five scale tensors in a safetensors file.
pub const TAP_NAMES: [&str; 5] = ["pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1"];

impl TapScales {
    /// Measures the scales on photos `[N, 3, H, W]` in [0,1] (float32; std over N×H×W,
    /// floored at 1e-3 so that a dead channel cannot blow a distance up).
    pub fn measure(enc: &Encoder, photos: &Tensor) -> Self {
        let _g = tch::no_grad_guard();
        let f = enc.forward(&channels_last(photos));
        let scale = |x: &Tensor| {
            let x = x.to_kind(Kind::Float);
            let c = x.size()[1];
            x.transpose(0, 1)
                .reshape([c, -1])
                .std_correction(Some([1i64].as_slice()), 0, false)
                .clamp_min(1e-3)
                .view([1, c, 1, 1])
        };
        let t = f.taps();
        Self { scales: [scale(photos), scale(t[0]), scale(t[1]), scale(t[2]), scale(t[3])] }
    }

    /// The scales as named tensors (for a safetensors file).
    pub fn named(&self) -> Vec<(String, Tensor)> {
        TAP_NAMES.iter().zip(&self.scales).map(|(n, t)| (n.to_string(), t.shallow_clone())).collect()
    }

    /// Rebuilds the scales from named tensors; `None` when one is missing.
    pub fn from_named(map: &std::collections::HashMap<String, Tensor>) -> Option<Self> {
        let v: Vec<Tensor> =
            TAP_NAMES.iter().map(|n| map.get(*n).map(|t| t.to_kind(Kind::Float))).collect::<Option<_>>()?;
        Some(Self { scales: v.try_into().ok()? })
    }

    /// The same scales on `device`.
    pub fn to_device(&self, device: tch::Device) -> Self {
        Self { scales: std::array::from_fn(|k| self.scales[k].to_device(device)) }
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

/// `x: [B, C, H, W]` with every channel normalised to mean 0, std 1 over H×W (float32).
fn normalized(x: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::Float);
    let s = Stats::of(&x, EPS);
    (x - s.mean) / s.std
}

/// `Σ_k w_k · MSE(norm(φ_k(out)), norm(φ_k(c)))` over the taps with a weight; `content_taps`
/// are the content photo's normalised taps (computed once, without gradient).
fn structure_loss(out: &Features, content_taps: &[Option<Tensor>; 4], weights: &[f64; 4]) -> Option<Tensor> {
    let taps = out.taps();
    (0..4)
        .filter_map(|k| content_taps[k].as_ref().map(|c| mse(&normalized(taps[k]), c) * weights[k]))
        .reduce(|a, b| a + b)
}

/// Content loss between the re-encoded output at relu4_1 and the AdaIN target.
pub fn content_loss(out_relu4_1: &Tensor, target: &Tensor) -> Tensor {
    mse(out_relu4_1, target)
}

/// The style term of one tap: mean and std distances of `out`'s statistics against `style`'s,
/// both divided by `scale` (`[1, C, 1, 1]`) when given.
fn style_term(out: &Tensor, style: &Stats, scale: Option<&Tensor>, cfg: &StyleLossConfig) -> Tensor {
    let o = Stats::of(&out.to_kind(Kind::Float), EPS);
    match scale {
        Some(s) => distance(&(o.mean / s), &(&style.mean / s), cfg) + distance(&(o.std / s), &(&style.std / s), cfg),
        None => distance(&o.mean, &style.mean, cfg) + distance(&o.std, &style.std, cfg),
    }
}

/// Channel covariance `[B, C, C]` of `x: [B, C, H, W]` (over H×W).
pub fn covariance(x: &Tensor) -> Tensor {
    let f = x.to_kind(Kind::Float).flatten(2, 3);
    let f = &f - f.mean_dim([2i64].as_slice(), true, None);
    f.matmul(&f.transpose(1, 2)) / f.size()[2] as f64
}

/// The pixel tap with covariance: mean distance plus the distance of the covariances, both
/// divided by the channels' scales (`s` and `s sᵀ`) when given.
fn pixel_covariance_term(
    out: &Tensor,
    style_mean: &Tensor,
    style_cov: &Tensor,
    scale: Option<&Tensor>,
    cfg: &StyleLossConfig,
) -> Tensor {
    let out = out.to_kind(Kind::Float);
    let mean = out.mean_dim([2i64, 3].as_slice(), true, None);
    let cov = covariance(&out);
    match scale {
        Some(s) => {
            let s2 = s.view([1, -1, 1]) * s.view([1, 1, -1]);
            distance(&(mean / s), &(style_mean / s), cfg) + distance(&(cov / &s2), &(style_cov / s2), cfg)
        }
        None => distance(&mean, style_mean, cfg) + distance(&cov, style_cov, cfg),
    }
}

/// Per-tap style terms for the output's features against precomputed style statistics
/// (raw, or normalised by `scales`).
pub fn style_terms(
    out: &Features,
    style: &[Stats; 4],
    cfg: &StyleLossConfig,
    scales: Option<&TapScales>,
) -> [Tensor; 4] {
    let taps = out.taps();
    std::array::from_fn(|k| style_term(taps[k], &style[k], scales.map(|s| &s.scales[k + 1]), cfg))
}

/// Statistics of the four style taps (computed once per batch, without gradient).
pub fn style_stats(style: &Features) -> [Stats; 4] {
    let taps = style.taps();
    std::array::from_fn(|k| Stats::of(&taps[k].to_kind(Kind::Float), EPS))
}

/// Weights of the optional terms that keep the photo (all 0: off, the paper's loss).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContentTerms {
    /// Structure term at relu1_1, relu2_1, relu3_1, relu4_1.
    pub structure: [f64; 4],
    /// Identity term.
    pub identity: f64,
}

/// The loss terms of one AdaIN training forward.
pub struct AdainLosses {
    /// `MSE(φ₄(g(t)), t)`.
    pub content: Tensor,
    /// Style terms at relu1_1..relu4_1.
    pub style: [Tensor; 4],
    /// The image-level (RGB) style term; zero when [`StyleLossConfig::pixel_weight`] is 0.
    pub pixels: Tensor,
    /// Its weight relative to one tap.
    pub pixel_weight: f64,
    /// The weighted structure term (zero when every structure weight is 0); already weighted,
    /// added to the total as it is.
    pub structure: Tensor,
    /// The weighted identity term (zero when its weight is 0); added to the total as it is.
    pub identity: Tensor,
    /// The decoded images `g(t)`, `[B, 3, H, W]` (for penalties on the result itself).
    pub output: Tensor,
}

impl AdainLosses {
    /// Σ of the four tap terms plus the weighted pixel term: what `style_weight` multiplies.
    pub fn style_total(&self) -> Tensor {
        let s = self.style.iter().skip(1).fold(self.style[0].shallow_clone(), |a, b| a + b);
        if self.pixel_weight > 0.0 { s + &self.pixels * self.pixel_weight } else { s }
    }

    /// `content_weight · content + style_weight · style_total + structure + identity`.
    pub fn total(&self, content_weight: f64, style_weight: f64) -> Tensor {
        &self.content * content_weight + self.style_total() * style_weight + &self.structure + &self.identity
    }
}

/// AdaIN training forward: `t = AdaIN(φ₄(c), φ₄(s))`, `out = g(t)`, losses of `out`.
/// The fixed quantities (style statistics, `t`) are computed without gradient. `scales` is
/// needed when `cfg.normalize` is set (the raw distances are used otherwise). `terms` weighs
/// the optional structure and identity terms.
///
/// The networks run in the encoder's element type (bfloat16 for mixed precision, see
/// [`crate::model::Precision`]); statistics, `t` and the losses are float32.
pub fn adain_losses(
    enc: &Encoder,
    dec: &Decoder,
    content: &Tensor,
    style: &Tensor,
    cfg: &StyleLossConfig,
    scales: Option<&TapScales>,
    terms: &ContentTerms,
) -> AdainLosses {
    let (structure, identity) = (&terms.structure, terms.identity);
    let scales = if cfg.normalize { scales } else { None };
    let (t, s_stats, s_pixels, c_taps, c_feat) = tch::no_grad(|| {
        let sf = enc.forward(&channels_last(style));
        let cf = enc.forward(&channels_last(content));
        let c4 = cf.relu4_1.to_kind(Kind::Float);
        let s4 = Stats::of(&sf.relu4_1.to_kind(Kind::Float), EPS);
        let c_taps: [Option<Tensor>; 4] =
            std::array::from_fn(|k| (structure[k] != 0.0).then(|| normalized(cf.taps()[k])));
        let t = channels_last(&adain_with_stats(&c4, &s4, EPS));
        (t, style_stats(&sf), Stats::of(&style.to_kind(Kind::Float), EPS), c_taps, cf.relu4_1)
    });
    let zero = || Tensor::zeros([], (Kind::Float, content.device()));
    let out = dec.forward(&t.to_kind(enc.kind()));
    let of = enc.forward(&out);
    let pixels = if cfg.pixel_weight > 0.0 && cfg.pixel_covariance {
        let s_cov = tch::no_grad(|| covariance(style));
        pixel_covariance_term(&out, &s_pixels.mean, &s_cov, scales.map(|s| &s.scales[0]), cfg)
    } else if cfg.pixel_weight > 0.0 {
        style_term(&out, &s_pixels, scales.map(|s| &s.scales[0]), cfg)
    } else {
        zero()
    };
    let structure = structure_loss(&of, &c_taps, structure).unwrap_or_else(zero);
    let identity = if identity > 0.0 {
        mse(&dec.forward(&c_feat).to_kind(Kind::Float), &content.to_kind(Kind::Float)) * identity
    } else {
        zero()
    };
    AdainLosses {
        content: content_loss(&of.relu4_1.to_kind(Kind::Float), &t),
        style: style_terms(&of, &s_stats, cfg, scales),
        pixels,
        pixel_weight: cfg.pixel_weight,
        structure,
        identity,
        output: out,
    }
}

/// Reconstruction forward: `out = g(φ₄(x))`; returns the pixel MSE, when `perceptual` the
/// four feature MSEs between `φ(out)` and `φ(x)` (zeros otherwise), and `out`.
/// Precision as in [`adain_losses`].
pub fn reconstruction_losses(
    enc: &Encoder,
    dec: &Decoder,
    x: &Tensor,
    perceptual: bool,
) -> (Tensor, [Tensor; 4], Tensor) {
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
    (pixel, terms, out)
}

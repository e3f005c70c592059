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
//!   Its perceptual part compares relu1_1 and relu2_1 as well (the pixel MSE alone leaves the
//!   reconstruction blurry).
//! - Reconstruction loss: pixel MSE, optionally plus a perceptual term (MSE of the four taps).
//!
//! The same objective trains the VGG decoder and the lite network (through the VGG loss
//! network); [`LossWeights`] holds every term's weight and [`LossTerms::total`] is the one
//! place where the total is assembled.

use super::adain::{EPS, Stats, renormalize};
use super::decoder::Decoder;
use super::lite::LiteNet;
use super::style_transfer::channels_last;
use super::vgg::{Encoder, Features};
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{Device, Kind, Tensor};

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
        /// Weights of a second-order part of the style taps relu1_1..relu4_1 (e.g. `[0, 0, 1,
        /// 1]`), added to each tap's mean/std term: the distance of the channel covariances
        /// (Gatys et al.'s Gram matrices with the means removed), each entry divided by the two
        /// channels' scales when normalised. Mean and std say how strong each feature is; the
        /// covariances say which features occur together, i.e. the texture's structure
        /// (all 0: off).
        covariance: [f64; 4] = [0.0; 4],
    }
}

/// Per-channel activation scales of the image and of the four taps, each `[1, C, 1, 1]`
/// (C = 3, 64, 128, 256, 512): the std of each channel over all positions of a set of
/// training photos. Fixed for a run (saved in its directory), like folded batch-norm
/// statistics.
#[derive(Debug)]
pub struct TapScales {
    /// `[pixels, relu1_1, relu2_1, relu3_1, relu4_1]`.
    pub(crate) scales: [Tensor; 5],
}

/// Names of the five scale tensors in a safetensors file.
pub(crate) const TAP_NAMES: [&str; 5] = ["pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1"];

impl TapScales {
    /// Measures the scales on photos `[N, 3, H, W]` in [0, 1] (float32; std over N×H×W,
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
    pub(crate) fn from_named(map: &std::collections::HashMap<String, Tensor>) -> Option<Self> {
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
    let s = Stats::exact(&x, EPS);
    (x - s.mean) / s.std
}

/// Content loss between the re-encoded output at relu4_1 and the AdaIN target.
pub(crate) fn content_loss(out_relu4_1: &Tensor, target: &Tensor) -> Tensor {
    mse(out_relu4_1, target)
}

/// The style term of one tap: mean and std distances of `out`'s statistics against `style`'s,
/// both divided by `scale` (`[1, C, 1, 1]`) when given.
fn style_term(out: &Tensor, style: &Stats, scale: Option<&Tensor>, cfg: &StyleLossConfig) -> Tensor {
    let o = Stats::exact(&out.to_kind(Kind::Float), EPS);
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

/// The pixel tap with covariance: mean distance plus [`covariance_term`], the mean divided
/// by the channels' scales `s` when given.
fn pixel_covariance_term(
    out: &Tensor,
    style_mean: &Tensor,
    style_cov: &Tensor,
    scale: Option<&Tensor>,
    cfg: &StyleLossConfig,
) -> Tensor {
    let out = out.to_kind(Kind::Float);
    let mean = out.mean_dim([2i64, 3].as_slice(), true, None);
    let mean_term = match scale {
        Some(s) => distance(&(mean / s), &(style_mean / s), cfg),
        None => distance(&mean, style_mean, cfg),
    };
    mean_term + covariance_term(&out, style_cov, scale, cfg)
}

/// The second-order part of a style tap: the distance of `out`'s channel covariance
/// (`[B, C, C]`) from the style's, both divided by `s sᵀ` when scales `s` are given.
fn covariance_term(out: &Tensor, style_cov: &Tensor, scale: Option<&Tensor>, cfg: &StyleLossConfig) -> Tensor {
    let cov = covariance(out);
    match scale {
        Some(s) => {
            let s2 = s.view([1, -1, 1]) * s.view([1, 1, -1]);
            distance(&(cov / &s2), &(style_cov / s2), cfg)
        }
        None => distance(&cov, style_cov, cfg),
    }
}

/// Per-tap style terms for the output's features against precomputed style statistics
/// (raw, or normalised by `scales`), first order only (`cfg.covariance` is added by the
/// training objective, which keeps the style's covariances).
pub(crate) fn style_terms(
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
    std::array::from_fn(|k| Stats::exact(&taps[k].to_kind(Kind::Float), EPS))
}

/// The weight of every term of the training objective: the one description of what is
/// minimised, assembled by [`LossTerms::total`] and nowhere else. A zero weight switches its
/// term off (it is then not computed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LossWeights {
    /// The content term (the reconstruction stage: the pixel MSE).
    pub content: f64,
    /// λ, on the sum of the four style taps and the weighted pixel tap (the reconstruction
    /// stage: the perceptual term, the four feature MSEs).
    pub style: f64,
    /// The image itself as a fifth style tap, relative to one VGG tap (inside λ).
    pub pixels: f64,
    /// The structure term at relu1_1, relu2_1, relu3_1, relu4_1.
    pub structure: [f64; 4],
    /// The identity term, pixel part: `MSE(g(φ(c)), c)`.
    pub identity: f64,
    /// The identity term, perceptual part: the relu1_1 and relu2_1 MSE between `g(φ(c))` and
    /// `c`, each channel divided by its scale when the style loss is normalised.
    pub identity_perceptual: f64,
    /// The squared frame bias between results of pairs and of the same pairs turned.
    pub frame_bias: f64,
    /// Steadiness: the result of a moved, noised content against the moved result.
    pub steadiness: f64,
    /// The style-signal contrastive term (networks with style signals: the lite network).
    pub contrastive: f64,
}

/// The unweighted terms of one training forward (zero scalars where the weight is 0), and
/// the output they were computed from.
pub struct LossTerms {
    /// `MSE(φ₄(out), t)` (the reconstruction stage: the pixel MSE).
    pub content: Tensor,
    /// Style terms at relu1_1..relu4_1, each with its weighted covariance part (the
    /// reconstruction stage: the perceptual terms).
    pub style: [Tensor; 4],
    /// The image-level (RGB) style term.
    pub pixels: Tensor,
    /// Structure terms at relu1_1..relu4_1.
    pub structure: [Tensor; 4],
    /// Identity, pixel part.
    pub identity: Tensor,
    /// Identity, perceptual part.
    pub identity_perceptual: Tensor,
    /// Mean squared frame bias (set by the trainer, which knows how the batch is paired).
    pub frame_bias: Tensor,
    /// Mean absolute difference between the result of the content moved by a few pixels with
    /// sensor noise and the result moved alike (`AdainTargets::steadiness_term`).
    pub steadiness: Tensor,
    /// The style-signal contrastive term ([`contrastive_term`]).
    pub contrastive: Tensor,
    /// The decoded images `[B, 3, H, W]`.
    pub(crate) output: Tensor,
}

impl LossTerms {
    /// The total that is minimised: `content·c + λ·(Σ style_k + p·pixels) + Σ s_k·structure_k
    /// + i·identity + ip·identity_perceptual + f·frame_bias + v·steadiness + k·contrastive`.
    pub fn total(&self, w: &LossWeights) -> Tensor {
        let style =
            self.style.iter().skip(1).fold(self.style[0].shallow_clone(), |a, b| a + b) + &self.pixels * w.pixels;
        let structure = (0..4).fold(self.content.zeros_like(), |a, k| a + &self.structure[k] * w.structure[k]);
        &self.content * w.content
            + style * w.style
            + structure
            + &self.identity * w.identity
            + &self.identity_perceptual * w.identity_perceptual
            + &self.frame_bias * w.frame_bias
            + &self.steadiness * w.steadiness
            + &self.contrastive * w.contrastive
    }

    /// The weighted structure term (what the logs show).
    pub(crate) fn structure_weighted(&self, w: &LossWeights) -> f64 {
        (0..4).map(|k| self.structure[k].double_value(&[]) * w.structure[k]).sum()
    }

    /// The weighted identity terms, pixel and perceptual (what the logs show).
    pub(crate) fn identity_weighted(&self, w: &LossWeights) -> f64 {
        self.identity.double_value(&[]) * w.identity
            + self.identity_perceptual.double_value(&[]) * w.identity_perceptual
    }
}

/// A zero scalar on `x`'s device (the value of a term that is off).
fn zero(x: &Tensor) -> Tensor {
    Tensor::zeros([], (Kind::Float, x.device()))
}

/// What an AdaIN training output is compared with, computed once per batch without gradient:
/// the target `t = AdaIN(φ₄(c), φ₄(s))`, the style's statistics at the taps and in pixels,
/// the content's normalised taps (for the structure term), its early taps (for the identity's
/// perceptual part) and relu4_1 (the VGG decoder's identity input).
pub(crate) struct AdainTargets {
    /// `[B, 512, h, w]`, float32, channels-last.
    pub(crate) t: Tensor,
    style: [Stats; 4],
    pixels: Stats,
    pixel_cov: Option<Tensor>,
    /// The style's channel covariances `[B, C, C]` at the taps whose covariance weight is not 0.
    style_cov: [Option<Tensor>; 4],
    structure: [Option<Tensor>; 4],
    early: Option<[Tensor; 2]>,
    /// `φ₄(c)` in the encoder's element type.
    pub(crate) content_relu4_1: Tensor,
}

impl AdainTargets {
    /// The targets of a batch (`content`, `style`: `[B, 3, H, W]` in [0, 1], float32).
    pub fn new(enc: &Encoder, content: &Tensor, style: &Tensor, cfg: &StyleLossConfig, w: &LossWeights) -> Self {
        tch::no_grad(|| {
            let sf = enc.forward(&channels_last(style));
            let cf = enc.forward(&channels_last(content));
            let c4 = cf.relu4_1.to_kind(Kind::Float);
            let s4 = Stats::exact(&sf.relu4_1.to_kind(Kind::Float), EPS);
            let t = channels_last(&renormalize(&c4, &Stats::exact(&c4, EPS), &s4));
            let with_pixels = w.pixels > 0.0;
            Self {
                t,
                style: style_stats(&sf),
                pixels: Stats::exact(&style.to_kind(Kind::Float), EPS),
                pixel_cov: (with_pixels && cfg.pixel_covariance).then(|| covariance(style)),
                style_cov: std::array::from_fn(|k| (cfg.covariance[k] != 0.0).then(|| covariance(sf.taps()[k]))),
                structure: std::array::from_fn(|k| (w.structure[k] != 0.0).then(|| normalized(cf.taps()[k]))),
                early: (w.identity_perceptual > 0.0).then(|| [cf.relu1_1.shallow_clone(), cf.relu2_1.shallow_clone()]),
                content_relu4_1: cf.relu4_1,
            }
        })
    }

    /// The terms of an output `out` (`[B, 3, H, W]`, with gradient) that compare it with the
    /// targets: content, style taps, pixels, structure. The identity terms and the frame bias
    /// are left at zero.
    fn output_terms(
        &self,
        enc: &Encoder,
        out: &Tensor,
        cfg: &StyleLossConfig,
        scales: Option<&TapScales>,
        w: &LossWeights,
    ) -> LossTerms {
        let of = enc.forward(out);
        let pixels = match (&self.pixel_cov, w.pixels > 0.0) {
            (Some(cov), true) => pixel_covariance_term(out, &self.pixels.mean, cov, scales.map(|s| &s.scales[0]), cfg),
            (None, true) => style_term(out, &self.pixels, scales.map(|s| &s.scales[0]), cfg),
            _ => zero(out),
        };
        let taps = of.taps();
        let mut style = style_terms(&of, &self.style, cfg, scales);
        for (k, term) in style.iter_mut().enumerate() {
            if let Some(cov) = &self.style_cov[k] {
                *term =
                    &*term + covariance_term(taps[k], cov, scales.map(|s| &s.scales[k + 1]), cfg) * cfg.covariance[k];
            }
        }
        LossTerms {
            content: content_loss(&of.relu4_1.to_kind(Kind::Float), &self.t),
            style,
            pixels,
            structure: std::array::from_fn(|k| match &self.structure[k] {
                Some(c) => mse(&normalized(taps[k]), c),
                None => zero(out),
            }),
            identity: zero(out),
            identity_perceptual: zero(out),
            frame_bias: zero(out),
            steadiness: zero(out),
            contrastive: zero(out),
            output: out.shallow_clone(),
        }
    }

    /// The identity terms of `rec`, the network's reconstruction of `content` (its own
    /// statistics, α = 0): pixel MSE and, when weighted, the relu1_1/relu2_1 MSE.
    fn identity_terms(
        &self,
        enc: &Encoder,
        rec: &Tensor,
        content: &Tensor,
        scales: Option<&TapScales>,
        terms: &mut LossTerms,
    ) {
        let rec = rec.to_kind(Kind::Float);
        terms.identity = mse(&rec, &content.to_kind(Kind::Float));
        if let Some(early) = &self.early {
            let rf = enc.forward_taps(&rec, 2);
            terms.identity_perceptual = (0..2)
                .map(|k| {
                    let (r, c) = (rf[k].to_kind(Kind::Float), early[k].to_kind(Kind::Float));
                    match scales {
                        Some(s) => mse(&(r / &s.scales[k + 1]), &(c / &s.scales[k + 1])),
                        None => mse(&r, &c),
                    }
                })
                .reduce(|a, b| a + b)
                .expect("two taps");
        }
    }
}

/// Sensor noise of the steadiness term's moved crop (σ in [0, 1] RGB; `adain eval --motion`'s).
const STEADINESS_NOISE: f64 = 2.0 / 255.0;

impl AdainTargets {
    /// The steadiness term of `out`, the network's result for `content` `[B, 3, H, W]`: the
    /// content is cut to `[H−8, W−8]` at an offset `(dy, dx) ∈ [0, 3]²` (random, not both 0;
    /// a camera moving a few pixels between frames), sensor noise is added, and the network's
    /// result for that crop (its own AdaIN target, the same style) is compared with `out` cut
    /// alike: the mean absolute difference, float32, with gradient through both.
    fn steadiness_term(
        &self,
        enc: &Encoder,
        net: &dyn Trainee,
        out: &Tensor,
        content: &Tensor,
        style: &Tensor,
    ) -> Tensor {
        let (h, w) = (content.size()[2], content.size()[3]);
        let (ch, cw) = (h - 8, w - 8);
        let k = Tensor::randint_low(1, 16, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
        let (dy, dx) = (k / 4, k % 4);
        let moved = content.narrow(2, dy, ch).narrow(3, dx, cw);
        let moved = (&moved + moved.randn_like() * STEADINESS_NOISE).clamp(0.0, 1.0);
        let t = tch::no_grad(|| {
            let c4 = enc.forward(&channels_last(&moved)).relu4_1.to_kind(Kind::Float);
            channels_last(&renormalize(&c4, &Stats::exact(&c4, EPS), &self.style[3]))
        });
        let out_moved = net.stylized(&t.to_kind(enc.kind()), &moved, style).to_kind(Kind::Float);
        let same = out.narrow(2, dy, ch).narrow(3, dx, cw).to_kind(Kind::Float);
        (out_moved - same).abs().mean(Kind::Float)
    }
}

/// AdaIN training forward: `out` is the VGG decoder's `g(t)`, or the lite network's result at
/// α = 1 (both against the VGG AdaIN target `t` and the style's VGG statistics: the lite
/// network learns the VGG model's objective through the frozen loss network `enc`), and its
/// terms. The identity term reconstructs the photo from its own statistics: `g(φ₄(c))` (since
/// `AdaIN(φ₄(c), φ₄(c)) = φ₄(c)`), or the lite network's unmodulated auto-encoder (α = 0).
///
/// The network runs in the encoder's element type (bfloat16 for mixed precision, see
/// [`crate::model::Precision`]: float32 master weights cast in the graph, as `torch.autocast`
/// does; a lite network step at 128², batch 8, takes 1.03 s this way on 2 cores, 1.28–1.38×
/// PyTorch's fastest: models/README.md);
/// statistics, `t` and the losses are float32.
pub fn adain_losses(
    enc: &Encoder,
    net: &dyn Trainee,
    content: &Tensor,
    style: &Tensor,
    obj: &Objective<'_>,
) -> LossTerms {
    let (cfg, w) = (obj.style, obj.weights);
    let scales = if cfg.normalize { obj.scales } else { None };
    let targets = AdainTargets::new(enc, content, style, cfg, w);
    let out = net.stylized(&targets.t.to_kind(enc.kind()), content, style);
    let mut terms = targets.output_terms(enc, &out, cfg, scales, w);
    if w.identity > 0.0 || w.identity_perceptual > 0.0 {
        let rec = net.reconstruct(Some(&targets.content_relu4_1), content, enc.kind());
        targets.identity_terms(enc, &rec, content, scales, &mut terms);
    }
    if w.steadiness > 0.0 {
        terms.steadiness = targets.steadiness_term(enc, net, &out, content, style);
    }
    // A batch of one (validation's) has no other styles to contrast with: the term stays 0.
    if w.contrastive > 0.0 && content.size()[0] >= 2 {
        terms.contrastive = contrastive_term(net, &out, style, enc.kind());
    }
    terms
}

/// The style-signal contrastive term (after MicroAST's SSC loss; our own form): with `d(i, j)`
/// the sum over the network's style signals ([`Trainee::style_signals`]) of the mean squared
/// difference between result `i`'s and style `j`'s, the batch mean of
/// `d(i, i) / Σ_{j≠i} d(i, j)`. Each result, read back as a style by the network itself, should
/// be close to its own style and far from the other styles of the batch: the network's style
/// encoder becomes a second judge of style next to the VGG statistics. Scale-free (a ratio),
/// float32, with gradient through both readings; `out`, `style`: `[B, 3, H, W]`, B ≥ 2.
pub fn contrastive_term(net: &dyn Trainee, out: &Tensor, style: &Tensor, kind: Kind) -> Tensor {
    let (a, b) = (net.style_signals(out, kind), net.style_signals(style, kind));
    assert!(!a.is_empty() && out.size()[0] >= 2, "the contrastive term needs style signals and a batch of 2 or more");
    let d = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x.unsqueeze(1) - y.unsqueeze(0)).square().mean_dim(2, false, Kind::Float))
        .reduce(|p, q| p + q)
        .expect("at least one signal");
    let pos = d.diagonal(0, 0, 1);
    (&pos / (d.sum_dim_intlist(1, false, Kind::Float) - &pos)).mean(Kind::Float)
}

/// Reconstruction forward: `out = g(φ₄(x))` (VGG) or the lite auto-encoder; the pixel MSE as
/// the content term and, when `w.style` weighs them, the four feature MSEs between `φ(out)`
/// and `φ(x)` as the style terms. Precision as in [`adain_losses`].
pub(crate) fn reconstruction_losses(enc: &Encoder, net: &dyn Trainee, x: &Tensor, w: &LossWeights) -> LossTerms {
    let perceptual = w.style > 0.0;
    let f = (net.decodes_features() || perceptual).then(|| tch::no_grad(|| enc.forward(&channels_last(x))));
    let out = net.reconstruct(f.as_ref().map(|f| &f.relu4_1), x, enc.kind());
    let style = match &f {
        Some(f) if perceptual => {
            let of = enc.forward(&out);
            let (o, t) = (of.taps(), f.taps());
            std::array::from_fn(|k| mse(&o[k].to_kind(Kind::Float), &t[k].to_kind(Kind::Float)))
        }
        _ => std::array::from_fn(|_| zero(x)),
    };
    LossTerms {
        content: mse(&out.to_kind(Kind::Float), x),
        style,
        pixels: zero(x),
        structure: std::array::from_fn(|_| zero(x)),
        identity: zero(x),
        identity_perceptual: zero(x),
        frame_bias: zero(x),
        steadiness: zero(x),
        contrastive: zero(x),
        output: out,
    }
}

/// What a training step minimises: the style loss's form, the per-channel scales it divides by
/// (used with `normalize`), and the weight of every term.
#[derive(Clone, Copy)]
pub struct Objective<'a> {
    pub style: &'a StyleLossConfig,
    pub scales: Option<&'a TapScales>,
    pub weights: &'a LossWeights,
}

impl<'a> Objective<'a> {
    /// The style loss `style` unscaled (no `normalize` scales), with `weights`.
    pub fn new(style: &'a StyleLossConfig, weights: &'a LossWeights) -> Self {
        Self { style, scales: None, weights }
    }
}

/// What the objective needs of the network being trained (the VGG decoder behind the frozen
/// encoder, or the whole lite network); each family implements it beside its model.
pub trait Trainee {
    /// The stylized batch `[B, 3, S, S]` at α = 1: from `t`, the VGG AdaIN target
    /// `[B, 512, S/8, S/8]` in the encoder's element type, or from the batch itself (with the
    /// convolutions in that element type).
    fn stylized(&self, t: &Tensor, content: &Tensor, style: &Tensor) -> Tensor;
    /// `x: [B, 3, S, S]` reconstructed: from `f4`, its relu4_1 (given when
    /// [`Trainee::decodes_features`]), or by the network's own unmodulated auto-encoder (α = 0),
    /// with its convolutions in `kind` (the encoder's: bfloat16 for mixed precision).
    fn reconstruct(&self, f4: Option<&Tensor>, x: &Tensor, kind: Kind) -> Tensor;
    /// Whether [`Trainee::reconstruct`] reads `f4` (else the loss skips encoding for it).
    fn decodes_features(&self) -> bool;
    /// What the network makes of `x: [B, 3, H, W]` as a style, as `[B, n]` float32 tensors
    /// with gradient (convolutions in `kind`), for [`contrastive_term`]; empty for a network
    /// that reads styles only through the frozen encoder (the VGG decoder).
    fn style_signals(&self, x: &Tensor, kind: Kind) -> Vec<Tensor>;
}

/// The VGG decoder trains behind the frozen encoder: it decodes the AdaIN target, or the
/// content's own relu4_1 to reconstruct it.
impl Trainee for Decoder {
    fn stylized(&self, t: &Tensor, _content: &Tensor, _style: &Tensor) -> Tensor {
        self.forward(t)
    }
    fn reconstruct(&self, f4: Option<&Tensor>, _x: &Tensor, _kind: Kind) -> Tensor {
        self.forward(f4.expect("decodes_features: the loss encodes x"))
    }
    fn decodes_features(&self) -> bool {
        true
    }
    fn style_signals(&self, _x: &Tensor, _kind: Kind) -> Vec<Tensor> {
        Vec::new()
    }
}

/// The whole lite network trains: both encoders and the decoder, against the VGG objective.
impl Trainee for LiteNet {
    fn stylized(&self, t: &Tensor, content: &Tensor, style: &Tensor) -> Tensor {
        self.forward_as(content, style, t.kind())
    }
    fn reconstruct(&self, _f4: Option<&Tensor>, x: &Tensor, kind: Kind) -> Tensor {
        self.reconstruct_as(x, kind)
    }
    fn decodes_features(&self) -> bool {
        false
    }
    fn style_signals(&self, x: &Tensor, kind: Kind) -> Vec<Tensor> {
        self.style_signals_as(x, kind)
    }
}

//! The lite network: real-time arbitrary style transfer for edge cameras, phones and the
//! browser, about 20× fewer operations than the VGG model per frame.
//!
//! Two micro encoders of the same shape, one for the content and one for the style:
//! `[B, 3, H, W] → 16 ch (full) → 32 ch (1/2, stride 2) → 64 ch (1/4, stride 2) → residual
//! block`, with taps after the first conv, the first stride and the residual block. AdaIN
//! works at 1/4 resolution: the content's 64 channels are re-scaled to the mean/std of the
//! style's. The micro decoder mirrors the encoder (residual block, two nearest 2× upsamplings
//! each followed by a 3×3 conv, a last conv to RGB) and every hidden conv is modulated by the
//! style: `h · (1 + α γ) + α β` per channel, with `(γ, β)` a linear function of the style
//! encoder's mean/std at the same resolution (FiLM; the modulators start at zero, so an
//! untrained modulator is the identity). α scales the AdaIN blend and the modulation alike:
//! α = 0 is a plain auto-encoder of the photo, which training keeps close to the identity.
//!
//! Everything the network keeps of a style is [`LiteStyle`], the three taps' statistics:
//! computed once per style, mixed linearly for style interpolation (AdaIN and FiLM are both
//! affine in them), split by a mask per region. All convs use reflection padding; the
//! network needs sides that are multiples of `MULTIPLE`.
//!
//! Variable names mirror the PyTorch state dict of `scripts/reference.py`'s `LiteNet`
//! (`content_encoder.conv_in.weight`, `decoder.mod_up1.bias`, …).

use super::adain::{EPS, Stats, adain_with_stats};
use super::style_transfer::channels_last;
use super::winograd::{self, FilterCache};
use std::sync::{Arc, Mutex};
use tch::nn;
use tch::{Kind, Tensor};

pub use super::lite_config::LiteConfig;
pub(crate) use super::lite_config::{MIN_SIDE, MULTIPLE};

/// A 3×3 conv behind a reflection pad of 1, with stride 1 or 2; computed in the element type
/// of its input (float32 master weights are cast inside the graph, as in the decoder).
#[derive(Debug)]
struct Conv3 {
    conv: nn::Conv2D,
    stride: i64,
    cache: FilterCache,
    folded: Mutex<Option<Folded>>,
}

/// One style's modulation folded into a conv's filters and bias, with their Winograd
/// transform, kept while the frames of a video or live stream reuse the style and α and the
/// weights do not change: folding and transforming anew each frame cost about as much as a
/// small layer.
#[derive(Debug)]
struct Folded {
    /// The weights' identity ([`winograd::weights_key`]) and the scale then shift it was made
    /// for.
    weights: (usize, i64),
    modulation: Vec<f32>,
    w: Tensor,
    b: Tensor,
    filters: Arc<FilterCache>,
}

impl Conv3 {
    fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        Self::with_config(p, c_in, c_out, stride, Default::default())
    }

    /// A stride-1 conv whose filters and bias start at zero (it adds nothing until trained).
    fn zeros(p: nn::Path, c_in: i64, c_out: i64) -> Self {
        let cfg = nn::ConvConfig { ws_init: nn::Init::Const(0.0), bs_init: nn::Init::Const(0.0), ..Default::default() };
        Self::with_config(p, c_in, c_out, 1, cfg)
    }

    fn with_config(p: nn::Path, c_in: i64, c_out: i64, stride: i64, cfg: nn::ConvConfig) -> Self {
        Self {
            conv: nn::conv2d(p, c_in, c_out, 3, cfg),
            stride,
            cache: FilterCache::default(),
            folded: Mutex::new(None),
        }
    }

    fn forward(&self, x: &Tensor, relu: bool) -> Tensor {
        let (w, b) = (&self.conv.ws, self.conv.bs.as_ref());
        if self.stride == 1 {
            return winograd::conv3x3_reflect(x, w, b, &self.cache, relu);
        }
        if relu && self.stride == 2 {
            return winograd::conv3x3_reflect_stride2_relu(x, w, b);
        }
        let (w, b) = (w.to_kind(x.kind()), b.map(|b| b.to_kind(x.kind())));
        let y = x.reflection_pad2d([1, 1, 1, 1]).conv2d(&w, b.as_ref(), [self.stride; 2], [0, 0], [1, 1], 1);
        if relu { y.relu() } else { y }
    }

    /// [`Self::forward`] for the last conv (RGB out, stride 1), float32 out
    /// ([`winograd::conv3x3_reflect_out`]).
    fn forward_out(&self, x: &Tensor) -> Tensor {
        winograd::conv3x3_reflect_out(x, &self.conv.ws, self.conv.bs.as_ref(), false)
    }

    /// [`Self::forward`] of `x` upsampled 2× (nearest), stride 1: the upsampled map is not
    /// written where the Winograd kernel runs ([`winograd::conv3x3_reflect_up`]).
    fn forward_up(&self, x: &Tensor, relu: bool) -> Tensor {
        winograd::conv3x3_reflect_up(x, &self.conv.ws, self.conv.bs.as_ref(), &self.cache, relu)
    }

    /// `conv(x) · scale + shift` (then ReLU) for one style (`scale`, `shift`: `[1, C_out, 1, 1]`,
    /// float32): the per-channel map is folded into the filters and bias, `w·s` and `b·s + t`, so
    /// the modulation costs no pass over the activations. Stride 1; of `x` upsampled 2× when
    /// `up`.
    fn forward_film(&self, x: &Tensor, scale: &Tensor, shift: &Tensor, relu: bool, up: bool) -> Tensor {
        let conv = if up { winograd::conv3x3_reflect_up } else { winograd::conv3x3_reflect };
        let fold = || {
            let s = scale.reshape([-1]);
            let w = &self.conv.ws * s.view([-1, 1, 1, 1]);
            let b = match &self.conv.bs {
                Some(b) => b * &s + shift.reshape([-1]),
                None => shift.reshape([-1]),
            };
            (w, b)
        };
        let ws = &self.conv.ws;
        if winograd::records_grad(ws) || scale.requires_grad() || shift.requires_grad() {
            let (w, b) = fold();
            return conv(x, &w, Some(&b), &FilterCache::default(), relu);
        }
        let values = Tensor::cat(&[scale.reshape([-1]), shift.reshape([-1])], 0).to_kind(Kind::Float);
        let Ok(modulation) = Vec::<f32>::try_from(values) else {
            let (w, b) = fold();
            return conv(x, &w, Some(&b), &FilterCache::default(), relu);
        };
        let weights = winograd::weights_key(ws);
        // The lock is held only to look up or fill the entry, not for the convolution, so that
        // threads sharing the network still run their frames side by side.
        let (w, b, filters) = {
            let mut entry = self.folded.lock().unwrap_or_else(|e| e.into_inner());
            match &*entry {
                Some(f) if f.weights == weights && f.modulation == modulation => {}
                _ => {
                    let (w, b) = fold();
                    *entry = Some(Folded { weights, modulation, w, b, filters: Arc::default() });
                }
            }
            let f = entry.as_ref().expect("filled above");
            (f.w.shallow_clone(), f.b.shallow_clone(), Arc::clone(&f.filters))
        };
        conv(x, &w, Some(&b), &filters, relu)
    }
}

/// `x + conv2(relu(conv1(x)))` (the decoder's version modulates both convs).
#[derive(Debug)]
struct ResBlock {
    conv1: Conv3,
    conv2: Conv3,
}

impl ResBlock {
    fn new(p: nn::Path, c: i64) -> Self {
        Self { conv1: Conv3::new(&p / "conv1", c, c, 1), conv2: Conv3::new(&p / "conv2", c, c, 1) }
    }

    /// A block that starts as the identity: its second conv is zero.
    fn identity(p: nn::Path, c: i64) -> Self {
        Self { conv1: Conv3::new(&p / "conv1", c, c, 1), conv2: Conv3::zeros(&p / "conv2", c, c) }
    }
}

/// A micro encoder: `[B, 3, H, W]` → taps `[B, 16, H, W]`, `[B, 32, H/2, W/2]`,
/// `[B, 64, H/4, W/4]` (the last one is the AdaIN level).
#[derive(Debug)]
pub struct LiteEncoder {
    conv_in: Conv3,
    down1: Conv3,
    down2: Conv3,
    res: ResBlock,
}

impl LiteEncoder {
    pub fn new(p: nn::Path, cfg: &LiteConfig) -> Self {
        let [w0, w1, w2] = cfg.widths;
        Self {
            conv_in: Conv3::new(&p / "conv_in", 3, w0, 1),
            down1: Conv3::new(&p / "down1", w0, w1, 2),
            down2: Conv3::new(&p / "down2", w1, w2, 2),
            res: ResBlock::new(&p / "res", w2),
        }
    }

    /// The three taps, in the element type of `x`.
    pub fn forward(&self, x: &Tensor) -> [Tensor; 3] {
        let f0 = self.conv_in.forward(x, true);
        let f1 = self.down1.forward(&f0, true);
        let f2 = self.down2.forward(&f1, true);
        let f3 = &f2 + self.res.conv2.forward(&self.res.conv1.forward(&f2, true), false);
        [f0, f1, f3]
    }
}

/// A style as the lite network keeps it: mean/std of the style encoder's three taps
/// (`[B, 16|32|64, 1, 1]` each, float32).
#[derive(Debug, Clone)]
pub struct LiteStyle {
    pub taps: [Stats; 3],
}

impl LiteStyle {
    /// Weighted sum of several styles (weights sum to 1): equals mixing their AdaIN targets
    /// and their modulations, both affine in the statistics.
    pub fn mix(styles: &[LiteStyle], weights: &[f64]) -> Self {
        Self {
            taps: std::array::from_fn(|k| {
                Stats::mix(&styles.iter().map(|s| s.taps[k].clone()).collect::<Vec<_>>(), weights)
            }),
        }
    }

    /// The same statistics on `device`.
    pub fn to_device(&self, device: tch::Device) -> Self {
        Self {
            taps: std::array::from_fn(|k| Stats {
                mean: self.taps[k].mean.to_device(device),
                std: self.taps[k].std.to_device(device),
            }),
        }
    }

    /// `[B, 2C]`: a tap's mean then std, the modulators' input.
    fn vector(&self, k: usize) -> Tensor {
        Tensor::cat(&[self.taps[k].mean.flatten(1, -1), self.taps[k].std.flatten(1, -1)], 1)
    }
}

/// Per-channel scale and shift of the decoder's modulated convs (res conv1, res conv2, up1,
/// up2, then conv1 and conv2 of each extra block at 1/4, then of each at 1/2), α already
/// applied: `[B, C, 1, 1]` each, or `[1, C, h, w]` maps for a mask.
#[derive(Debug)]
pub struct Modulation {
    scale: Vec<Tensor>,
    shift: Vec<Tensor>,
    /// The resolution of each site relative to the output (4: 1/4, 2: 1/2, 1: full).
    divisor: Vec<i64>,
}

impl Modulation {
    /// One style, per channel: `[1, C, 1, 1]` everywhere, so it folds into the convs.
    fn folds(&self) -> bool {
        self.scale.iter().chain(&self.shift).all(|t| {
            let s = t.size();
            s.len() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1
        })
    }

    /// Scale and shift of modulated conv `k` (0: res conv1, 1: res conv2, 2: up1, 3: up2,
    /// 4 + 2i and 5 + 2i: extra block i, the blocks at 1/4 first).
    pub fn site(&self, k: usize) -> (&Tensor, &Tensor) {
        (&self.scale[k], &self.shift[k])
    }
}

/// The linear map from a style tap to one conv's `(γ, β)`.
#[derive(Debug)]
struct Modulator {
    lin: nn::Linear,
}

impl Modulator {
    fn new(p: nn::Path, c_style: i64, c_out: i64) -> Self {
        let cfg = nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        Self { lin: nn::linear(p, 2 * c_style, 2 * c_out, cfg) }
    }

    /// `(1 + α γ, α β)`, `[B, C, 1, 1]` each, float32.
    fn scale_shift(&self, v: &Tensor, alpha: f64) -> (Tensor, Tensor) {
        let ws = self.lin.ws.to_kind(Kind::Float);
        let bs = self.lin.bs.as_ref().map(|b| b.to_kind(Kind::Float));
        let gb = v.to_kind(Kind::Float).linear(&ws, bs.as_ref());
        let c = gb.size()[1] / 2;
        let g = gb.narrow(1, 0, c).view([-1, c, 1, 1]);
        let b = gb.narrow(1, c, c).view([-1, c, 1, 1]);
        (g * alpha + 1.0, b * alpha)
    }
}

/// A further modulated residual block (`decoder.extra.<i>.res.conv1`, `…mod1` at 1/4
/// resolution, `decoder.extra_half.<i>.…` at 1/2): capacity where texture is made. Its second
/// conv starts at zero, so a block added to a trained network leaves it as it was until
/// training moves it.
#[derive(Debug)]
struct ExtraBlock {
    res: ResBlock,
    mod1: Modulator,
    mod2: Modulator,
}

impl ExtraBlock {
    fn new(p: nn::Path, c: i64) -> Self {
        Self {
            res: ResBlock::identity(&p / "res", c),
            mod1: Modulator::new(&p / "mod1", c, c),
            mod2: Modulator::new(&p / "mod2", c, c),
        }
    }
}

/// The micro decoder: `[B, 64, h, w] → [B, 3, 4h, 4w]` (float32 out), modulated by the style.
#[derive(Debug)]
pub struct LiteDecoder {
    res: ResBlock,
    up1: Conv3,
    up2: Conv3,
    conv_out: Conv3,
    mod_res1: Modulator,
    mod_res2: Modulator,
    mod_up1: Modulator,
    mod_up2: Modulator,
    extra: Vec<ExtraBlock>,
    extra_half: Vec<ExtraBlock>,
}

impl LiteDecoder {
    pub fn new(p: nn::Path, cfg: &LiteConfig) -> Self {
        let [w0, w1, w2] = cfg.widths;
        Self {
            res: ResBlock::new(&p / "res", w2),
            up1: Conv3::new(&p / "up1", w2, w1, 1),
            up2: Conv3::new(&p / "up2", w1, w0, 1),
            conv_out: Conv3::new(&p / "conv_out", w0, 3, 1),
            mod_res1: Modulator::new(&p / "mod_res1", w2, w2),
            mod_res2: Modulator::new(&p / "mod_res2", w2, w2),
            mod_up1: Modulator::new(&p / "mod_up1", w1, w1),
            mod_up2: Modulator::new(&p / "mod_up2", w0, w0),
            extra: (0..cfg.extra_blocks).map(|i| ExtraBlock::new(&p / "extra" / i, w2)).collect(),
            extra_half: (0..cfg.extra_blocks_half).map(|i| ExtraBlock::new(&p / "extra_half" / i, w1)).collect(),
        }
    }

    /// The extra blocks: `(at 1/4 resolution after the first, at 1/2 after up1)`.
    pub fn extra_blocks(&self) -> (usize, usize) {
        (self.extra.len(), self.extra_half.len())
    }

    /// The first site of the blocks at 1/2 resolution in [`Modulation`].
    fn half_sites(&self) -> usize {
        4 + 2 * self.extra.len()
    }

    /// The modulation for a style at strength α.
    pub(crate) fn modulation(&self, style: &LiteStyle, alpha: f64) -> Modulation {
        let (v0, v1, v2) = (style.vector(0), style.vector(1), style.vector(2));
        let mut sites =
            vec![(&self.mod_res1, &v2, 4), (&self.mod_res2, &v2, 4), (&self.mod_up1, &v1, 2), (&self.mod_up2, &v0, 1)];
        sites.extend(self.extra.iter().flat_map(|e| [(&e.mod1, &v2, 4), (&e.mod2, &v2, 4)]));
        sites.extend(self.extra_half.iter().flat_map(|e| [(&e.mod1, &v1, 2), (&e.mod2, &v1, 2)]));
        let divisor = sites.iter().map(|s| s.2).collect();
        let (scale, shift) = sites.into_iter().map(|(m, v, _)| m.scale_shift(v, alpha)).unzip();
        Modulation { scale, shift, divisor }
    }

    /// Two styles split by `mask: [H, W]` (bool, the padded content's size): each modulation
    /// becomes a map, the first style's where the mask is set (nearest-downsampled to each
    /// conv's resolution).
    pub(crate) fn modulation_masked(&self, fg: &LiteStyle, bg: &LiteStyle, mask: &Tensor, alpha: f64) -> Modulation {
        let (a, b) = (self.modulation(fg, alpha), self.modulation(bg, alpha));
        let (h, w) = (mask.size()[0], mask.size()[1]);
        let m = mask.to_kind(Kind::Float).view([1, 1, h, w]);
        let blend = |x: &Tensor, y: &Tensor, k: usize| {
            let d = a.divisor[k];
            let mk = m.upsample_nearest2d([h / d, w / d], None, None);
            x * &mk + y * (1.0 - &mk)
        };
        let n = a.scale.len();
        Modulation {
            scale: (0..n).map(|k| blend(&a.scale[k], &b.scale[k], k)).collect(),
            shift: (0..n).map(|k| blend(&a.shift[k], &b.shift[k], k)).collect(),
            divisor: a.divisor.clone(),
        }
    }

    /// Decodes `x` in its own element type; `m = None` is the unmodulated auto-encoder (α = 0).
    pub fn forward(&self, x: &Tensor, m: Option<&Modulation>) -> Tensor {
        match m {
            Some(m) if m.folds() => self.forward_folded(x, m),
            _ => self.forward_unfolded(x, m),
        }
    }

    /// [`Self::forward`] with each conv's modulation folded into its filters (one style).
    fn forward_folded(&self, x: &Tensor, m: &Modulation) -> Tensor {
        let conv = |c: &Conv3, h: &Tensor, k: usize, relu: bool, up: bool| {
            c.forward_film(h, &m.scale[k], &m.shift[k], relu, up)
        };
        let blocks = |h: Tensor, blocks: &[ExtraBlock], k0: usize| {
            blocks.iter().zip((k0..).step_by(2)).fold(h, |h, (e, k)| {
                let g = conv(&e.res.conv1, &h, k, true, false);
                &h + conv(&e.res.conv2, &g, k + 1, false, false)
            })
        };
        let h = conv(&self.res.conv1, x, 0, true, false);
        let h = blocks(x + conv(&self.res.conv2, &h, 1, false, false), &self.extra, 4);
        let h = blocks(conv(&self.up1, &h, 2, true, true), &self.extra_half, self.half_sites());
        let h = conv(&self.up2, &h, 3, true, true);
        self.conv_out.forward_out(&h)
    }

    /// [`Self::forward`] with the modulation applied to the activations (several styles in a
    /// batch, or maps for a mask).
    fn forward_unfolded(&self, x: &Tensor, m: Option<&Modulation>) -> Tensor {
        let film = |h: Tensor, k: usize| match m {
            Some(m) => h * m.scale[k].to_kind(x.kind()) + m.shift[k].to_kind(x.kind()),
            None => h,
        };
        let blocks = |h: Tensor, blocks: &[ExtraBlock], k0: usize| {
            blocks.iter().zip((k0..).step_by(2)).fold(h, |h, (e, k)| {
                let g = film(e.res.conv1.forward(&h, false), k).relu();
                &h + film(e.res.conv2.forward(&g, false), k + 1)
            })
        };
        let h = film(self.res.conv1.forward(x, false), 0).relu();
        let h = blocks(x + film(self.res.conv2.forward(&h, false), 1), &self.extra, 4);
        let h = blocks(film(self.up1.forward_up(&h, false), 2).relu(), &self.extra_half, self.half_sites());
        let h = film(self.up2.forward_up(&h, false), 3).relu();
        self.conv_out.forward_out(&h)
    }
}

/// The whole lite network.
#[derive(Debug)]
pub struct LiteNet {
    pub(crate) content_encoder: LiteEncoder,
    pub(crate) style_encoder: LiteEncoder,
    pub(crate) decoder: LiteDecoder,
}

impl LiteNet {
    pub fn new(p: &nn::Path, cfg: &LiteConfig) -> Self {
        Self {
            content_encoder: LiteEncoder::new(p / "content_encoder", cfg),
            style_encoder: LiteEncoder::new(p / "style_encoder", cfg),
            decoder: LiteDecoder::new(p / "decoder", cfg),
        }
    }

    /// Channels of the AdaIN level (the config's last width).
    pub fn channels(&self) -> i64 {
        self.content_encoder.down2.conv.ws.size()[0]
    }

    /// Element type of the weights.
    pub fn kind(&self) -> Kind {
        self.content_encoder.conv_in.conv.ws.kind()
    }

    /// The style of `style: [B, 3, H, W]` in [0, 1] (any size ≥ `MIN_SIDE`; float32 in).
    pub fn style(&self, style: &Tensor) -> LiteStyle {
        self.style_as(style, self.kind())
    }

    /// [`Self::style`] with the convolutions in `kind` (the weights cast in the graph).
    fn style_as(&self, style: &Tensor, kind: Kind) -> LiteStyle {
        let taps = self.style_encoder.forward(&channels_last(&style.to_kind(kind)));
        LiteStyle { taps: taps.map(|t| Stats::of(&t.to_kind(Kind::Float), EPS)) }
    }

    /// The AdaIN level of a content `[B, 3, H, W]` (sides multiples of `MULTIPLE`):
    /// `[B, 64, H/4, W/4]`, float32.
    pub fn encode(&self, content: &Tensor) -> Tensor {
        self.encode_as(content, self.kind())
    }

    fn encode_as(&self, content: &Tensor, kind: Kind) -> Tensor {
        let [_, _, f] = self.content_encoder.forward(&channels_last(&content.to_kind(kind)));
        f.to_kind(Kind::Float)
    }

    /// `α·AdaIN(f, style) + (1−α)·f` at the AdaIN level (float32).
    pub fn target(f: &Tensor, style: &LiteStyle, alpha: f64) -> Tensor {
        let t = adain_with_stats(f, &style.taps[2], EPS);
        crate::model::adain::blend(t, f, alpha)
    }

    /// Decodes a float32 target with a modulation (in the weights' precision); float32 out.
    pub fn decode(&self, t: &Tensor, m: Option<&Modulation>) -> Tensor {
        self.decode_as(t, m, self.kind())
    }

    fn decode_as(&self, t: &Tensor, m: Option<&Modulation>, kind: Kind) -> Tensor {
        self.decoder.forward(&channels_last(&t.to_kind(kind)), m).to_kind(Kind::Float)
    }

    /// `content` stylized with `style` at α = 1 (`[B, 3, H, W]` each, the same B; float32 in
    /// and out): the training forward, gradients reaching both encoders and the decoder.
    pub fn forward(&self, content: &Tensor, style: &Tensor) -> Tensor {
        self.stylize(content, style, 1.0)
    }

    /// [`Self::forward`] with every convolution in `kind` (bfloat16 for mixed-precision
    /// training: float32 master weights cast in the graph, as `torch.autocast` does;
    /// statistics, AdaIN and the output in float32).
    pub fn forward_as(&self, content: &Tensor, style: &Tensor, kind: Kind) -> Tensor {
        self.stylize_as(content, style, 1.0, kind)
    }

    /// `content` stylized with `style` at strength `alpha` (float32 in and out; no padding:
    /// sides multiples of `MULTIPLE`).
    pub fn stylize(&self, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor {
        self.stylize_as(content, style, alpha, self.kind())
    }

    fn stylize_as(&self, content: &Tensor, style: &Tensor, alpha: f64, kind: Kind) -> Tensor {
        let s = self.style_as(style, kind);
        let m = self.decoder.modulation(&s, alpha);
        self.decode_as(&Self::target(&self.encode_as(content, kind), &s, alpha), Some(&m), kind)
    }

    /// What the network makes of `x: [B, 3, H, W]` as a style, for the contrastive training
    /// term: the three style vectors (`[B, 2C]`, each tap's mean then std) and each modulated
    /// conv's `(1 + γ, β)` at α = 1 (`[B, 2C']`), float32, convolutions in `kind`.
    pub fn style_signals_as(&self, x: &Tensor, kind: Kind) -> Vec<Tensor> {
        let s = self.style_as(x, kind);
        let m = self.decoder.modulation(&s, 1.0);
        let mut v: Vec<Tensor> = (0..3).map(|k| s.vector(k)).collect();
        v.extend(m.scale.iter().zip(&m.shift).map(|(g, b)| Tensor::cat(&[g.flatten(1, -1), b.flatten(1, -1)], 1)));
        v
    }

    /// The unmodulated auto-encoder (what α = 0 gives): `[B, 3, H, W]` → the same, float32.
    pub fn reconstruct(&self, x: &Tensor) -> Tensor {
        self.reconstruct_as(x, self.kind())
    }

    /// [`Self::reconstruct`] with every convolution in `kind` (see [`Self::forward_as`]).
    pub fn reconstruct_as(&self, x: &Tensor, kind: Kind) -> Tensor {
        self.decode_as(&self.encode_as(x, kind), None, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn shapes_and_parameter_count() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = LiteNet::new(&vs.root(), &LiteConfig::default());
        let n: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        assert!(n < 1_000_000, "{n} parameters");
        let x = Tensor::rand([2, 3, 24, 40], (Kind::Float, Device::Cpu));
        let s = net.style(&Tensor::rand([2, 3, 17, 9], (Kind::Float, Device::Cpu)));
        let f = net.encode(&x);
        assert_eq!(f.size(), vec![2, 64, 6, 10]);
        let m = net.decoder.modulation(&s, 1.0);
        let y = net.decode(&LiteNet::target(&f, &s, 1.0), Some(&m));
        assert_eq!(y.size(), vec![2, 3, 24, 40]);
        let names: Vec<String> = vs.variables().into_keys().collect();
        assert!(names.contains(&"decoder.mod_up2.weight".to_string()), "{names:?}");
        assert!(names.contains(&"style_encoder.res.conv1.bias".to_string()), "{names:?}");
        assert!(!LiteConfig::with_blocks_of(names.iter().map(String::as_str)).is_grown());

        let grown = nn::VarStore::new(Device::Cpu);
        let cfg = LiteConfig { extra_blocks: 2, extra_blocks_half: 1, ..Default::default() };
        let _ = LiteNet::new(&grown.root(), &cfg);
        let names: Vec<String> = grown.variables().into_keys().collect();
        assert!(names.contains(&"decoder.extra.1.mod2.weight".to_string()), "{names:?}");
        assert!(names.contains(&"decoder.extra_half.0.res.conv2.bias".to_string()), "{names:?}");
        assert_eq!(LiteConfig::with_blocks_of(names.iter().map(String::as_str)), cfg);
        let added: i64 = grown.trainable_variables().iter().map(|t| t.numel() as i64).sum::<i64>() - n;
        let block = |c: i64| 2 * (c * c * 9 + c) + 2 * (4 * c * c + 2 * c);
        assert_eq!(added, 2 * block(64) + block(32), "blocks of two convs and two modulators");
    }

    /// A single style's modulation folded into the filters gives what modulating the
    /// activations gives: to float32 precision in float32, and in bfloat16 no further from
    /// the float32 result than the unfolded bfloat16 decoder (random, non-zero modulators and
    /// extra blocks), in the shipped layout and with extra decoder blocks at 1/4 and 1/2.
    #[test]
    fn folded_modulation_matches_modulated_activations() {
        for (extra_blocks, extra_blocks_half) in [(0, 0), (1, 0), (1, 2)] {
            folded_matches_unfolded(&LiteConfig { extra_blocks, extra_blocks_half, ..Default::default() });
        }
    }

    fn folded_matches_unfolded(cfg: &LiteConfig) {
        tch::manual_seed(11);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = LiteNet::new(&vs.root(), cfg);
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.contains(".mod_") || name.contains(".extra") {
                    t.copy_(&(Tensor::randn_like(&t) * 0.05));
                }
            }
        });
        let x = Tensor::rand([1, 3, 32, 48], (Kind::Float, Device::Cpu));
        let s = net.style(&Tensor::rand([1, 3, 40, 40], (Kind::Float, Device::Cpu)));
        let m = net.decoder.modulation(&s, 0.8);
        assert!(m.folds());
        let t = LiteNet::target(&net.encode(&x), &s, 0.8);
        let rel = |a: &Tensor, b: &Tensor| {
            let (a, b) = (a.to_kind(Kind::Float), b.to_kind(Kind::Float));
            (&a - &b).norm().double_value(&[]) / b.norm().double_value(&[])
        };
        let decode = |t: &Tensor| {
            tch::no_grad(|| (net.decoder.forward_folded(t, &m), net.decoder.forward_unfolded(t, Some(&m))))
        };
        let (folded, exact) = decode(&t);
        let e = rel(&folded, &exact);
        assert!(e < 1e-5, "float32: relative error {e}");
        let unmodulated = tch::no_grad(|| net.decoder.forward_unfolded(&t, None));
        assert!(rel(&unmodulated, &exact) > 1e-2, "the modulation changes the result");
        let (folded16, unfolded16) = decode(&t.to_kind(Kind::BFloat16));
        let (ef, eu) = (rel(&folded16, &exact), rel(&unfolded16, &exact));
        assert!(ef < 1.5 * eu + 1e-3, "bfloat16: folded {ef} vs unfolded {eu} from float32");
    }

    /// Untrained modulators are zero: modulation at any α equals none.
    #[test]
    fn zero_modulators_are_the_identity() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = LiteNet::new(&vs.root(), &LiteConfig::default());
        let x = Tensor::rand([1, 3, 16, 16], (Kind::Float, Device::Cpu));
        let s = net.style(&x);
        let t = net.encode(&x);
        let a = net.decode(&t, Some(&net.decoder.modulation(&s, 0.7)));
        let b = net.decode(&t, None);
        assert!(a.allclose(&b, 1e-6, 1e-6, false));
    }
}

//! The lite network (see [`crate::model::lite`] for the design) on the light kernels: the
//! same blocks under the same state-dict names, batch 1, float32.

use super::conv::{Conv3, Epilogue, Sampling};
use super::map::{ChannelStats, Map, Mask};
use super::store::StorePath;
use crate::error::Result;
use crate::model::lite_config::LiteConfig;

/// ε added to the variances of AdaIN's statistics (libtorch's `adain::EPS`).
pub const EPS: f64 = 1e-5;

/// `x + conv2(relu(conv1(x)))`.
#[derive(Debug, Clone)]
struct ResBlock {
    conv1: Conv3,
    conv2: Conv3,
}

impl ResBlock {
    fn new(p: &StorePath, c: usize) -> Result<Self> {
        Ok(Self { conv1: Conv3::new(&p.sub("conv1"), c, c)?, conv2: Conv3::new(&p.sub("conv2"), c, c)? })
    }

    fn forward(&self, x: &Map) -> Map {
        let h = self.conv1.forward(x, Sampling::Same, Epilogue::Relu);
        self.conv2.forward(&h, Sampling::Same, Epilogue::Residual(x))
    }
}

/// A micro encoder: `[H, W, 3]` → taps `[H, W, 16]`, `[H/2, W/2, 32]`, `[H/4, W/4, 64]`.
#[derive(Debug, Clone)]
pub struct LiteEncoder {
    conv_in: Conv3,
    down1: Conv3,
    down2: Conv3,
    res: ResBlock,
}

impl LiteEncoder {
    pub fn new(p: &StorePath, cfg: &LiteConfig) -> Result<Self> {
        let [w0, w1, w2] = cfg.widths.map(|w| w as usize);
        Ok(Self {
            conv_in: Conv3::new(&p.sub("conv_in"), 3, w0)?,
            down1: Conv3::new(&p.sub("down1"), w0, w1)?,
            down2: Conv3::new(&p.sub("down2"), w1, w2)?,
            res: ResBlock::new(&p.sub("res"), w2)?,
        })
    }

    /// The three taps' statistics (a style), each tap dropped once measured.
    fn tap_stats(&self, x: &Map) -> [ChannelStats; 3] {
        let f0 = self.conv_in.forward(x, Sampling::Same, Epilogue::Relu);
        let s0 = f0.stats(EPS);
        let f1 = self.down1.forward(&f0, Sampling::Stride2, Epilogue::Relu);
        drop(f0);
        let s1 = f1.stats(EPS);
        let f2 = self.down2.forward(&f1, Sampling::Stride2, Epilogue::Relu);
        drop(f1);
        [s0, s1, self.res.forward(&f2).stats(EPS)]
    }

    /// The last tap (the AdaIN level), intermediate maps freed as soon as they are used.
    fn encode(&self, x: &Map) -> Map {
        let f0 = self.conv_in.forward(x, Sampling::Same, Epilogue::Relu);
        let f1 = self.down1.forward(&f0, Sampling::Stride2, Epilogue::Relu);
        drop(f0);
        let f2 = self.down2.forward(&f1, Sampling::Stride2, Epilogue::Relu);
        drop(f1);
        self.res.forward(&f2)
    }
}

/// A style as the lite network keeps it: the style encoder's three taps' mean/std (16, 32
/// and 64 channels).
#[derive(Debug, Clone, PartialEq)]
pub struct LiteStyle {
    pub taps: [ChannelStats; 3],
}

impl LiteStyle {
    /// Weighted sum of styles (weights sum to 1): equals mixing their AdaIN targets and their
    /// modulations, both affine in the statistics.
    pub fn mix(styles: &[&LiteStyle], weights: &[f64]) -> Self {
        Self {
            taps: std::array::from_fn(|k| {
                ChannelStats::mix(&styles.iter().map(|s| &s.taps[k]).collect::<Vec<_>>(), weights)
            }),
        }
    }

    /// The statistics as `(mean, std)` per tap (16, 32, 64 channels): what a server caches and
    /// what [`LiteStyle::from_vecs`] reads back.
    pub fn to_vecs(&self) -> Vec<(Vec<f32>, Vec<f32>)> {
        self.taps.iter().map(|t| (t.mean.clone(), t.std.clone())).collect()
    }

    /// Statistics from [`LiteStyle::to_vecs`]: `None` unless three taps of matching lengths.
    pub fn from_vecs(levels: &[(Vec<f32>, Vec<f32>)]) -> Option<Self> {
        let taps: Vec<ChannelStats> = levels
            .iter()
            .map(|(m, s)| {
                (m.len() == s.len() && !m.is_empty()).then(|| ChannelStats { mean: m.clone(), std: s.clone() })
            })
            .collect::<Option<_>>()?;
        Some(Self { taps: taps.try_into().ok()? })
    }

    /// `[2C]`: tap `k`'s mean then std, a modulator's input.
    fn vector(&self, k: usize) -> Vec<f32> {
        self.taps[k].mean.iter().chain(&self.taps[k].std).copied().collect()
    }
}

/// The linear map from a style tap to one conv's `(γ, β)`.
#[derive(Debug, Clone)]
struct Modulator {
    /// `[2·C_out, 2·C_style]`.
    w: Vec<f32>,
    b: Vec<f32>,
    c_out: usize,
}

impl Modulator {
    fn new(p: &StorePath, c_style: usize, c_out: usize) -> Result<Self> {
        Ok(Self {
            w: p.get("weight", &[2 * c_out, 2 * c_style])?.to_vec(),
            b: p.get("bias", &[2 * c_out])?.to_vec(),
            c_out,
        })
    }

    /// `(1 + α γ, α β)`, `C_out` each.
    fn scale_shift(&self, v: &[f32], alpha: f32) -> (Vec<f32>, Vec<f32>) {
        let gb: Vec<f32> = self
            .w
            .chunks_exact(v.len())
            .zip(&self.b)
            .map(|(row, b)| row.iter().zip(v).map(|(w, x)| w * x).sum::<f32>() + b)
            .collect();
        let (g, b) = gb.split_at(self.c_out);
        (g.iter().map(|g| 1.0 + alpha * g).collect(), b.iter().map(|b| alpha * b).collect())
    }
}

/// The micro decoder: `[h, w, 64]` → `[4h, 4w, 3]`, modulated by the style.
#[derive(Debug, Clone)]
pub struct LiteDecoder {
    res: ResBlock,
    up1: Conv3,
    up2: Conv3,
    conv_out: Conv3,
    mod_res1: Modulator,
    mod_res2: Modulator,
    mod_up1: Modulator,
    mod_up2: Modulator,
}

/// The decoder for one style at one α, its modulation folded into the filters: built once
/// per style, then used for every frame.
#[derive(Debug, Clone)]
pub struct FoldedDecoder {
    res: ResBlock,
    up1: Conv3,
    up2: Conv3,
    conv_out: Conv3,
}

impl LiteDecoder {
    pub fn new(p: &StorePath, cfg: &LiteConfig) -> Result<Self> {
        let [w0, w1, w2] = cfg.widths.map(|w| w as usize);
        Ok(Self {
            res: ResBlock::new(&p.sub("res"), w2)?,
            up1: Conv3::new(&p.sub("up1"), w2, w1)?,
            up2: Conv3::new(&p.sub("up2"), w1, w0)?,
            conv_out: Conv3::new(&p.sub("conv_out"), w0, 3)?,
            mod_res1: Modulator::new(&p.sub("mod_res1"), w2, w2)?,
            mod_res2: Modulator::new(&p.sub("mod_res2"), w2, w2)?,
            mod_up1: Modulator::new(&p.sub("mod_up1"), w1, w1)?,
            mod_up2: Modulator::new(&p.sub("mod_up2"), w0, w0)?,
        })
    }

    /// Per modulated conv (res conv1, res conv2, up1, up2), the per-channel `(scale, shift)`
    /// that `style` at strength α applies after it: `(1 + α γ, α β)`, `C_out` each (what a
    /// fixed-style ONNX graph bakes in).
    pub fn modulation(&self, style: &LiteStyle, alpha: f64) -> [(Vec<f32>, Vec<f32>); 4] {
        let a = alpha as f32;
        [
            self.mod_res1.scale_shift(&style.vector(2), a),
            self.mod_res2.scale_shift(&style.vector(2), a),
            self.mod_up1.scale_shift(&style.vector(1), a),
            self.mod_up2.scale_shift(&style.vector(0), a),
        ]
    }

    /// The decoder modulated by `style` at strength α (α = 0: the plain auto-encoder's).
    pub fn folded(&self, style: &LiteStyle, alpha: f64) -> FoldedDecoder {
        if alpha <= 0.0 {
            return FoldedDecoder {
                res: self.res.clone(),
                up1: self.up1.clone(),
                up2: self.up2.clone(),
                conv_out: self.conv_out.clone(),
            };
        }
        let a = alpha as f32;
        let (v0, v1, v2) = (style.vector(0), style.vector(1), style.vector(2));
        let fold = |c: &Conv3, m: &Modulator, v: &[f32]| {
            let (s, t) = m.scale_shift(v, a);
            c.modulated(&s, &t)
        };
        FoldedDecoder {
            res: ResBlock {
                conv1: fold(&self.res.conv1, &self.mod_res1, &v2),
                conv2: fold(&self.res.conv2, &self.mod_res2, &v2),
            },
            up1: fold(&self.up1, &self.mod_up1, &v1),
            up2: fold(&self.up2, &self.mod_up2, &v0),
            conv_out: self.conv_out.clone(),
        }
    }
}

impl FoldedDecoder {
    /// Decodes a target `[h, w, 64]` (h, w ≥ 2) to `[4h, 4w, 3]`.
    pub fn decode(&self, t: &Map) -> Map {
        let h = self.res.forward(t);
        let h = self.up1.forward(&h, Sampling::Up2, Epilogue::Relu);
        let h = self.up2.forward(&h, Sampling::Up2, Epilogue::Relu);
        self.conv_out.forward(&h, Sampling::Same, Epilogue::None)
    }
}

impl FoldedDecoder {
    /// Two styles split by `mask` (the output's size): every modulated conv's output is
    /// `fg`'s where the mask, nearest-downsampled to that conv's resolution, is set, and `bg`'s
    /// elsewhere — the per-pixel modulation maps of libtorch's masked decoder, computed as
    /// both folded convs and a choice (twice the work of one style).
    pub fn decode_split(fg: &FoldedDecoder, bg: &FoldedDecoder, t: &Map, mask: &Mask) -> Map {
        let (m4, m2) = (mask.down(4), mask.down(2));
        let both = |a: &Conv3, b: &Conv3, x: &Map, s: Sampling, e: Epilogue, m: &Mask| {
            a.forward(x, s, e).select(&b.forward(x, s, e), m)
        };
        let h = both(&fg.res.conv1, &bg.res.conv1, t, Sampling::Same, Epilogue::Relu, &m4);
        let h = both(&fg.res.conv2, &bg.res.conv2, &h, Sampling::Same, Epilogue::Residual(t), &m4);
        let h = both(&fg.up1, &bg.up1, &h, Sampling::Up2, Epilogue::Relu, &m2);
        let h = both(&fg.up2, &bg.up2, &h, Sampling::Up2, Epilogue::Relu, mask);
        fg.conv_out.forward(&h, Sampling::Same, Epilogue::None)
    }
}

/// The whole lite network.
#[derive(Debug, Clone)]
pub struct LiteNet {
    pub content_encoder: LiteEncoder,
    pub style_encoder: LiteEncoder,
    pub decoder: LiteDecoder,
    channels: usize,
}

impl LiteNet {
    /// The network from a store holding `LiteNet`'s state dict (`content_encoder.*`,
    /// `style_encoder.*`, `decoder.*`).
    pub fn new(p: &StorePath, cfg: &LiteConfig) -> Result<Self> {
        Ok(Self {
            content_encoder: LiteEncoder::new(&p.sub("content_encoder"), cfg)?,
            style_encoder: LiteEncoder::new(&p.sub("style_encoder"), cfg)?,
            decoder: LiteDecoder::new(&p.sub("decoder"), cfg)?,
            channels: cfg.widths[2] as usize,
        })
    }

    /// Channels of the AdaIN level.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The style of an RGB map `[H, W, 3]` in [0, 1] (sides ≥ `MIN_SIDE`).
    pub fn style(&self, style: &Map) -> LiteStyle {
        LiteStyle { taps: self.style_encoder.tap_stats(style) }
    }

    /// The AdaIN level `[H/4, W/4, 64]` of a content `[H, W, 3]` (sides multiples of
    /// `MULTIPLE`, at least `MIN_SIDE`).
    pub fn encode(&self, content: &Map) -> Map {
        self.content_encoder.encode(content)
    }

    /// The AdaIN target of two styles split by `mask` (the level's size): each region
    /// normalised with its own statistics (as the original Torch code does), then α-blended.
    pub fn target_split(f: &Map, fg: &LiteStyle, bg: &LiteStyle, mask: &Mask, alpha: f64) -> Map {
        let region = |m: &Mask, style: &LiteStyle| match f.stats_where(m, EPS) {
            Some(own) => f.renormalized(&own, &style.taps[2], alpha as f32),
            None => f.clone(),
        };
        region(mask, fg).select(&region(&mask.not(), bg), mask)
    }

    /// `α·AdaIN(f, style) + (1−α)·f` at the AdaIN level.
    pub fn target(f: &Map, style: &LiteStyle, alpha: f64) -> Map {
        f.renormalized(&f.stats(EPS), &style.taps[2], alpha as f32)
    }
}

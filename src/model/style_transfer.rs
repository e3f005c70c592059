//! The whole AdaIN network: encode content and style, AdaIN at relu4_1, α blend, decode.
//!
//! Style statistics are computed once ([`StyleTransfer::style_stats`]) and can be reused for
//! any number of content images or video frames.

use super::adain::{EPS, Stats};
use super::decoder::Decoder;
use super::vgg::Encoder;
use tch::Tensor;
use tch::nn::Module;

/// Encoder + decoder. Both are borrowed so that the var stores stay with their owners.
pub struct StyleTransfer<'a> {
    pub encoder: &'a Encoder,
    pub decoder: &'a Decoder,
}

/// Spatial size multiple the network needs (three 2× poolings).
pub(crate) const MULTIPLE: i64 = 8;
/// Smallest side the network takes: the relu4_1 map is then 2 pixels wide, the least that
/// the 1-pixel reflection padding of the convs at that scale accepts.
pub(crate) const MIN_SIDE: i64 = 16;

/// The padded size of a side: at least [`MIN_SIDE`], rounded up to a multiple of [`MULTIPLE`].
#[cfg(test)]
pub(crate) fn padded_side(n: i64) -> i64 {
    padded_side_for(n, MULTIPLE, MIN_SIDE)
}

/// The padded size of a side for a network that needs `multiple` and `min_side`.
pub(crate) fn padded_side_for(n: i64, multiple: i64, min_side: i64) -> i64 {
    let n = n.max(min_side);
    (n + multiple - 1) / multiple * multiple
}

/// Pads `x: [B, C, H, W]` on the bottom/right to what the network takes ([`padded_side`]):
/// reflection where the image is large enough, else edge replication (any size, down to 1×1,
/// works; the caller crops the result back).
pub(crate) fn pad_to_multiple(x: &Tensor) -> Tensor {
    pad_for(x, MULTIPLE, MIN_SIDE)
}

/// [`pad_to_multiple`] for a network that needs `multiple` and `min_side`.
pub(crate) fn pad_for(x: &Tensor, multiple: i64, min_side: i64) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    let (ph, pw) = (padded_side_for(h, multiple, min_side) - h, padded_side_for(w, multiple, min_side) - w);
    if ph == 0 && pw == 0 {
        return x.shallow_clone();
    }
    if ph < h && pw < w { x.reflection_pad2d([0, pw, 0, ph]) } else { x.replication_pad2d([0, pw, 0, ph]) }
}

/// The same tensor in channels-last memory layout (NHWC in memory, NCHW shape), which
/// libtorch's CPU convolutions run faster on; convolution outputs keep the layout.
pub(crate) fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

impl StyleTransfer<'_> {
    /// relu4_1 features (float32) of float32 images, running the encoder in its own precision
    /// (float32 or bfloat16, see [`crate::model::Precision`]) and in channels-last layout.
    pub fn features(&self, x: &Tensor) -> Tensor {
        self.encoder.encode(&channels_last(&x.to_kind(self.encoder.kind()))).to_kind(tch::Kind::Float)
    }

    /// Decodes a float32 AdaIN target in the decoder's precision; returns float32 images.
    pub fn decode(&self, t: &Tensor) -> Tensor {
        self.decoder.forward(&channels_last(&t.to_kind(self.decoder.kind()))).to_kind(tch::Kind::Float)
    }

    /// relu4_1 statistics of a style image `[B, 3, H, W]` in [0, 1] (any size): `[B, 512, 1, 1]` each.
    /// A style smaller than `MIN_SIDE` is first padded by edge replication.
    pub fn style_stats(&self, style: &Tensor) -> Stats {
        let _g = tch::no_grad_guard();
        let (h, w) = (style.size()[2], style.size()[3]);
        let style = if h < MIN_SIDE || w < MIN_SIDE {
            style.replication_pad2d([0, (MIN_SIDE - w).max(0), 0, (MIN_SIDE - h).max(0)])
        } else {
            style.shallow_clone()
        };
        Stats::of(&self.features(&style), EPS)
    }

    /// The AdaIN target for content features `f: [B, 512, h, w]`: `α·AdaIN(f, style) + (1−α)·f`.
    pub fn target(f: &Tensor, style: &Stats, alpha: f64) -> Tensor {
        let t = super::adain::adain_with_stats(f, style, EPS);
        super::adain::blend(t, f, alpha)
    }

    /// Stylizes `content: [B, 3, H, W]` in [0, 1]; returns `[B, 3, H, W]` (unclamped). Any H, W.
    pub fn stylize(&self, content: &Tensor, style: &Stats, alpha: f64) -> Tensor {
        let (h, w) = (content.size()[2], content.size()[3]);
        let f = self.features(&pad_to_multiple(content));
        let out = self.decode(&Self::target(&f, style, alpha));
        out.narrow(2, 0, h).narrow(3, 0, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_size_pads_to_what_the_network_takes() {
        assert_eq!([1, 3, 8, 15, 16, 17, 24, 10000].map(padded_side), [16, 16, 16, 16, 16, 24, 24, 10000]);
        for (h, w) in [(1, 1), (3, 3), (8, 10000), (17, 5)] {
            let x = Tensor::rand([1, 3, h, w], (tch::Kind::Float, tch::Device::Cpu));
            let p = pad_to_multiple(&x);
            assert_eq!(p.size(), vec![1, 3, padded_side(h), padded_side(w)]);
            assert_eq!(p.narrow(2, 0, h).narrow(3, 0, w), x, "the image itself is kept");
        }
    }
}

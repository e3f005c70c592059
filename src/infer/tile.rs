//! High-resolution stylization in bounded memory.
//!
//! The image is processed in tiles, in two passes, with the full-size tensors kept in host
//! memory and only one tile's activations alive at a time (on the compute device):
//! 1. encode each tile with a margin wide enough for the encoder's receptive field, keeping the
//!    tile's core of the relu4_1 map: the stitched map equals the whole-image features;
//! 2. AdaIN on the whole stitched map (so content statistics are global, and the style's are
//!    the same for every tile), then decode each tile of the target with a margin wider than the
//!    decoder's receptive field, keeping the core.
//!
//! Because every margin covers the receptive field and tiles sit on the 8-pixel grid, the result
//! equals the untiled one (up to float rounding): there are no seams to blend.

use crate::model::adain::Stats;
use crate::model::style_transfer::{pad_to_multiple, StyleTransfer};
use tch::{Device, Kind, Tensor};

/// Encoder margin in pixels: relu4_1 sees 60×60 pixels in VGG-16 and 68×68 in VGG-19 (up to
/// 34 each side), rounded up to the 8-pixel grid.
pub const ENCODER_MARGIN: i64 = 40;
/// Decoder margin in relu4_1 pixels: the mirrored decoder sees about ±3.3 of them.
pub const DECODER_MARGIN: i64 = 8;

/// Tile origins and lengths covering `0..n` in steps of `tile`.
fn spans(n: i64, tile: i64) -> Vec<(i64, i64)> {
    (0..n).step_by(tile as usize).map(|s| (s, tile.min(n - s))).collect()
}

/// Stylizes `content: [1, 3, H, W]` (host memory) tile by tile; `tile` is the tile side in
/// pixels (a multiple of 8, at least 64). Returns `[1, 3, H, W]` on the host.
pub fn stylize_tiled(net: &StyleTransfer, device: Device, content: &Tensor, style: &Stats, alpha: f64, tile: i64) -> Tensor {
    let _g = tch::no_grad_guard();
    let tile = (tile.max(64) / 8) * 8;
    let (h, w) = (content.size()[2], content.size()[3]);
    let x = pad_to_multiple(&content.to_device(Device::Cpu));
    let (hp, wp) = (x.size()[2], x.size()[3]);
    let (fh, fw) = (hp / 8, wp / 8);
    let c4 = 512;

    // Pass 1: the relu4_1 map of the whole image, tile by tile.
    let feats = Tensor::zeros([1, c4, fh, fw], (Kind::Float, Device::Cpu));
    for &(y0, th) in &spans(hp, tile) {
        for &(x0, tw) in &spans(wp, tile) {
            let (ya, xa) = ((y0 - ENCODER_MARGIN).max(0), (x0 - ENCODER_MARGIN).max(0));
            let (yb, xb) = ((y0 + th + ENCODER_MARGIN).min(hp), (x0 + tw + ENCODER_MARGIN).min(wp));
            let patch = x.narrow(2, ya, yb - ya).narrow(3, xa, xb - xa).to_device(device);
            let f = net.features(&patch).to_device(Device::Cpu);
            let core = f.narrow(2, (y0 - ya) / 8, th / 8).narrow(3, (x0 - xa) / 8, tw / 8);
            feats.narrow(2, y0 / 8, th / 8).narrow(3, x0 / 8, tw / 8).copy_(&core);
        }
    }

    // AdaIN with the whole image's statistics.
    let style = Stats { mean: style.mean.to_device(Device::Cpu), std: style.std.to_device(Device::Cpu) };
    let target = StyleTransfer::target(&feats, &style, alpha);
    drop(feats);

    // Pass 2: decode tile by tile.
    let out = Tensor::zeros([1, 3, hp, wp], (Kind::Float, Device::Cpu));
    let ft = tile / 8;
    for &(y0, th) in &spans(fh, ft) {
        for &(x0, tw) in &spans(fw, ft) {
            let (ya, xa) = ((y0 - DECODER_MARGIN).max(0), (x0 - DECODER_MARGIN).max(0));
            let (yb, xb) = ((y0 + th + DECODER_MARGIN).min(fh), (x0 + tw + DECODER_MARGIN).min(fw));
            let patch = target.narrow(2, ya, yb - ya).narrow(3, xa, xb - xa).to_device(device);
            let y = net.decode(&patch).to_device(Device::Cpu);
            let core = y.narrow(2, (y0 - ya) * 8, th * 8).narrow(3, (x0 - xa) * 8, tw * 8);
            out.narrow(2, y0 * 8, th * 8).narrow(3, x0 * 8, tw * 8).copy_(&core);
        }
    }
    out.narrow(2, 0, h).narrow(3, 0, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_exactly() {
        assert_eq!(spans(20, 8), vec![(0, 8), (8, 8), (16, 4)]);
        assert_eq!(spans(8, 8), vec![(0, 8)]);
    }
}

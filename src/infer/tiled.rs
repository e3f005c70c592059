//! The libtorch tiler: stylization of large images in two passes over tiles (see [`super::tile`]
//! for why the result equals the untiled one).

use super::tile::{Geometry, MULTIPLE, Tile, spans};
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// Runs `f` on every tile of `input: [1, C, H, W]` (host) with a `margin` around it (clipped
/// at the borders), and stitches the cores of the outputs into `[1, c_out, H·scale, W·scale]`
/// (host). `scale` is the output's size per input pixel (1/8 for the VGG encoder, 8 for its
/// decoder, written as `(num, den)`); tiles and margins are multiples of `den`.
fn tiled(
    input: &Tensor,
    tile: i64,
    margin: i64,
    c_out: i64,
    (num, den): (i64, i64),
    f: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let (h, w) = (input.size()[2], input.size()[3]);
    let out = Tensor::zeros([1, c_out, h * num / den, w * num / den], (Kind::Float, Device::Cpu));
    let s = |x: i64| x * num / den;
    for &(y0, th) in &spans(h, tile) {
        for &(x0, tw) in &spans(w, tile) {
            let (ya, xa) = ((y0 - margin).max(0), (x0 - margin).max(0));
            let (yb, xb) = ((y0 + th + margin).min(h), (x0 + tw + margin).min(w));
            let y = f(&input.narrow(2, ya, yb - ya).narrow(3, xa, xb - xa))?.to_device(Device::Cpu);
            let core = y.narrow(2, s(y0 - ya), s(th)).narrow(3, s(x0 - xa), s(tw));
            out.narrow(2, s(y0), s(th)).narrow(3, s(x0), s(tw)).copy_(&core);
        }
    }
    Ok(out)
}

/// A network's steps as tiling calls them, each on one piece in host memory (the closures
/// move it to the network's device): the AdaIN level of a padded content tile, the AdaIN
/// target of the whole image's features, the decoder on a target tile.
pub(crate) struct Steps<'a> {
    pub features: &'a dyn Fn(&Tensor) -> Result<Tensor>,
    pub target: &'a dyn Fn(&Tensor) -> Result<Tensor>,
    pub decode: &'a dyn Fn(&Tensor) -> Result<Tensor>,
}

/// Stylizes a padded content `[1, 3, H, W]` (host memory) tile by tile with a network that
/// has `geometry` and `channels` at its AdaIN level; `tile` is the tile side in pixels
/// (rounded down to a multiple of 8, at least 64). Returns `[1, 3, H, W]` on the host.
pub(crate) fn stylize_tiled(
    padded: &Tensor,
    geometry: Geometry,
    channels: i64,
    tile: i64,
    steps: Steps<'_>,
) -> Result<Tensor> {
    let _g = tch::no_grad_guard();
    let Geometry { stride, encoder_margin, decoder_margin } = geometry;
    let tile = (tile.max(Tile::MIN_SIZE) / MULTIPLE) * MULTIPLE;
    // Pass 1: the AdaIN level of the whole image, tile by tile.
    let feats = tiled(padded, tile, encoder_margin, channels, (1, stride), steps.features)?;
    // AdaIN with the whole image's statistics.
    let target = (steps.target)(&feats)?;
    drop(feats);
    // Pass 2: decode tile by tile (the decoder's modulation is the same for every tile).
    tiled(&target, tile / stride, decoder_margin, 3, (stride, 1), steps.decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_identity_stitches_back_the_input() {
        let x = Tensor::arange(2 * 20 * 28, (Kind::Float, Device::Cpu)).view([1, 2, 20, 28]);
        let y = tiled(&x, 8, 3, 2, (1, 1), |p| Ok(p * 1.0)).unwrap();
        assert_eq!((&y - &x).abs().max().double_value(&[]), 0.0);
    }
}

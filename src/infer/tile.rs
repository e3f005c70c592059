//! High-resolution stylization in bounded memory.
//!
//! The image is processed in tiles, in two passes, with the full-size tensors kept in host
//! memory and only one tile's activations alive at a time (on the compute device):
//! 1. encode each tile with a margin wide enough for the encoder's receptive field, keeping the
//!    tile's core of the AdaIN-level map (relu4_1 for VGG): the stitched map equals the
//!    whole-image features;
//! 2. AdaIN on the whole stitched map (so content statistics are global, and the style's are
//!    the same for every tile), then decode each tile of the target with a margin wider than the
//!    decoder's receptive field, keeping the core.
//!
//! Because every margin covers the receptive field and tiles sit on the 8-pixel grid, the result
//! equals the untiled one (up to float rounding): there are no seams to blend. The VGG model
//! and the lite network tile (`Geometry`); MicroAST does not (its decoder re-normalises
//! its features over the whole image).

use super::network::{Network, StyleCode};
use crate::error::Result;
use crate::model::Family;
use crate::model::style_transfer::MULTIPLE;
use tch::{Device, Kind, Tensor};

/// What tiling needs to know of a network besides its channels ([`Network::channels`]): the
/// AdaIN level's stride, and margins that cover the receptive fields of its encoder (in
/// pixels) and decoder (in AdaIN-level pixels), multiples of the stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) stride: i64,
    pub(crate) encoder_margin: i64,
    pub(crate) decoder_margin: i64,
}

impl Geometry {
    /// VGG to relu4_1: it sees 60×60 pixels in VGG-16 and 68×68 in VGG-19 (up to 34 each
    /// side; margin 40 on the 8-pixel grid); the mirrored decoder about ±3.3 relu4_1 pixels.
    pub const VGG: Geometry = Geometry { stride: 8, encoder_margin: 40, decoder_margin: 8 };
    /// The lite network: its encoder sees ±12 pixels (a 3×3 conv at full, ½ and ¼ resolution
    /// and the residual block's two at ¼), its decoder ±3 AdaIN-level pixels (the residual
    /// block, then one conv at ½, two at full); margins with room to spare.
    pub const LITE: Geometry = Geometry { stride: 4, encoder_margin: 24, decoder_margin: 6 };

    /// How a network family tiles; `None` for MicroAST (its decoder normalises over the whole
    /// image).
    pub fn of(family: Family) -> Option<Geometry> {
        match family {
            Family::Vgg => Some(Self::VGG),
            Family::Lite => Some(Self::LITE),
            Family::MicroAst => None,
        }
    }
}

/// When to process an image in tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    Off,
    /// Tiles of `Tile::AUTO_SIZE` pixels for images above [`Tile::AUTO_PIXELS`].
    Auto,
    /// Tiles of this side (pixels, a multiple of 8).
    Size(i64),
}

impl Tile {
    /// Images with more pixels than this are tiled under [`Tile::Auto`] (1536²).
    pub const AUTO_PIXELS: i64 = 1536 * 1536;
    /// The tile side under [`Tile::Auto`].
    pub(crate) const AUTO_SIZE: i64 = 512;
    /// The smallest tile side.
    pub(crate) const MIN_SIZE: i64 = 64;

    /// The tile side to use for an `h × w` image, if any.
    pub(crate) fn size_for(&self, h: i64, w: i64) -> Option<i64> {
        match *self {
            Tile::Off => None,
            Tile::Auto => (h * w > Self::AUTO_PIXELS).then_some(Self::AUTO_SIZE),
            Tile::Size(n) => Some(n),
        }
    }
}

impl std::str::FromStr for Tile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Tile::Auto),
            "off" | "0" => Ok(Tile::Off),
            n => match n.parse::<i64>() {
                Ok(n) if n >= Tile::MIN_SIZE && n % MULTIPLE == 0 => Ok(Tile::Size(n)),
                _ => Err(format!(
                    "{n:?}: expected auto, off, or a tile size in pixels (a multiple of {MULTIPLE}, at least {})",
                    Tile::MIN_SIZE
                )),
            },
        }
    }
}

impl std::fmt::Display for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tile::Off => f.write_str("off"),
            Tile::Auto => f.write_str("auto"),
            Tile::Size(n) => write!(f, "{n}"),
        }
    }
}

/// Written as its flag value: `"auto"`, `"off"` or `"512"`.
impl serde::Serialize for Tile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from `"auto"`, `"off"`, or a tile side as a number or a string.
impl<'de> serde::Deserialize<'de> for Tile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(i64),
            Text(String),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Number(n) => n.to_string(),
            Repr::Text(t) => t,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Tile origins and lengths covering `0..n` in steps of `tile`.
fn spans(n: i64, tile: i64) -> Vec<(i64, i64)> {
    (0..n).step_by(tile as usize).map(|s| (s, tile.min(n - s))).collect()
}

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

/// Stylizes `content: [1, 3, H, W]` (host memory) tile by tile with `net` (which has a
/// [`Geometry`]); `tile` is the tile side in pixels (rounded down to a multiple of 8, at least
/// 64). Returns `[1, 3, H, W]` on the host.
pub(crate) fn stylize_tiled(
    net: &Network,
    geometry: Geometry,
    content: &Tensor,
    code: &StyleCode,
    alpha: f64,
    tile: i64,
) -> Result<Tensor> {
    let _g = tch::no_grad_guard();
    let device = net.device();
    let Geometry { stride, encoder_margin, decoder_margin } = geometry;
    let tile = (tile.max(Tile::MIN_SIZE) / MULTIPLE) * MULTIPLE;
    let (h, w) = (content.size()[2], content.size()[3]);
    let x = net.pad(&content.to_device(Device::Cpu))?;
    // Pass 1: the AdaIN level of the whole image, tile by tile.
    let feats = tiled(&x, tile, encoder_margin, net.channels(), (1, stride), |p| net.features(&p.to_device(device)))?;
    // AdaIN with the whole image's statistics.
    let target = net.target(&feats, &code.to_device(Device::Cpu), alpha)?;
    drop(feats);
    // Pass 2: decode tile by tile (the decoder's modulation is the same for every tile).
    let out = tiled(&target, tile / stride, decoder_margin, 3, (stride, 1), |p| {
        net.decode(&p.to_device(device), code, alpha)
    })?;
    Ok(out.narrow(2, 0, h).narrow(3, 0, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_exactly() {
        assert_eq!(spans(20, 8), vec![(0, 8), (8, 8), (16, 4)]);
        assert_eq!(spans(8, 8), vec![(0, 8)]);
    }

    #[test]
    fn tiled_identity_stitches_back_the_input() {
        let x = Tensor::arange(2 * 20 * 28, (Kind::Float, Device::Cpu)).view([1, 2, 20, 28]);
        let y = tiled(&x, 8, 3, 2, (1, 1), |p| Ok(p * 1.0)).unwrap();
        assert_eq!((&y - &x).abs().max().double_value(&[]), 0.0);
    }
}

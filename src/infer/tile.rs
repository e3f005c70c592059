//! High-resolution stylization in bounded memory: when to tile ([`Tile`]) and how a network
//! tiles (`Geometry`); the tiler itself is `tiled.rs` (libtorch) or the light stylizer's.
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

/// The grid tiles sit on: the VGG model's multiple (the lite network's, 4, divides it).
pub(crate) const MULTIPLE: i64 = 8;

/// What tiling needs to know of a network besides its channels (each family says, see
/// [`super::StyleNet::tiling`]): the AdaIN level's stride, and margins that cover the receptive fields of its encoder (in
/// pixels) and decoder (in AdaIN-level pixels), multiples of the stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub stride: i64,
    pub encoder_margin: i64,
    pub decoder_margin: i64,
}

impl Geometry {
    /// VGG to relu4_1: it sees 60×60 pixels in VGG-16 and 68×68 in VGG-19 (up to 34 each
    /// side; margin 40 on the 8-pixel grid); the mirrored decoder about ±3.3 relu4_1 pixels.
    pub const VGG: Geometry = Geometry { stride: 8, encoder_margin: 40, decoder_margin: 8 };
    /// The lite network: its encoder sees ±12 pixels (a 3×3 conv at full, ½ and ¼ resolution
    /// and the residual block's two at ¼), its decoder ±3 AdaIN-level pixels (the residual
    /// block, then one conv at ½, two at full); margins with room to spare.
    pub const LITE: Geometry = Geometry { stride: 4, encoder_margin: 24, decoder_margin: 6 };
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
pub(crate) fn spans(n: i64, tile: i64) -> Vec<(i64, i64)> {
    (0..n).step_by(tile as usize).map(|s| (s, tile.min(n - s))).collect()
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

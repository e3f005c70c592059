//! The seam between the stylization API ([`super::stylizer`]) and the runtimes that run the
//! networks: one trait, [`StyleNet`], implemented by libtorch's [`super::network::Network`]
//! (every family, each in its own file under [`super::nets`]) and by the light kernels'
//! [`super::light::Network`] (the lite network without libtorch). Everything above it — style
//! specs, mixes, masks, colour preservation, palettes, video frames — is written once, in
//! [`super::stylizer`], for both builds.

use super::tile::Geometry;
use crate::error::{Error, Result};
use crate::model::Family;
use crate::model::light::Mask;
use image::Rgb32FImage;

/// A loaded network as a stylizer uses it: encode a style once, then stylize any number of
/// frames with it at a strength α, whole, in tiles, with temporal state, or with two styles
/// split by a mask.
///
/// Images are RGB in [0, 1], any size ≥ 1×1; results have the content's size, clamped to
/// [0, 1].
pub trait StyleNet {
    /// A style reduced to what the network keeps of it (per-channel statistics, one pair per
    /// level of the family), computed once per style image and cacheable.
    type Code: Clone;
    /// A code made ready to apply at one α: the light kernels fold the decoder's modulation
    /// into its weights here; libtorch puts the code on the network's device.
    type Ready: Clone;
    /// Video state carried from frame to frame (the previous frame's AdaIN target).
    type Temporal;

    fn family(&self) -> Family;
    /// The code of a style image (padded by edge replication when smaller than the network
    /// takes).
    fn style_code(&self, style: &Rgb32FImage) -> Result<Self::Code>;
    /// The weighted sum (weights sum to 1) of codes of this network: a style mix.
    fn mix(&self, codes: &[&Self::Code], weights: &[f64]) -> Result<Self::Code>;
    /// `code` made ready to apply at strength α.
    fn ready(&self, code: &Self::Code, alpha: f64) -> Result<Self::Ready>;
    /// Fresh video state blending each AdaIN target with the previous one's (`weight` of the
    /// previous; 0: none).
    fn temporal(&self, weight: f64) -> Self::Temporal;
    /// `content` stylized with one style at α (the α of `style`'s [`StyleNet::ready`]): whole,
    /// or in tiles of `tile` pixels with the same result in bounded memory (see
    /// [`super::tile`]; ignored by a network that cannot tile, see [`StyleNet::tiling`]), or
    /// with `temporal` state (frames are not tiled).
    fn stylize(
        &self,
        content: &Rgb32FImage,
        style: &Self::Ready,
        alpha: f64,
        tile: Option<i64>,
        temporal: Option<&mut Self::Temporal>,
    ) -> Result<Rgb32FImage>;
    /// `content` stylized with `fg` where `mask` (the content's size) is set and `bg`
    /// elsewhere: each region normalised with its own statistics at the AdaIN level, as in
    /// the original Torch code; a decoder the style modulates follows the mask too.
    fn stylize_masked(
        &self,
        content: &Rgb32FImage,
        fg: &Self::Ready,
        bg: &Self::Ready,
        mask: &Mask,
        alpha: f64,
    ) -> Result<Rgb32FImage>;
    /// How it tiles (the margins its receptive fields need); `None` when it cannot.
    fn tiling(&self) -> Option<Geometry>;
    /// Channels C of the AdaIN level (512 for VGG, 64 for the shipped lite network).
    fn channels(&self) -> i64;
}

/// An image a [`StyleNet`] takes: at least 1×1.
pub(crate) fn check_image(what: &str, image: &Rgb32FImage) -> Result<()> {
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::Shape {
            what: what.into(),
            expected: "an image of at least 1×1 pixels".into(),
            got: vec![0],
        });
    }
    Ok(())
}

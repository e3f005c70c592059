//! The family seam on libtorch: the trait every family implements and the code every family's
//! style reduces to (the registry that picks a family is `mod.rs`). Above it,
//! [`crate::infer::Network`] implements the runtime seam ([`crate::infer::StyleNet`]) once
//! for all of them.

use crate::error::{Error, Result};
use crate::infer::tile::Geometry;
use crate::model::adain::Stats;
use crate::model::{Family, Precision};
use std::any::Any;
use tch::{Device, Tensor};

/// What [`crate::infer::Network`] needs of a libtorch family, on tensors. Inputs are checked by
/// [`crate::infer::Network`] before they get here (shapes, floating point, same family).
///
/// A content goes through three steps that video, tiling and the server use piece by piece:
/// [`TorchNet::features`] (the AdaIN level), AdaIN with the α blend (done once for all
/// families by the caller, where temporal smoothing happens), then [`TorchNet::decode`].
pub trait TorchNet: Send {
    fn family(&self) -> Family;
    /// The device its weights live on.
    fn device(&self) -> Device;
    /// The precision its weights were put in (never `Auto`).
    fn precision(&self) -> Precision;
    /// Spatial multiple and smallest side a content must have (see [`crate::infer::Network::pad`]).
    fn geometry(&self) -> (i64, i64);
    /// How it tiles (margins covering its receptive fields); `None` when it cannot.
    fn tiling(&self) -> Option<Geometry>;
    /// Channels C of the AdaIN level.
    fn channels(&self) -> i64;
    /// The code of a style `[1, 3, H, W]` in [0, 1] on [`TorchNet::device`], any size ≥ 1.
    fn style_code(&self, style: &Tensor) -> StyleCode;
    /// The AdaIN level `[B, C, h, w]` (float32) of a padded content `[B, 3, H, W]`.
    fn features(&self, padded: &Tensor) -> Tensor;
    /// A target `[B, C, h, w]` → `[B, 3, H, W]` float32; families whose decoder the style
    /// modulates use `code` at strength α.
    fn decode(&self, target: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor>;
    /// [`TorchNet::decode`] for two styles split by `mask: [H, W]` (bool, the padded content's
    /// size). The default decodes with `fg` (a decoder the style does not modulate).
    fn decode_masked(
        &self,
        target: &Tensor,
        fg: &StyleCode,
        _bg: &StyleCode,
        _mask: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        self.decode(target, fg, alpha)
    }
    /// The concrete family type, for the front ends that need its weights (export, bench).
    fn as_any(&self) -> &dyn Any;
}

/// How a family's [`StyleCode`] is laid out: how many levels, and which one AdaIN uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub levels: usize,
    pub adain: usize,
}

/// A style reduced to what a network keeps of it: a list of per-channel statistics
/// (`[1, C, 1, 1]` mean/std pairs, one per level of the family's [`Layout`]; MicroAST keeps
/// its filter weights and biases as the last two pairs). Every family's code is linear in
/// these numbers, so a style mix is a weighted sum of levels.
#[derive(Debug, Clone)]
pub struct StyleCode {
    family: Family,
    levels: Vec<Stats>,
    /// Which level AdaIN uses (the family's [`Layout::adain`]).
    adain: usize,
}

impl StyleCode {
    /// A code of a family laid out as `layout` (the family's own files make them).
    pub(super) fn laid_out(family: Family, layout: Layout, levels: Vec<Stats>) -> Self {
        debug_assert_eq!(levels.len(), layout.levels);
        Self { family, levels, adain: layout.adain }
    }

    /// The family the code belongs to.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Every level's statistics.
    pub fn levels(&self) -> &[Stats] {
        &self.levels
    }

    /// The statistics of the AdaIN level.
    pub fn adain_level(&self) -> &Stats {
        &self.levels[self.adain]
    }

    /// Weighted sum (weights sum to 1) of codes of one family.
    pub fn mix(codes: &[StyleCode], weights: &[f64]) -> Result<Self> {
        let first = codes
            .first()
            .ok_or_else(|| Error::setting("style_weights", "[]", "a style mix needs at least one style"))?;
        if codes.iter().any(|c| c.family != first.family) {
            return Err(mixed_families());
        }
        let levels = (0..first.levels.len())
            .map(|k| Stats::mix(&codes.iter().map(|c| c.levels[k].clone()).collect::<Vec<_>>(), weights))
            .collect();
        Ok(Self { family: first.family, levels, adain: first.adain })
    }

    /// The same code on `device`.
    pub fn to_device(&self, device: Device) -> Self {
        let levels = self
            .levels
            .iter()
            .map(|s| Stats { mean: s.mean.to_device(device), std: s.std.to_device(device) })
            .collect();
        Self { family: self.family, levels, adain: self.adain }
    }

    /// Plain numbers, one `(mean, std)` per level (for caches that outlive a device or a thread).
    pub fn to_vecs(&self) -> Vec<(Vec<f32>, Vec<f32>)> {
        self.levels.iter().map(Stats::to_vecs).collect()
    }
}

pub(crate) fn mixed_families() -> Error {
    Error::Unsupported("style codes of another network family".into())
}

/// `style` padded by edge replication to at least `min` on each side.
pub(super) fn pad_small(style: &Tensor, min: i64) -> Tensor {
    let (h, w) = (style.size()[2], style.size()[3]);
    if h < min || w < min {
        style.replication_pad2d([0, (min - w).max(0), 0, (min - h).max(0)])
    } else {
        style.shallow_clone()
    }
}

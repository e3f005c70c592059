//! The lite network's shape, shared by its two implementations: libtorch's
//! ([`super::lite`], training and the full build) and the project's own kernels
//! ([`super::light`], the light build).

use crate::error::{Error, Result};
use std::path::Path;

/// Spatial size multiple the network needs (two stride-2 convs).
pub(crate) const MULTIPLE: i64 = 4;
/// Smallest side: the 1/4 map is then 2 pixels wide, the least a reflection pad of 1 takes.
pub(crate) const MIN_SIDE: i64 = 8;

/// Prefix of the decoder's extra residual blocks: `decoder.extra.<i>.res.conv1.weight`, …
const EXTRA_PREFIX: &str = "decoder.extra.";

/// The network's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteConfig {
    /// Channel widths at full, half and quarter resolution.
    pub widths: [i64; 3],
    /// Modulated residual blocks at 1/4 resolution in the decoder beyond the first: capacity
    /// where texture is made (0: the shipped layout; the libtorch implementation only).
    pub extra_blocks: usize,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self { widths: [16, 32, 64], extra_blocks: 0 }
    }
}

impl LiteConfig {
    /// Whether tensor `name` belongs to one of the decoder's extra blocks (what a grown
    /// network has that the network it grew from lacks; only training grows networks).
    #[cfg(feature = "torch")]
    pub(crate) fn is_extra(name: &str) -> bool {
        name.starts_with(EXTRA_PREFIX)
    }

    /// How many extra decoder blocks a weights file with these tensor names holds.
    pub fn extra_blocks_in<'a>(names: impl IntoIterator<Item = &'a str>) -> usize {
        names
            .into_iter()
            .filter_map(|n| n.strip_prefix(EXTRA_PREFIX)?.split('.').next()?.parse::<usize>().ok())
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }

    /// An error naming `path` when weights with these tensor names have extra decoder blocks,
    /// for the implementations that run only the shipped layout (the light build, ONNX).
    pub(crate) fn shipped_layout<'a>(names: impl IntoIterator<Item = &'a str>, path: &Path) -> Result<()> {
        match Self::extra_blocks_in(names) {
            0 => Ok(()),
            n => Err(Error::weights(
                path,
                format!(
                    "has {n} extra decoder blocks (lite_extra_blocks): the light build and ONNX export run only the shipped layout; use the full build"
                ),
            )),
        }
    }
}

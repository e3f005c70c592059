//! The lite network's shape, shared by its two implementations: libtorch's
//! ([`super::lite`], training and the full build) and the project's own kernels
//! ([`super::light`], the light build).

use crate::error::{Error, Result};
use std::path::Path;

/// Spatial size multiple the network needs (two stride-2 convs).
pub(crate) const MULTIPLE: i64 = 4;
/// Smallest side: the 1/4 map is then 2 pixels wide, the least a reflection pad of 1 takes.
pub(crate) const MIN_SIDE: i64 = 8;

/// Prefix of the decoder's extra residual blocks at 1/4 resolution:
/// `decoder.extra.<i>.res.conv1.weight`, …
const EXTRA_PREFIX: &str = "decoder.extra.";
/// Prefix of the decoder's extra residual blocks at 1/2 resolution: `decoder.extra_half.<i>.…`.
const EXTRA_HALF_PREFIX: &str = "decoder.extra_half.";

/// The network's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteConfig {
    /// Channel widths at full, half and quarter resolution.
    pub widths: [i64; 3],
    /// Modulated residual blocks at 1/4 resolution in the decoder beyond the first: capacity
    /// where texture is made (0: the shipped layout; the libtorch implementation only).
    pub extra_blocks: usize,
    /// Modulated residual blocks at 1/2 resolution, after the first upsampling conv (0: the
    /// shipped layout; the libtorch implementation only).
    pub extra_blocks_half: usize,
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self { widths: [16, 32, 64], extra_blocks: 0, extra_blocks_half: 0 }
    }
}

impl LiteConfig {
    /// Whether tensor `name` belongs to one of the decoder's extra blocks (what a grown
    /// network has that the network it grew from lacks; only training grows networks).
    #[cfg(feature = "torch")]
    pub(crate) fn is_extra(name: &str) -> bool {
        name.starts_with(EXTRA_PREFIX) || name.starts_with(EXTRA_HALF_PREFIX)
    }

    /// The default widths with the extra decoder blocks a weights file with these tensor
    /// names holds, at 1/4 and at 1/2 resolution.
    pub fn with_blocks_of<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let index = |n: &str, prefix: &str| n.strip_prefix(prefix)?.split('.').next()?.parse::<usize>().ok();
        names.into_iter().fold(Self::default(), |mut c, n| {
            if let Some(i) = index(n, EXTRA_PREFIX) {
                c.extra_blocks = c.extra_blocks.max(i + 1);
            }
            if let Some(i) = index(n, EXTRA_HALF_PREFIX) {
                c.extra_blocks_half = c.extra_blocks_half.max(i + 1);
            }
            c
        })
    }

    /// Whether the decoder has blocks beyond the shipped layout.
    pub fn is_grown(&self) -> bool {
        self.extra_blocks + self.extra_blocks_half > 0
    }

    /// An error naming `path` when weights with these tensor names have extra decoder blocks,
    /// for the implementations that run only the shipped layout (the light build, ONNX).
    pub(crate) fn shipped_layout<'a>(names: impl IntoIterator<Item = &'a str>, path: &Path) -> Result<()> {
        let c = Self::with_blocks_of(names);
        if !c.is_grown() {
            return Ok(());
        }
        Err(Error::weights(
            path,
            format!(
                "has extra decoder blocks ({} at 1/4 resolution, {} at 1/2: lite_extra_blocks, lite_extra_blocks_half): the light build and ONNX export run only the shipped layout; use the full build",
                c.extra_blocks, c.extra_blocks_half
            ),
        ))
    }
}

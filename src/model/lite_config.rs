//! The lite network's shape, shared by its two implementations: libtorch's
//! ([`super::lite`], training and the full build) and the project's own kernels
//! ([`super::light`], the light build).

/// Spatial size multiple the network needs (two stride-2 convs).
pub(crate) const MULTIPLE: i64 = 4;
/// Smallest side: the 1/4 map is then 2 pixels wide, the least a reflection pad of 1 takes.
pub(crate) const MIN_SIDE: i64 = 8;

/// Channel widths at full, half and quarter resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteConfig {
    pub widths: [i64; 3],
}

impl Default for LiteConfig {
    fn default() -> Self {
        Self { widths: [16, 32, 64] }
    }
}

//! The seam between libtorch's [`super::Network`] and the network families: one trait
//! ([`TorchNet`]) that every family implements in its own file, a family-neutral
//! [`StyleCode`], and the registry (`load`, [`layout`]) that maps a [`Family`] to its file.
//!
//! Adding a family: one file here implementing [`TorchNet`], one arm in `load` and one in
//! [`layout`]. The light build's runtime ([`super::light`]) runs the lite family on the
//! project's own kernels; both sit behind the runtime seam, [`super::StyleNet`].

mod lite;
mod microast;
mod seam;
mod vgg;

use super::network::NetworkSpec;
use crate::error::Result;
use crate::model::Family;
use std::path::PathBuf;

/// The registry: each family's code layout.
pub fn layout(family: Family) -> Layout {
    match family {
        Family::Vgg => vgg::LAYOUT,
        Family::Lite => lite::LAYOUT,
        Family::MicroAst => microast::LAYOUT,
    }
}

/// The registry: loads `spec`'s family in `spec.precision`; also returns where its weights
/// came from.
pub(super) fn load(spec: &NetworkSpec) -> Result<(Box<dyn TorchNet>, PathBuf)> {
    match spec.family {
        Family::Vgg => Vgg::load(spec),
        Family::Lite => Lite::load(spec),
        Family::MicroAst => MicroAst::load(spec),
    }
}

/// Rebuilding codes needs the registry's layouts.
impl StyleCode {
    /// A code of `family` from its levels; `None` when their number does not fit its layout.
    pub fn new(family: Family, levels: Vec<crate::model::adain::Stats>) -> Option<Self> {
        let l = layout(family);
        (levels.len() == l.levels).then(|| Self::laid_out(family, l, levels))
    }

    /// Rebuilds a code from [`StyleCode::to_vecs`]; `None` when the levels do not fit `family`.
    pub fn from_vecs(family: Family, levels: &[(Vec<f32>, Vec<f32>)]) -> Option<Self> {
        Self::new(family, levels.iter().map(|(m, s)| crate::model::adain::Stats::from_vecs(m, s)).collect())
    }
}

pub use lite::Lite;
pub use microast::MicroAst;
pub(crate) use seam::mixed_families;
pub use seam::{Layout, StyleCode, TorchNet};
pub use vgg::Vgg;

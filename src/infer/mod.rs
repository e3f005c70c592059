//! Inference: the stylization API ([`stylizer`]) and what is built on it.
//!
//! The stylizer is written once over one seam, [`StyleNet`] ([`seam`]), which two runtimes
//! implement: libtorch's [`network::Network`] (every family, full build) and the light
//! kernels' [`light::Network`] (the lite network, both builds). The names at this module's
//! root are the build's runtime: libtorch's in the full build, the light kernels' without it.
#[cfg(feature = "torch")]
pub mod evaluate;
pub mod light;
pub mod motion;
#[cfg(feature = "torch")]
pub mod nets;
#[cfg(feature = "torch")]
pub mod network;
pub mod palette;
pub mod seam;
pub mod settings;
pub mod stylizer;
pub mod tile;
#[cfg(feature = "torch")]
mod tiled;
pub mod video;

pub use crate::model::Family;
#[cfg(not(feature = "torch"))]
pub use light::{Device, Method, Network, NetworkSpec, PreparedStyle, StyleCode, Stylizer, Temporal};
#[cfg(feature = "torch")]
pub use nets::{StyleCode, TorchNet};
#[cfg(feature = "torch")]
pub use network::{Method, Network, NetworkSpec, PreparedStyle, Stylizer, Temporal};
pub use seam::StyleNet;
pub use settings::Settings;
pub use stylizer::StyleSpec;
/// Where the networks run (libtorch's devices; the light build's is this CPU).
#[cfg(feature = "torch")]
pub use tch::Device;
pub use tile::Tile;

//! Inference: the stylization API ([`stylizer`]) and what is built on it.
//!
//! The full build's API runs every family on libtorch; the light build's ([`light`]: the lite
//! network on the project's own kernels) has the same names at this module's root.
#[cfg(feature = "torch")]
pub mod color;
#[cfg(feature = "torch")]
pub mod evaluate;
pub mod light;
#[cfg(feature = "torch")]
pub mod nets;
#[cfg(feature = "torch")]
pub mod network;
pub mod palette;
pub mod settings;
#[cfg(feature = "torch")]
pub mod stylizer;
pub mod tile;
#[cfg(feature = "torch")]
mod tiled;
pub mod video;

pub use crate::model::Family;
#[cfg(not(feature = "torch"))]
pub use light::{Device, Method, Network, NetworkSpec, PreparedStyle, StyleCode, StyleSpec, Stylizer, Temporal};
#[cfg(feature = "torch")]
pub use nets::{StyleCode, StyleNet};
#[cfg(feature = "torch")]
pub use network::{Network, NetworkSpec};
pub use settings::Settings;
#[cfg(feature = "torch")]
pub use stylizer::{Method, PreparedStyle, StyleSpec, Stylizer, Temporal};
/// Where the networks run (libtorch's devices; the light build's is this CPU).
#[cfg(feature = "torch")]
pub use tch::Device;
pub use tile::Tile;

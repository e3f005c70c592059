//! Inference: the stylization API ([`stylizer`]) and what is built on it.
pub mod color;
pub mod evaluate;
pub mod network;
pub mod settings;
pub mod stylizer;
pub mod tile;
pub mod video;

pub use crate::model::Family;
pub use network::{Network, NetworkSpec, StyleCode};
pub use settings::Settings;
pub use stylizer::{Method, PreparedStyle, StyleSpec, Stylizer, Temporal};
pub use tile::Tile;

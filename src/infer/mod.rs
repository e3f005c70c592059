//! Inference: the stylization API ([`stylizer`]) and what is built on it.
pub mod color;
pub mod evaluate;
pub mod stylizer;
pub mod tile;
pub mod video;

pub use stylizer::{Method, Network, PreparedStyle, Settings, StyleSpec, Stylizer, Temporal};
pub use tile::Tile;

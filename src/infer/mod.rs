//! Inference: stylizing images.
pub mod color;
pub mod stylize;
pub mod evaluate;
pub mod tile;
pub mod video;

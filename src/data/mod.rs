//! Data: image decoding and conversion (and, for training, datasets).
#[cfg(feature = "torch")]
pub mod dataset;
pub mod image;

//! Data: image decoding and conversion (and, for training, datasets).
pub mod dataset;
pub mod image;

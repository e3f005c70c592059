//! The networks: the frozen VGG encoder, the AdaIN operation, the decoder, and the model that
//! ties them together.
//!
//! These are tensor-level building blocks in tch's manner: their `forward`s take tensors of
//! the shapes their docs give and panic inside libtorch on others. The checked interface is
//! [`crate::infer::Network`], whose steps return [`crate::Error::Shape`] before libtorch sees
//! a bad tensor; the stylizer, the server and video go through it.
pub mod adain;
pub mod alexnet;
pub mod decoder;
pub mod family;
pub mod lite;
pub mod losses;
pub mod microast;
pub mod precision;
pub mod style_transfer;
pub mod vgg;
pub mod winograd;

pub use adain::{Stats, adain};
pub use decoder::{Decoder, DecoderConfig};
pub use family::Family;
pub use precision::Precision;
pub use style_transfer::StyleTransfer;
pub use vgg::{Encoder, Features, VggConfig};

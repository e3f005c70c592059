//! The networks: the frozen VGG encoder, the AdaIN operation, the decoder, and the model that
//! ties them together; the lite network on libtorch ([`lite`]) and on the project's own
//! kernels ([`light`], the only network of the light build).
//!
//! These are tensor-level building blocks in tch's manner: their `forward`s take tensors of
//! the shapes their docs give and panic inside libtorch on others. The checked interface is
//! [`crate::infer::Network`], whose steps return [`crate::Error::Shape`] before libtorch sees
//! a bad tensor; the stylizer, the server and video go through it.
#[cfg(feature = "torch")]
pub mod adain;
#[cfg(feature = "torch")]
pub mod alexnet;
#[cfg(feature = "torch")]
pub mod decoder;
pub mod family;
pub mod light;
#[cfg(feature = "torch")]
pub mod lite;
pub mod lite_config;
#[cfg(feature = "torch")]
pub mod losses;
#[cfg(feature = "torch")]
pub mod microast;
pub mod precision;
#[cfg(feature = "torch")]
pub mod style_transfer;
#[cfg(feature = "torch")]
pub mod vgg;
#[cfg(feature = "torch")]
pub mod winograd;

#[cfg(feature = "torch")]
pub use adain::{Stats, adain};
#[cfg(feature = "torch")]
pub use decoder::{Decoder, DecoderConfig};
pub use family::Family;
pub use precision::Precision;
#[cfg(feature = "torch")]
pub use style_transfer::StyleTransfer;
#[cfg(feature = "torch")]
pub use vgg::{Encoder, Features, VggConfig};

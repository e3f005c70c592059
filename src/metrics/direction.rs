//! Whether a stylization prefers a direction of the image frame: the measure of the
//! "horizontal streaks" defect.
//!
//! A result's own anisotropy `A = log(E[(∂x g)²] / E[(∂y g)²])` (g: the mean of the RGB
//! channels) mixes three things: the content's structure, the painting's strokes, and the
//! method's preference for the frame's axes. Only the last is a defect, and it is the only one
//! that does not turn with the inputs: stylize the pair as it is, and the pair turned a
//! quarter turn (content and style), turn the second result back, and the content's and the
//! painting's directions are the same in both while the method's preference has swapped axes.
//! Half the difference of their anisotropies is the method's **frame bias**: 0 for a method
//! that treats every direction alike (exactly 0 for pixel-wise methods such as colour
//! transfer), negative when it adds horizontal structure (horizontal streaks raise the
//! vertical derivative), positive for vertical structure. Units: natural log of an energy
//! ratio, so −0.07 is about 7 % more energy across the horizontal lines than along them.

use tch::{Kind, Tensor};

/// `log(E[(∂x g)²] / E[(∂y g)²])` of an image `[3, H, W]` or `[1, 3, H, W]` (g: the mean of
/// the channels; forward differences).
#[cfg(test)]
pub(crate) fn anisotropy(image: &Tensor) -> f64 {
    let x = if image.dim() == 3 { image.unsqueeze(0) } else { image.shallow_clone() };
    anisotropies(&x.to_kind(Kind::Double)).double_value(&[0])
}

/// [`anisotropy`] of each image of a batch `[N, 3, H, W]`, as a differentiable `[N]` tensor
/// (in the batch's float kind).
pub(crate) fn anisotropies(images: &Tensor) -> Tensor {
    let g = images.mean_dim([1i64].as_slice(), false, images.kind());
    let (h, w) = (g.size()[1], g.size()[2]);
    let dx = g.narrow(2, 1, w - 1) - g.narrow(2, 0, w - 1);
    let dy = g.narrow(1, 1, h - 1) - g.narrow(1, 0, h - 1);
    let energy = |d: Tensor| d.square().mean_dim([1i64, 2].as_slice(), false, images.kind());
    (energy(dx) / energy(dy)).log()
}

/// The frame biases of a batch: `upright` `[N, 3, H, W]` results and `turned` `[N, 3, W, H]`
/// results of the same pairs turned a quarter turn clockwise; `[N]`, differentiable (a
/// training penalty).
pub fn frame_biases(upright: &Tensor, turned: &Tensor) -> Tensor {
    (anisotropies(upright) - anisotropies(&turned.rot90(1, [-2, -1]))) / 2.0
}

/// The frame bias of a method from its result on a pair (`upright`) and its result on the
/// pair turned a quarter turn clockwise ([`crate::data::image::turn`] of content and style;
/// `turned`). Both `[3, H, W]` or `[1, 3, H, W]`.
pub fn frame_bias(upright: &Tensor, turned: &Tensor) -> f64 {
    let batch = |x: &Tensor| if x.dim() == 3 { x.unsqueeze(0) } else { x.shallow_clone() }.to_kind(Kind::Double);
    frame_biases(&batch(upright), &batch(turned)).double_value(&[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::turn;

    #[test]
    fn pixelwise_methods_have_no_bias_and_streaks_are_caught_with_their_sign() {
        tch::manual_seed(3);
        // An anisotropic "content": smooth noise stretched horizontally, and a method that
        // keeps it (the identity) — strong anisotropy, no bias.
        let content =
            Tensor::rand([1, 3, 64, 96], tch::kind::FLOAT_CPU).upsample_bilinear2d([96, 192], false, None, None);
        let a = anisotropy(&content);
        assert!(a.abs() > 0.3, "the test content is anisotropic: {a}");
        assert!(frame_bias(&content, &turn(&content)).abs() < 1e-9);
        // A method that adds faint horizontal lines in its own frame.
        let streaks = |x: &Tensor| {
            let h = x.size()[2];
            let rows = Tensor::rand([1, 1, h, 1], tch::kind::FLOAT_CPU) * 0.15;
            x + rows
        };
        let b = frame_bias(&streaks(&content), &streaks(&turn(&content)));
        assert!(b < -0.1, "horizontal streaks: {b}");
        let columns = |x: &Tensor| {
            let w = x.size()[3];
            x + Tensor::rand([1, 1, 1, w], tch::kind::FLOAT_CPU) * 0.15
        };
        let b = frame_bias(&columns(&content), &columns(&turn(&content)));
        assert!(b > 0.1, "vertical streaks: {b}");
    }
}

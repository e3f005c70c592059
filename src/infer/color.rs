//! Colour statistics in pixel space.
//!
//! - `coral`: matches the mean and covariance of one image's RGB values to another's
//!   (CORAL, as pytorch-AdaIN's `--preserve_color` applies it to the style image so that the
//!   stylized result keeps the content's colours).
//! - [`Palette`] and [`match_palette`]: the RGB mean and covariance of the styles, and the
//!   final step of stylization that brings the decoder's colours onto them (the decoder's
//!   textures keep their own colour variety; only their mean and covariance move).

use tch::{Kind, Tensor};

/// Mean `[3, 1]`, centred values `[3, N]` and covariance `[3, 3]` (float64) of an image
/// `[1, 3, H, W]`.
fn moments(x: &Tensor) -> (Tensor, Tensor, Tensor) {
    let flat = x.to_kind(Kind::Double).view([3, -1]);
    let mean = flat.mean_dim([1i64].as_slice(), true, Kind::Double);
    let centred = flat - &mean;
    let cov = centred.matmul(&centred.transpose(0, 1)) / centred.size()[1] as f64;
    (mean, centred, cov)
}

/// Centred pixels `[3, N]` with covariance `cov` mapped onto `target`'s mean and covariance
/// (whitening and colouring, `eps` added to both covariances): `C_t^½ C^-½ x + μ_t`.
fn recolour(centred: &Tensor, cov: &Tensor, target: &Palette, eps: f64) -> Tensor {
    let device = centred.device();
    let eye = Tensor::eye(3, (Kind::Double, device)) * eps;
    let map = sqrtm(&(&target.cov.to_device(device) + &eye), false).matmul(&sqrtm(&(cov + &eye), true));
    map.matmul(centred) + target.mean.to_device(device)
}

/// Symmetric matrix square root via eigen-decomposition (and its inverse when `inverse`).
fn sqrtm(c: &Tensor, inverse: bool) -> Tensor {
    let (vals, vecs) = c.linalg_eigh("L");
    let vals = vals.clamp_min(1e-10).sqrt();
    let vals = if inverse { vals.reciprocal() } else { vals };
    vecs.matmul(&vals.diag_embed(0, -2, -1)).matmul(&vecs.transpose(0, 1))
}

/// Recolours `source` `[1, 3, H, W]` so that its RGB mean and covariance equal `target`'s.
pub(crate) fn coral(source: &Tensor, target: &Tensor) -> Tensor {
    let (_, centred, cov) = moments(source);
    recolour(&centred, &cov, &Palette::of(target), 1e-5).view_as(source).to_kind(source.kind()).clamp(0.0, 1.0)
}

/// The RGB mean `[3, 1]` and covariance `[3, 3]` (float64) of one image or of a weighted
/// mixture of images (the moments of the mixed pixel distribution).
#[derive(Debug)]
pub struct Palette {
    pub(crate) mean: Tensor,
    pub(crate) cov: Tensor,
}

crate::shallow_clone!(Palette { mean, cov });

impl Palette {
    /// The palette of `x: [1, 3, H, W]`.
    pub fn of(x: &Tensor) -> Self {
        let (mean, _, cov) = moments(x);
        Self { mean, cov }
    }

    /// The palette of a mixture: `Σ wᵢ` = 1 assumed; `E[xxᵀ]` mixed, minus the mixed mean's
    /// outer product.
    pub fn mix(parts: &[(Palette, f64)]) -> Self {
        let mean = parts.iter().map(|(p, w)| &p.mean * *w).reduce(|a, b| a + b).expect("at least one palette");
        let second = parts
            .iter()
            .map(|(p, w)| (&p.cov + p.mean.matmul(&p.mean.transpose(0, 1))) * *w)
            .reduce(|a, b| a + b)
            .expect("one");
        let cov = second - mean.matmul(&mean.transpose(0, 1));
        Self { mean, cov }
    }

    /// The same palette on `device`.
    pub fn to_device(&self, device: tch::Device) -> Self {
        Self { mean: self.mean.to_device(device), cov: self.cov.to_device(device) }
    }
}

/// Variance added to both covariances before their square roots (a std of about 2.5/255):
/// an almost flat result is not blown up into noise.
const PALETTE_EPS: f64 = 1e-4;

/// Moves the colours of `x: [1, 3, H, W]` towards `target`'s mean and covariance by
/// `strength` in [0, 1] (0: unchanged; 1: exactly the target's moments, up to clamping):
/// `x' = C_t^½ C_x^-½ (x − μ_x) + μ_t`, blended with `x`.
pub fn match_palette(x: &Tensor, target: &Palette, strength: f64) -> Tensor {
    if strength <= 0.0 {
        return x.shallow_clone();
    }
    let (_, centred, cov) = moments(x);
    let moved = recolour(&centred, &cov, target, PALETTE_EPS).view_as(x).to_kind(x.kind());
    if strength >= 1.0 { moved } else { moved * strength + x * (1.0 - strength) }
}

/// [`match_palette`] on the pixels of `x` where `mask: [H, W]` (bool) is set; the others are
/// unchanged.
pub(crate) fn match_palette_where(x: &Tensor, mask: &Tensor, target: &Palette, strength: f64) -> Tensor {
    let idx = mask.flatten(0, -1).nonzero().squeeze_dim(1);
    if idx.size()[0] == 0 || strength <= 0.0 {
        return x.shallow_clone();
    }
    let flat = x.reshape([3, -1]);
    let sel = flat.index_select(1, &idx).unsqueeze(0).unsqueeze(2); // [1, 3, 1, n]
    let moved = match_palette(&sel, target, strength).reshape([3, -1]);
    flat.index_copy(1, &idx, &moved).view_as(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_matching_reaches_the_target_moments_and_leaves_flat_images_flat() {
        tch::manual_seed(5);
        let opts = (Kind::Float, tch::Device::Cpu);
        let x = Tensor::rand([1, 3, 30, 40], opts) * 0.3 + 0.2;
        let t = Palette::of(&(Tensor::rand([1, 3, 25, 25], opts).pow_tensor_scalar(2.0) * 0.9));
        let y = Palette::of(&match_palette(&x, &t, 1.0));
        assert!((&y.mean - &t.mean).abs().max().double_value(&[]) < 1e-5);
        // Exact up to the regularising variance (1e-4) on both sides.
        let rel = (&y.cov - &t.cov).abs().max().double_value(&[]) / t.cov.abs().max().double_value(&[]);
        assert!(rel < 0.03, "covariance off by {rel}");
        assert_eq!(match_palette(&x, &t, 0.0), x);
        // A flat image stays flat (it takes the target's mean).
        let flat = Tensor::full([1, 3, 8, 8], 0.4, opts);
        let f = match_palette(&flat, &t, 1.0);
        assert!(f.std_dim([2i64, 3].as_slice(), true, false).max().double_value(&[]) < 1e-6);
        // A mixture's moments are those of the pooled pixels.
        let (a, b) = (Tensor::rand([1, 3, 10, 10], opts), Tensor::rand([1, 3, 10, 10], opts) * 0.5 + 0.5);
        let mixed = Palette::mix(&[(Palette::of(&a), 0.5), (Palette::of(&b), 0.5)]);
        let pooled = Palette::of(&Tensor::cat(&[&a, &b], 3));
        assert!((&mixed.cov - &pooled.cov).abs().max().double_value(&[]) < 1e-9);
    }

    #[test]
    fn coral_matches_mean_and_covariance() {
        tch::manual_seed(3);
        let opts = (Kind::Float, tch::Device::Cpu);
        let a = Tensor::rand([1, 3, 20, 30], opts) * 0.5;
        let mix = Tensor::from_slice(&[0.5f32, 0.2, 0.0, 0.1, 0.3, 0.1, 0.0, 0.1, 0.2]).view([3, 3]);
        let b = (mix.matmul(&Tensor::rand([3, 500], opts)) + 0.2).view([1, 3, 20, 25]);
        let out = coral(&a, &b);
        let (m_o, _, cov_o) = moments(&out);
        let (m_b, _, cov_b) = moments(&b);
        assert!((m_o - m_b).abs().max().double_value(&[]) < 1e-3);
        assert!((cov_o - cov_b).abs().max().double_value(&[]) < 1e-3);
    }
}

//! Colour statistics in pixel space.
//!
//! - [`coral`]: matches the mean and covariance of one image's RGB values to another's
//!   (CORAL, as pytorch-AdaIN's `--preserve_color` applies it to the style image so that the
//!   stylized result keeps the content's colours).
//! - [`color_transfer`]: the per-channel baseline: content pixels re-scaled to the style's
//!   per-channel mean/std, i.e. AdaIN in pixel space.

use tch::{Kind, Tensor};

/// Mean `[3, 1]` and centred values `[3, N]` of an image `[1, 3, H, W]`.
fn centred(x: &Tensor) -> (Tensor, Tensor) {
    let flat = x.to_kind(Kind::Double).view([3, -1]);
    let mean = flat.mean_dim([1i64].as_slice(), true, Kind::Double);
    (mean.shallow_clone(), flat - mean)
}

/// Symmetric matrix square root via eigen-decomposition (and its inverse when `inverse`).
fn sqrtm(c: &Tensor, inverse: bool) -> Tensor {
    let (vals, vecs) = c.linalg_eigh("L");
    let vals = vals.clamp_min(1e-10).sqrt();
    let vals = if inverse { vals.reciprocal() } else { vals };
    vecs.matmul(&vals.diag_embed(0, -2, -1)).matmul(&vecs.transpose(0, 1))
}

/// Recolours `source` `[1, 3, H, W]` so that its RGB mean and covariance equal `target`'s.
pub fn coral(source: &Tensor, target: &Tensor) -> Tensor {
    let (_, sc) = centred(source);
    let (tm, tc) = centred(target);
    let n_s = sc.size()[1] as f64;
    let n_t = tc.size()[1] as f64;
    let eye = Tensor::eye(3, (Kind::Double, source.device())) * 1e-5;
    let cov_s = sc.matmul(&sc.transpose(0, 1)) / n_s + &eye;
    let cov_t = tc.matmul(&tc.transpose(0, 1)) / n_t + &eye;
    let out = sqrtm(&cov_t, false).matmul(&sqrtm(&cov_s, true)).matmul(&sc) + tm;
    out.view_as(source).to_kind(source.kind()).clamp(0.0, 1.0)
}

/// Re-scales `content` `[1, 3, H, W]` to `style`'s per-channel mean and std.
pub fn color_transfer(content: &Tensor, style: &Tensor) -> Tensor {
    crate::model::adain::adain(content, style, crate::model::adain::EPS).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coral_matches_mean_and_covariance() {
        tch::manual_seed(3);
        let opts = (Kind::Float, tch::Device::Cpu);
        let a = Tensor::rand([1, 3, 20, 30], opts) * 0.5;
        let mix = Tensor::from_slice(&[0.5f32, 0.2, 0.0, 0.1, 0.3, 0.1, 0.0, 0.1, 0.2]).view([3, 3]);
        let b = (mix.matmul(&Tensor::rand([3, 500], opts)) + 0.2).view([1, 3, 20, 25]);
        let out = coral(&a, &b);
        let (m_o, c_o) = centred(&out);
        let (m_b, c_b) = centred(&b);
        let cov = |c: &Tensor| c.matmul(&c.transpose(0, 1)) / c.size()[1] as f64;
        assert!((m_o - m_b).abs().max().double_value(&[]) < 1e-3);
        assert!((cov(&c_o) - cov(&c_b)).abs().max().double_value(&[]) < 1e-3);
    }
}

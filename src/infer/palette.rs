//! Colour statistics in pixel space, for both builds' stylizer: the RGB mean and covariance of an image ([`Palette`]), moving an image onto another's
//! ([`match_palette`], the last step of stylization) and CORAL ([`coral`], which recolours
//! the styles to the content for `preserve_color`).

// 3×3 matrix arithmetic reads best with indices.
#![allow(clippy::needless_range_loop)]

use image::Rgb32FImage;

type Mat3 = [[f64; 3]; 3];

/// The RGB mean and covariance (biased, float64) of one image or of a weighted mixture of
/// images (the moments of the mixed pixel distribution).
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub mean: [f64; 3],
    pub cov: Mat3,
}

impl Palette {
    /// The palette of an image: one pass over the pixels, sums and products in float64
    /// (values in [0, 1], so `E[xxᵀ] − μμᵀ` loses nothing that matters at these sizes).
    pub fn of(image: &Rgb32FImage) -> Self {
        let n = (image.width() as f64 * image.height() as f64).max(1.0);
        let (mut sum, mut prod) = ([0f64; 3], [0f64; 6]);
        for p in image.as_raw().chunks_exact(3) {
            let (r, g, b) = (p[0] as f64, p[1] as f64, p[2] as f64);
            sum[0] += r;
            sum[1] += g;
            sum[2] += b;
            prod[0] += r * r;
            prod[1] += r * g;
            prod[2] += r * b;
            prod[3] += g * g;
            prod[4] += g * b;
            prod[5] += b * b;
        }
        let mean = sum.map(|v| v / n);
        let at = |i: usize, j: usize| match (i.min(j), i.max(j)) {
            (0, 0) => 0,
            (0, 1) => 1,
            (0, 2) => 2,
            (1, 1) => 3,
            (1, 2) => 4,
            _ => 5,
        };
        let cov = std::array::from_fn(|i| std::array::from_fn(|j| prod[at(i, j)] / n - mean[i] * mean[j]));
        Self { mean, cov }
    }

    /// The palette of a mixture (`Σ wᵢ = 1` assumed): `E[xxᵀ]` mixed, minus the mixed mean's
    /// outer product.
    pub fn mix(parts: &[(Palette, f64)]) -> Self {
        let mut mean = [0f64; 3];
        let mut second = [[0f64; 3]; 3];
        for (p, w) in parts {
            for i in 0..3 {
                mean[i] += p.mean[i] * w;
                for j in 0..3 {
                    second[i][j] += (p.cov[i][j] + p.mean[i] * p.mean[j]) * w;
                }
            }
        }
        let cov = std::array::from_fn(|i| std::array::from_fn(|j| second[i][j] - mean[i] * mean[j]));
        Self { mean, cov }
    }
}

/// Variance added to both covariances before their square roots in [`match_palette`] (a std
/// of about 2.5/255): an almost flat result is not blown up into noise.
const PALETTE_EPS: f64 = 1e-4;

fn matmul(a: &Mat3, b: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// Eigen-decomposition of a symmetric 3×3 matrix by Jacobi rotations: `(values, vectors)`
/// with the eigenvectors as columns.
fn eigh(mut a: Mat3) -> ([f64; 3], Mat3) {
    let mut v: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..50 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        if off < 1e-30 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
            for row in v.iter_mut() {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// Symmetric matrix square root (its inverse when `inverse`), eigenvalues floored at 1e-10.
fn sqrtm(c: &Mat3, inverse: bool) -> Mat3 {
    let (vals, vecs) = eigh(*c);
    let d = vals.map(|x| {
        let r = x.max(1e-10).sqrt();
        if inverse { 1.0 / r } else { r }
    });
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| vecs[i][k] * d[k] * vecs[j][k]).sum()))
}

/// Pixels of `x` (palette `own`) mapped onto `target`'s mean and covariance, whitening and
/// colouring with `eps` added to both covariances: `C_t^½ C^-½ (x − μ) + μ_t`, blended with
/// `x` by `strength` (float32, not clamped). The map and the blend make one affine map per
/// pixel, `A x + c`, applied in float32.
fn recolour(x: &Rgb32FImage, own: &Palette, target: &Palette, eps: f64, strength: f64) -> Rgb32FImage {
    let reg = |c: &Mat3| -> Mat3 {
        std::array::from_fn(|i| std::array::from_fn(|j| c[i][j] + if i == j { eps } else { 0.0 }))
    };
    let m = matmul(&sqrtm(&reg(&target.cov), false), &sqrtm(&reg(&own.cov), true));
    let s = strength.min(1.0);
    let a: [[f32; 3]; 3] =
        std::array::from_fn(|i| std::array::from_fn(|j| (s * m[i][j] + if i == j { 1.0 - s } else { 0.0 }) as f32));
    let c: [f32; 3] =
        std::array::from_fn(|i| (s * (target.mean[i] - (0..3).map(|k| m[i][k] * own.mean[k]).sum::<f64>())) as f32);
    let mut out = x.clone();
    for p in out.chunks_exact_mut(3) {
        let (r, g, b) = (p[0], p[1], p[2]);
        for i in 0..3 {
            p[i] = a[i][0] * r + a[i][1] * g + a[i][2] * b + c[i];
        }
    }
    out
}

/// Moves the colours of `x` towards `target`'s mean and covariance by `strength` in [0, 1]
/// (0: unchanged; 1: exactly the target's moments, up to clamping).
pub fn match_palette(x: &Rgb32FImage, target: &Palette, strength: f64) -> Rgb32FImage {
    if strength <= 0.0 {
        return x.clone();
    }
    recolour(x, &Palette::of(x), target, PALETTE_EPS, strength)
}

/// [`match_palette`] on the pixels of `x` where `mask` (row-major, one per pixel) is set; the
/// others are unchanged.
pub fn match_palette_where(x: &Rgb32FImage, mask: &[bool], target: &Palette, strength: f64) -> Rgb32FImage {
    let selected: Vec<f32> = x.pixels().zip(mask).filter(|(_, m)| **m).flat_map(|(p, _)| p.0).collect();
    let n = selected.len() / 3;
    if n == 0 || strength <= 0.0 {
        return x.clone();
    }
    let part = Rgb32FImage::from_raw(n as u32, 1, selected).expect("three values a pixel");
    let moved = match_palette(&part, target, strength);
    let mut out = x.clone();
    for ((p, _), q) in out.pixels_mut().zip(mask).filter(|(_, m)| **m).zip(moved.pixels()) {
        p.0 = q.0;
    }
    out
}

/// `source` recoloured so that its RGB mean and covariance equal `target`'s (CORAL), clamped
/// to [0, 1].
pub fn coral(source: &Rgb32FImage, target: &Rgb32FImage) -> Rgb32FImage {
    let mut out = recolour(source, &Palette::of(source), &Palette::of(target), 1e-5, 1.0);
    out.pixels_mut().flat_map(|p| p.0.iter_mut()).for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [f32; 3]) -> Rgb32FImage {
        Rgb32FImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
    }

    #[test]
    fn the_square_root_squares_back_and_inverts() {
        let c = [[0.04, 0.01, 0.002], [0.01, 0.03, 0.005], [0.002, 0.005, 0.02]];
        let r = sqrtm(&c, false);
        let back = matmul(&r, &r);
        let ident = matmul(&r, &sqrtm(&c, true));
        for i in 0..3 {
            for j in 0..3 {
                assert!((back[i][j] - c[i][j]).abs() < 1e-12, "{back:?}");
                assert!((ident[i][j] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "{ident:?}");
            }
        }
    }

    #[test]
    fn palette_matching_reaches_the_target_and_mixtures_pool_their_pixels() {
        // Pseudo-random pixels with full-rank covariances.
        let r = |i: u32| ((i.wrapping_mul(2654435761) >> 8) % 1000) as f32 / 1000.0;
        let x = image(30, 20, |x, y| {
            let i = y * 30 + x;
            [0.2 + 0.3 * r(i), 0.3 + 0.2 * r(i + 7919) + 0.1 * r(i), 0.6 - 0.4 * r(i + 104729)]
        });
        let s = image(25, 25, |x, y| {
            let i = y * 25 + x + 5000;
            let v = r(i);
            [v * v * 0.9, 0.5 * r(i + 31) + 0.3 * v, 0.2 + 0.1 * r(i + 77)]
        });
        let t = Palette::of(&s);
        let y = Palette::of(&match_palette(&x, &t, 1.0));
        for i in 0..3 {
            assert!((y.mean[i] - t.mean[i]).abs() < 1e-5);
            for j in 0..3 {
                assert!((y.cov[i][j] - t.cov[i][j]).abs() < 0.03 * 0.1, "{y:?} {t:?}");
            }
        }
        assert_eq!(match_palette(&x, &t, 0.0), x);
        // A flat image stays flat (it takes the target's mean).
        let flat = match_palette(&image(8, 8, |_, _| [0.4; 3]), &t, 1.0);
        assert!(flat.pixels().all(|p| (0..3).all(|k| (p.0[k] - flat.get_pixel(0, 0).0[k]).abs() < 1e-6)));
        assert!((0..3).all(|k| (flat.get_pixel(0, 0).0[k] as f64 - t.mean[k]).abs() < 1e-5));
        // CORAL moves the whole image onto the other's mean and covariance.
        let (c, t) = (Palette::of(&coral(&s, &x)), Palette::of(&x));
        for i in 0..3 {
            assert!((c.mean[i] - t.mean[i]).abs() < 1e-3, "{c:?} {t:?}");
            for j in 0..3 {
                assert!((c.cov[i][j] - t.cov[i][j]).abs() < 1e-3, "{c:?} {t:?}");
            }
        }
        let both =
            image(50, 20, |xx, yy| if xx < 30 { x.get_pixel(xx, yy).0 } else { [0.9, 0.1, (yy % 3) as f32 / 3.0] });
        let right = image(20, 20, |_, yy| [0.9, 0.1, (yy % 3) as f32 / 3.0]);
        let mixed = Palette::mix(&[(Palette::of(&x), 0.6), (Palette::of(&right), 0.4)]);
        let pooled = Palette::of(&both);
        for i in 0..3 {
            for j in 0..3 {
                assert!((mixed.cov[i][j] - pooled.cov[i][j]).abs() < 1e-6);
            }
        }
    }
}

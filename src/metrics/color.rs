//! Colour distance between two images: the sliced Wasserstein-1 distance between their pixel
//! distributions in CIE Lab (D65), in Lab units (L in 0..100).
//!
//! Each image's pixels are points in Lab space; both point sets are projected on 64 fixed
//! directions (the Fibonacci lattice on the sphere: no random seed to carry around), and for
//! each direction the 1-D W1 distance is the mean absolute difference of 256 quantiles (level
//! `(j + 0.5) / 256`, the sorted value at index `floor(level · N)`), so images of different
//! sizes compare directly. Images above 65 536 pixels are subsampled on a regular stride. The result is the mean over the directions. Unlike a per-channel
//! mean/std match, it sees the whole palette: a result with the painting's average colour but
//! not its darks, lights and accents stays far.

use tch::{Kind, Tensor};

/// Number of projection directions.
pub(crate) const DIRECTIONS: usize = 64;
/// Number of quantiles compared per direction.
pub(crate) const QUANTILES: i64 = 256;
/// Larger images are subsampled on a regular stride (every k-th pixel in raster order, k the
/// smallest that leaves at most this many), which keeps the sort cheap; no randomness.
pub(crate) const MAX_POINTS: i64 = 65_536;

/// sRGB `[B, 3, H, W]` in [0, 1] (clamped) → CIE Lab (D65), float64.
pub(crate) fn srgb_to_lab(x: &Tensor) -> Tensor {
    let x = x.to_kind(Kind::Double).clamp(0.0, 1.0);
    let lin = (x.shallow_clone() / 12.92).where_self(&x.le(0.04045), &((x + 0.055) / 1.055).pow_tensor_scalar(2.4));
    let m = Tensor::from_slice(&[
        0.4124564, 0.3575761, 0.1804375, 0.2126729, 0.7151522, 0.0721750, 0.0193339, 0.1191920, 0.9503041,
    ])
    .view([3, 3])
    .to_device(lin.device());
    let white = Tensor::from_slice(&[0.95047, 1.0, 1.08883]).view([1, 3, 1, 1]).to_device(lin.device());
    let xyz = Tensor::einsum("ij,bjhw->bihw", &[m, lin], None::<i64>) / white;
    let d: f64 = 6.0 / 29.0;
    let f = (&xyz / (3.0 * d * d) + 4.0 / 29.0)
        .where_self(&xyz.le(d.powi(3)), &xyz.clamp_min(1e-12).pow_tensor_scalar(1.0 / 3.0));
    let (fx, fy, fz) = (f.select(1, 0), f.select(1, 1), f.select(1, 2));
    Tensor::stack(&[&fy * 116.0 - 16.0, (&fx - &fy) * 500.0, (&fy - &fz) * 200.0], 1)
}

/// `k` unit vectors spread evenly over the sphere (Fibonacci lattice): `[k, 3]`, float64.
pub(crate) fn fibonacci_directions(k: usize) -> Tensor {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let v: Vec<f64> = (0..k)
        .flat_map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / k as f64;
            let r = (1.0 - z * z).max(0.0).sqrt();
            let phi = i as f64 * golden;
            [r * phi.cos(), r * phi.sin(), z]
        })
        .collect();
    Tensor::from_slice(&v).view([k as i64, 3])
}

/// The 256 quantiles of each row of `p: [K, N]`.
fn quantiles(p: &Tensor) -> Tensor {
    let n = p.size()[1];
    let idx: Vec<i64> = (0..QUANTILES).map(|j| ((((j as f64) + 0.5) / QUANTILES as f64) * n as f64) as i64).collect();
    let (sorted, _) = p.sort(1, false);
    sorted.index_select(1, &Tensor::from_slice(&idx).to_device(p.device()))
}

/// An image's palette as the metric sees it: the quantiles of its Lab pixels projected on
/// each direction, `[DIRECTIONS, QUANTILES]`.
pub struct Palette(Tensor);

impl Palette {
    /// The palette of `x: [1, 3, H, W]` in [0, 1].
    pub fn of(x: &Tensor) -> Self {
        let _g = tch::no_grad_guard();
        let dirs = fibonacci_directions(DIRECTIONS).to_device(x.device());
        let lab = srgb_to_lab(x).get(0).reshape([3, -1]);
        let n = lab.size()[1];
        let step = (n + MAX_POINTS - 1) / MAX_POINTS;
        let lab = if step > 1 { lab.slice(1, 0, n, step) } else { lab };
        Self(quantiles(&dirs.matmul(&lab)))
    }

    /// The sliced Wasserstein-1 distance to another palette.
    pub fn distance(&self, other: &Palette) -> f64 {
        (&self.0 - &other.0).abs().mean(Kind::Double).double_value(&[])
    }
}

/// Sliced Wasserstein-1 distance between the Lab pixel distributions of `a` and `b`
/// (`[1, 3, H, W]` in [0, 1], any sizes).
pub fn distance(a: &Tensor, b: &Tensor) -> f64 {
    Palette::of(a).distance(&Palette::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_of_reference_colours() {
        // White, black and sRGB red have well-known Lab values.
        let x = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).view([1, 3, 1, 3]);
        let lab = srgb_to_lab(&x);
        let at = |c: i64, i: i64| lab.double_value(&[0, c, 0, i]);
        assert!((at(0, 0) - 100.0).abs() < 1e-3 && at(1, 0).abs() < 1e-3 && at(2, 0).abs() < 1e-3);
        assert!(at(0, 1).abs() < 1e-6);
        assert!((at(0, 2) - 53.24).abs() < 0.01 && (at(1, 2) - 80.09).abs() < 0.01 && (at(2, 2) - 67.20).abs() < 0.01);
    }

    #[test]
    fn distance_is_zero_for_the_same_palette_and_grows_with_a_shift() {
        tch::manual_seed(3);
        let a = Tensor::rand([1, 3, 40, 30], (Kind::Float, tch::Device::Cpu));
        // A permutation of the pixels has the same distribution.
        let perm = a.flatten(2, 3).flip([2]).view([1, 3, 40, 30]);
        assert!(distance(&a, &perm) < 1e-9);
        let darker = &a * 0.8;
        let much_darker = &a * 0.5;
        let (d1, d2) = (distance(&a, &darker), distance(&a, &much_darker));
        assert!(d1 > 1.0 && d2 > d1, "{d1} {d2}");
    }

    #[test]
    fn directions_are_unit_vectors() {
        let d = fibonacci_directions(DIRECTIONS);
        let n = d.square().sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
        assert!((n - 1.0).abs().max().double_value(&[]) < 1e-12);
    }
}

//! The light build's one layer: a 3×3 convolution behind a reflection pad of 1, as an
//! im2col matrix product over bands of output pixels (each band's patches stay in cache;
//! bands run in parallel on rayon's threads).

use super::map::Map;
use super::store::StorePath;
use crate::error::Result;
use rayon::prelude::*;

/// How a convolution reads its input `[h, w, C_in]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Stride 1: the output is `[h, w]`.
    Same,
    /// Stride 2: `[⌈h/2⌉, ⌈w/2⌉]`.
    Stride2,
    /// The input nearest-upsampled 2× first (read in place, never built): `[2h, 2w]`.
    Up2,
}

/// What happens to a pixel's outputs after the bias, in the same pass.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    None,
    Relu,
    /// `x + conv(·)` with `x` of the output's shape (a residual block's second conv).
    Residual(&'a Map),
}

/// A 3×3 convolution with bias (PyTorch's `Conv2d(c_in, c_out, 3)` weights).
#[derive(Debug, Clone)]
pub struct Conv3 {
    c_in: usize,
    c_out: usize,
    /// `[9·C_in, C_out]`: row `(ky·3 + kx)·C_in + ci` holds the filters' tap `(ky, kx)` of
    /// input channel `ci`.
    w: Vec<f32>,
    b: Vec<f32>,
}

/// Output pixels per band: about 64 KiB of patches (at least 64 pixels).
fn band_pixels(k: usize) -> usize {
    (16384 / k).max(64)
}

/// Index of tap `i ∈ [-1, n]` after a reflection pad of 1 (`n ≥ 2`).
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    if i < 0 {
        (-i) as usize
    } else if i as usize >= n {
        2 * n - 2 - i as usize
    } else {
        i as usize
    }
}

impl Conv3 {
    /// Reads `weight: [c_out, c_in, 3, 3]` and `bias: [c_out]` under `p`.
    pub fn new(p: &StorePath, c_in: usize, c_out: usize) -> Result<Self> {
        let w = p.get("weight", &[c_out, c_in, 3, 3])?;
        let b = p.get("bias", &[c_out])?.to_vec();
        let mut packed = vec![0f32; 9 * c_in * c_out];
        for co in 0..c_out {
            for ci in 0..c_in {
                for t in 0..9 {
                    packed[(t * c_in + ci) * c_out + co] = w[(co * c_in + ci) * 9 + t];
                }
            }
        }
        Ok(Self { c_in, c_out, w: packed, b })
    }

    pub fn c_in(&self) -> usize {
        self.c_in
    }

    pub fn c_out(&self) -> usize {
        self.c_out
    }

    /// The same conv followed by a per-channel affine map, `conv(x)·s + t`, folded into the
    /// filters and bias (`w·s`, `b·s + t`): the style modulation costs no pass over the map.
    pub fn modulated(&self, scale: &[f32], shift: &[f32]) -> Conv3 {
        let mut w = self.w.clone();
        for row in w.chunks_exact_mut(self.c_out) {
            for (v, s) in row.iter_mut().zip(scale) {
                *v *= s;
            }
        }
        let b = self.b.iter().zip(scale).zip(shift).map(|((b, s), t)| b * s + t).collect();
        Conv3 { c_in: self.c_in, c_out: self.c_out, w, b }
    }

    /// `conv(pad(x))` sampled as `sampling` says, then `epilogue`: `[H, W, C_out]`.
    /// Needs `x.c == C_in` and sides of at least 2 (the reflection pad).
    pub fn forward(&self, x: &Map, sampling: Sampling, epilogue: Epilogue) -> Map {
        assert_eq!(x.c, self.c_in, "input channels");
        assert!(x.h >= 2 && x.w >= 2, "a reflection pad of 1 needs sides of at least 2");
        let (oh, ow) = match sampling {
            Sampling::Same => (x.h, x.w),
            Sampling::Stride2 => (x.h.div_ceil(2), x.w.div_ceil(2)),
            Sampling::Up2 => (2 * x.h, 2 * x.w),
        };
        if let Epilogue::Residual(r) = epilogue {
            assert_eq!((r.h, r.w, r.c), (oh, ow, self.c_out), "residual shape");
        }
        let (k, n) = (9 * self.c_in, self.c_out);
        let band = band_pixels(k);
        let mut out = Map::zeros(oh, ow, n);
        out.data.par_chunks_mut(band * n).enumerate().for_each_init(Vec::new, |patches, (i, dst)| {
            let first = i * band;
            let m = dst.len() / n;
            patches.resize(m * k, 0.0);
            self.im2col(x, sampling, ow, first, m, patches);
            for row in dst.chunks_exact_mut(n) {
                row.copy_from_slice(&self.b);
            }
            // SAFETY: `dst` is `m × n` row-major, `patches` `m × k`, `self.w` `k × n`, all
            // contiguous with the strides given and alive for the call; no aliasing (dst is
            // this band's own slice of the output).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    dst.as_mut_ptr(),
                    1,
                    n as isize,
                    true,
                    patches.as_ptr(),
                    1,
                    k as isize,
                    self.w.as_ptr(),
                    1,
                    n as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            match epilogue {
                Epilogue::None => {}
                Epilogue::Relu => dst.iter_mut().for_each(|v| *v = v.max(0.0)),
                Epilogue::Residual(r) => {
                    dst.iter_mut().zip(&r.data[first * n..][..m * n]).for_each(|(v, r)| *v += r);
                }
            }
        });
        out
    }

    /// Patches `[m, 9·C_in]` of output pixels `first..first + m` (row-major over an output
    /// of width `ow`).
    fn im2col(&self, x: &Map, sampling: Sampling, ow: usize, first: usize, m: usize, patches: &mut [f32]) {
        let c = self.c_in;
        let k = 9 * c;
        // Input row/column of output coordinate `o` and tap `d ∈ {0, 1, 2}`.
        let at = |o: usize, d: usize, n: usize| -> usize {
            match sampling {
                Sampling::Same => reflect(o as isize + d as isize - 1, n),
                Sampling::Stride2 => reflect(2 * o as isize + d as isize - 1, n),
                Sampling::Up2 => reflect(o as isize + d as isize - 1, 2 * n) / 2,
            }
        };
        for (j, patch) in patches[..m * k].chunks_exact_mut(k).enumerate() {
            let (oy, ox) = ((first + j) / ow, (first + j) % ow);
            let cols = [at(ox, 0, x.w), at(ox, 1, x.w), at(ox, 2, x.w)];
            for ky in 0..3 {
                let row = &x.data[at(oy, ky, x.h) * x.w * c..][..x.w * c];
                if sampling == Sampling::Same && cols[0] + 2 == cols[2] {
                    // Interior: the three taps of this row are adjacent pixels.
                    patch[ky * 3 * c..][..3 * c].copy_from_slice(&row[cols[0] * c..][..3 * c]);
                } else {
                    for (kx, &ix) in cols.iter().enumerate() {
                        patch[(ky * 3 + kx) * c..][..c].copy_from_slice(&row[ix * c..][..c]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::light::Store;

    /// The direct definition: out(y, x, co) = b + Σ w · x(reflect(...)) for the sampled input.
    fn direct(w: &[f32], b: &[f32], x: &Map, c_out: usize, sampling: Sampling) -> Map {
        let up = |m: &Map| {
            let mut u = Map::zeros(2 * m.h, 2 * m.w, m.c);
            for y in 0..u.h {
                for xx in 0..u.w {
                    for c in 0..m.c {
                        u.data[(y * u.w + xx) * m.c + c] = m.data[((y / 2) * m.w + xx / 2) * m.c + c];
                    }
                }
            }
            u
        };
        let (src, stride) = match sampling {
            Sampling::Same => (x.clone(), 1),
            Sampling::Stride2 => (x.clone(), 2),
            Sampling::Up2 => (up(x), 1),
        };
        let (oh, ow) = (src.h.div_ceil(stride), src.w.div_ceil(stride));
        let mut out = Map::zeros(oh, ow, c_out);
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..c_out {
                    let mut s = b[co] as f64;
                    for ci in 0..src.c {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let iy = reflect((oy * stride + ky) as isize - 1, src.h);
                                let ix = reflect((ox * stride + kx) as isize - 1, src.w);
                                s += w[((co * src.c + ci) * 3 + ky) * 3 + kx] as f64
                                    * src.data[(iy * src.w + ix) * src.c + ci] as f64;
                            }
                        }
                    }
                    out.data[(oy * ow + ox) * c_out + co] = s as f32;
                }
            }
        }
        out
    }

    #[test]
    fn every_sampling_matches_the_direct_convolution() {
        let (c_in, c_out) = (5, 7);
        let val = |i: usize| ((i * 2654435761) % 1000) as f32 / 500.0 - 1.0;
        let w: Vec<f32> = (0..c_out * c_in * 9).map(val).collect();
        let b: Vec<f32> = (0..c_out).map(|i| val(i + 77)).collect();
        let store = Store::from_tensors(vec![
            ("c.weight".into(), vec![c_out, c_in, 3, 3], w.clone()),
            ("c.bias".into(), vec![c_out], b.clone()),
        ]);
        let conv = Conv3::new(&store.root().sub("c"), c_in, c_out).unwrap();
        for (h, wd) in [(2, 2), (7, 5), (40, 33)] {
            let x = Map::from_data(h, wd, c_in, (0..h * wd * c_in).map(|i| val(i + 5)).collect()).unwrap();
            for s in [Sampling::Same, Sampling::Stride2, Sampling::Up2] {
                let got = conv.forward(&x, s, Epilogue::None);
                let want = direct(&w, &b, &x, c_out, s);
                assert_eq!((got.h, got.w), (want.h, want.w), "{s:?}");
                let err = got.data.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(err < 1e-4, "{s:?} {h}×{wd}: max error {err}");
                let relu = conv.forward(&x, s, Epilogue::Relu);
                assert!(relu.data.iter().zip(&got.data).all(|(r, g)| *r == g.max(0.0)));
            }
        }
    }
}

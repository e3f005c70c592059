//! Feature maps of the light kernels and their per-channel statistics.

use crate::error::{Error, Result};

/// A feature map `[H, W, C]`, channels last (pixel `(y, x)` holds `data[(y·W + x)·C ..][..C]`),
/// float32. An RGB image is a map with C = 3, laid out as `image`'s `Rgb32FImage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

/// A binary mask `[H, W]` (row-major), e.g. where the first of two styles applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub h: usize,
    pub w: usize,
    pub data: Vec<bool>,
}

impl Mask {
    /// Nearest-downsampled by an integer `factor` (pixel `(y, x)` takes `(y·f, x·f)`, as
    /// libtorch's `upsample_nearest2d` to `H/f × W/f` does).
    pub fn down(&self, factor: usize) -> Mask {
        let (h, w) = (self.h / factor, self.w / factor);
        let data = (0..h * w).map(|i| self.data[(i / w) * factor * self.w + (i % w) * factor]).collect();
        Mask { h, w, data }
    }

    /// The same mask with every value flipped.
    pub fn not(&self) -> Mask {
        Mask { data: self.data.iter().map(|v| !v).collect(), ..*self }
    }
}

/// Per-channel mean and standard deviation of a map over its pixels (biased variance plus ε
/// under the square root, as AdaIN takes them), `C` each.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl ChannelStats {
    /// Weighted sum of several statistics (`weights` sum to 1): AdaIN and the decoder's
    /// modulation are affine in them, so this mixes styles.
    pub fn mix(stats: &[&ChannelStats], weights: &[f64]) -> Self {
        let c = stats.first().map_or(0, |s| s.mean.len());
        let sum = |get: fn(&ChannelStats) -> &Vec<f32>| -> Vec<f32> {
            (0..c).map(|k| stats.iter().zip(weights).map(|(s, w)| get(s)[k] as f64 * w).sum::<f64>() as f32).collect()
        };
        Self { mean: sum(|s| &s.mean), std: sum(|s| &s.std) }
    }
}

impl Map {
    /// A map of zeros.
    pub fn zeros(h: usize, w: usize, c: usize) -> Self {
        Self { h, w, c, data: vec![0.0; h * w * c] }
    }

    /// A map from its data; `Error::Shape` when the length is not `h·w·c`.
    pub fn from_data(h: usize, w: usize, c: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != h * w * c {
            return Err(Error::Shape {
                what: "feature map".into(),
                expected: format!("[{h}, {w}, {c}] ({} values)", h * w * c),
                got: vec![data.len() as i64],
            });
        }
        Ok(Self { h, w, c, data })
    }

    /// The RGB pixels of an image as a `[H, W, 3]` map.
    pub fn from_image(image: &image::Rgb32FImage) -> Self {
        let (w, h) = image.dimensions();
        Self { h: h as usize, w: w as usize, c: 3, data: image.as_raw().clone() }
    }

    /// The top-left `h × w` of a 3-channel map as an image, clamped to [0, 1] (in place: a
    /// video frame's map becomes its image without a copy).
    pub fn to_image(self, h: usize, w: usize) -> image::Rgb32FImage {
        assert_eq!(self.c, 3, "an image has three channels");
        let mut data = self.crop(h, w).data;
        data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        image::Rgb32FImage::from_raw(w as u32, h as u32, data).expect("buffer matches dimensions")
    }

    /// The top-left `h × w` (at most the map's size).
    pub fn crop(self, h: usize, w: usize) -> Map {
        let (h, w) = (h.min(self.h), w.min(self.w));
        if (h, w) == (self.h, self.w) {
            return self;
        }
        let mut data = Vec::with_capacity(h * w * self.c);
        for y in 0..h {
            data.extend_from_slice(&self.data[y * self.w * self.c..][..w * self.c]);
        }
        Map { h, w, c: self.c, data }
    }

    /// The `h × w` window at `(y, x)` (inside the map).
    pub fn window(&self, y: usize, x: usize, h: usize, w: usize) -> Map {
        let mut data = Vec::with_capacity(h * w * self.c);
        for row in y..y + h {
            data.extend_from_slice(&self.data[(row * self.w + x) * self.c..][..w * self.c]);
        }
        Map { h, w, c: self.c, data }
    }

    /// Writes `part` (same channels) into this map at `(y, x)`.
    pub fn paste(&mut self, part: &Map, y: usize, x: usize) {
        let c = self.c;
        for row in 0..part.h {
            self.data[((y + row) * self.w + x) * c..][..part.w * c]
                .copy_from_slice(&part.data[row * part.w * c..][..part.w * c]);
        }
    }

    /// Padded on the bottom and right to sides that are multiples of `multiple` and at least
    /// `min_side`: by reflection where the map is large enough, else by edge replication
    /// (libtorch's `pad_for`, the same rule).
    pub fn pad_for(&self, multiple: usize, min_side: usize) -> Map {
        let side = |n: usize| n.max(min_side).div_ceil(multiple) * multiple;
        let (ph, pw) = (side(self.h) - self.h, side(self.w) - self.w);
        if ph == 0 && pw == 0 {
            return self.clone();
        }
        self.pad_bottom_right(ph, pw, ph < self.h && pw < self.w)
    }

    /// Padded by edge replication on the bottom and right to at least `min` on each side.
    pub fn pad_small(&self, min: usize) -> Map {
        if self.h >= min && self.w >= min {
            return self.clone();
        }
        self.pad_bottom_right(min.saturating_sub(self.h), min.saturating_sub(self.w), false)
    }

    /// `ph` rows and `pw` columns more, by reflection (about the last row/column) or edge
    /// replication.
    fn pad_bottom_right(&self, ph: usize, pw: usize, reflect: bool) -> Map {
        let (h, w, c) = (self.h + ph, self.w + pw, self.c);
        let src = |i: usize, n: usize| {
            if i < n {
                i
            } else if reflect {
                2 * (n - 1) - i
            } else {
                n - 1
            }
        };
        let mut data = Vec::with_capacity(h * w * c);
        for y in 0..h {
            let row = &self.data[src(y, self.h) * self.w * c..][..self.w * c];
            for x in 0..w {
                data.extend_from_slice(&row[src(x, self.w) * c..][..c]);
            }
        }
        Map { h, w, c, data }
    }

    /// Per-channel mean and std over the pixels (two passes, accumulated in float64).
    pub fn stats(&self, eps: f64) -> ChannelStats {
        let c = self.c;
        let n = (self.h * self.w).max(1) as f64;
        let mut sum = vec![0f64; c];
        for px in self.data.chunks_exact(c) {
            for (s, v) in sum.iter_mut().zip(px) {
                *s += *v as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0f64; c];
        for px in self.data.chunks_exact(c) {
            for ((s, v), m) in sq.iter_mut().zip(px).zip(&mean) {
                let d = *v as f64 - m;
                *s += d * d;
            }
        }
        ChannelStats {
            mean: mean.iter().map(|m| *m as f32).collect(),
            std: sq.iter().map(|s| (s / n + eps).sqrt() as f32).collect(),
        }
    }

    /// Per-channel statistics over the pixels where `mask` (the map's size) is set; `None`
    /// when it selects none.
    pub fn stats_where(&self, mask: &Mask, eps: f64) -> Option<ChannelStats> {
        let data: Vec<f32> = self
            .data
            .chunks_exact(self.c)
            .zip(&mask.data)
            .filter(|(_, m)| **m)
            .flat_map(|(px, _)| px.iter().copied())
            .collect();
        let n = data.len() / self.c;
        (n > 0).then(|| Map { h: 1, w: n, c: self.c, data }.stats(eps))
    }

    /// Per pixel, this map's value where `mask` (the map's size) is set, `other`'s elsewhere.
    pub fn select(mut self, other: &Map, mask: &Mask) -> Map {
        let c = self.c;
        for ((px, o), m) in self.data.chunks_exact_mut(c).zip(other.data.chunks_exact(c)).zip(&mask.data) {
            if !m {
                px.copy_from_slice(o);
            }
        }
        self
    }

    /// This map (statistics `own`) moved onto `target`'s per-channel statistics: AdaIN's
    /// second half, `(x − μ) / σ · σ_t + μ_t`, blended with the map by `alpha`
    /// (`α·AdaIN + (1−α)·x`).
    pub fn renormalized(&self, own: &ChannelStats, target: &ChannelStats, alpha: f32) -> Map {
        let c = self.c;
        let (a, b): (Vec<f32>, Vec<f32>) = (0..c)
            .map(|k| {
                let s = target.std[k] / own.std[k];
                (s, target.mean[k] - own.mean[k] * s)
            })
            .unzip();
        let mut data = self.data.clone();
        for px in data.chunks_exact_mut(c) {
            for k in 0..c {
                let t = px[k] * a[k] + b[k];
                px[k] = if alpha >= 1.0 { t } else { t * alpha + px[k] * (1.0 - alpha) };
            }
        }
        Map { data, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reflects_or_replicates_like_libtorch() {
        let m = Map::from_data(3, 2, 1, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let p = m.pad_for(4, 4);
        // 3×2 is smaller than the padding on the width: edge replication.
        assert_eq!((p.h, p.w), (4, 4));
        assert_eq!(&p.data[..4], &[1., 2., 2., 2.]);
        assert_eq!(&p.data[12..], &[5., 6., 6., 6.]);
        let m = Map::from_data(3, 3, 1, (1..=9).map(|v| v as f32).collect()).unwrap();
        let p = m.pad_for(4, 4);
        // Reflection about the last row and column.
        assert_eq!(&p.data[..4], &[1., 2., 3., 2.]);
        assert_eq!(&p.data[12..], &[4., 5., 6., 5.]);
        assert_eq!(p.crop(3, 3), m);
    }

    #[test]
    fn renormalized_maps_have_the_target_statistics() {
        let m = Map::from_data(4, 5, 2, (0..40).map(|v| ((v * 7) % 11) as f32 * 0.3).collect()).unwrap();
        let t = ChannelStats { mean: vec![0.5, -1.0], std: vec![2.0, 0.25] };
        let own = m.stats(0.0);
        let s = m.renormalized(&own, &t, 1.0).stats(0.0);
        for k in 0..2 {
            assert!((s.mean[k] - t.mean[k]).abs() < 1e-5 && (s.std[k] - t.std[k]).abs() < 1e-5, "{s:?}");
        }
        assert_eq!(m.renormalized(&own, &t, 0.0), m);
    }
}

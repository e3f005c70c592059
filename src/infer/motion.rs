//! The camera's motion between two video frames, for temporal smoothing that follows it
//! (both runtimes' `Temporal`): one global translation, found by block matching on small grey
//! copies of the frames and refined to a fraction of a pixel.

use crate::model::light::Map;
use image::Rgb32FImage;

/// Widest side of the grey copies the search runs on (frames are box-filtered down to it).
const SEARCH_SIDE: u32 = 96;
/// Largest shift searched, in pixels of the grey copies, each way (±6 % of the frame's width).
const RADIUS: i64 = 6;

/// A frame reduced for the search: grey levels at `1/scale` of its size.
#[derive(Debug, Clone)]
struct Thumb {
    w: i64,
    h: i64,
    scale: f64,
    grey: Vec<f32>,
}

impl Thumb {
    /// The frame's grey levels, box-filtered by an integer factor so that the wider side is at
    /// most 96 pixels.
    fn of(frame: &Rgb32FImage) -> Self {
        let k = frame.width().max(frame.height()).div_ceil(SEARCH_SIDE).max(1) as usize;
        let (fw, w, h) = (frame.width() as usize, frame.width() as usize / k, frame.height() as usize / k);
        let mut grey = vec![0f32; w * h];
        for (y, row) in frame.as_raw().chunks_exact(3 * fw).take(h * k).enumerate() {
            let out = &mut grey[(y / k) * w..][..w];
            for (x, p) in row.chunks_exact(3).take(w * k).enumerate() {
                out[x / k] += p[0] + p[1] + p[2];
            }
        }
        let n = (3 * k * k) as f32;
        grey.iter_mut().for_each(|g| *g /= n);
        Self { w: w as i64, h: h as i64, scale: k as f64, grey }
    }

    /// The shift in `dys × dxs` (in this copy's pixels) with the lowest cost against `prev`;
    /// ties go to the smaller motion (a flat frame stays put).
    fn best(
        &self,
        prev: &Thumb,
        dys: std::ops::RangeInclusive<i64>,
        dxs: std::ops::RangeInclusive<i64>,
    ) -> (f64, i64, i64) {
        let mut best: (f64, i64, i64) = (f64::INFINITY, 0, 0);
        for dy in dys {
            for dx in dxs.clone() {
                let smaller = dy.abs() + dx.abs() < best.1.abs() + best.2.abs();
                if let Some(c) = self.cost(prev, dy, dx)
                    && (c < best.0 - 1e-9 || (c <= best.0 + 1e-9 && smaller))
                {
                    best = (c, dy, dx);
                }
            }
        }
        best
    }

    /// Mean absolute difference between `self(y, x)` and `prev(y + dy, x + dx)` over the
    /// pixels both show; `None` when they share less than half of the frame.
    fn cost(&self, prev: &Thumb, dy: i64, dx: i64) -> Option<f64> {
        let (y0, y1) = (0.max(-dy), self.h.min(self.h - dy));
        let (x0, x1) = (0.max(-dx), self.w.min(self.w - dx));
        let n = (y1 - y0).max(0) * (x1 - x0).max(0);
        if 2 * n < self.w * self.h {
            return None;
        }
        let mut sum = 0f64;
        for y in y0..y1 {
            let a = &self.grey[(y * self.w + x0) as usize..(y * self.w + x1) as usize];
            let b = &prev.grey[((y + dy) * self.w + x0 + dx) as usize..((y + dy) * self.w + x1 + dx) as usize];
            sum += a.iter().zip(b).map(|(p, q)| (p - q).abs()).sum::<f32>() as f64;
        }
        Some(sum / n as f64)
    }

    /// The translation `(dy, dx)` in pixels of the full frame such that this frame at `(y, x)`
    /// shows what `prev` showed at `(y + dy, x + dx)` (a camera panning right gives dx > 0);
    /// `(0, 0)` when the frames differ in size.
    fn shift_from(&self, prev: &Thumb) -> (f64, f64) {
        if (self.w, self.h, self.scale) != (prev.w, prev.h, prev.scale) {
            return (0.0, 0.0);
        }
        let best = self.best(prev, -RADIUS..=RADIUS, -RADIUS..=RADIUS);
        let (c0, dy, dx) = best;
        if !c0.is_finite() {
            return (0.0, 0.0);
        }
        // A parabola through the costs either side refines each axis to a fraction of a pixel.
        let refine = |minus: Option<f64>, plus: Option<f64>| match (minus, plus) {
            (Some(m), Some(p)) if m + p - 2.0 * c0 > 1e-12 => (0.5 * (m - p) / (m + p - 2.0 * c0)).clamp(-0.5, 0.5),
            _ => 0.0,
        };
        let fy = refine(self.cost(prev, dy - 1, dx), self.cost(prev, dy + 1, dx));
        let fx = refine(self.cost(prev, dy, dx - 1), self.cost(prev, dy, dx + 1));
        ((dy as f64 + fy) * self.scale, (dx as f64 + fx) * self.scale)
    }
}

/// Source positions and weights that move a row of `n` values by `s` (`out[i] = in[i + s]`,
/// linear between neighbours, clamped at the ends): `(lower index, upper index, upper weight)`.
fn shift_taps(n: usize, s: f64) -> Vec<(usize, usize, f32)> {
    let (i, a) = (s.floor() as i64, (s - s.floor()) as f32);
    let clamp = |j: i64| j.clamp(0, n as i64 - 1) as usize;
    (0..n as i64).map(|x| (clamp(x + i), clamp(x + i + 1), a)).collect()
}

/// The feature motion, in units of each channel's spread over the frame, at which temporal
/// smoothing stops: at each position of the AdaIN level the previous frame's target (moved
/// with the camera) keeps `weight·(1 − z/τ)⁺` of the blend, `z` being the mean absolute
/// change of the content features there after the camera's motion is undone. Sensor noise
/// changes them little (smoothed fully); what moves on its own, or what the camera's
/// translation does not explain, changes them a lot (not smoothed: nothing drags). Chosen on the validation pairs
/// (models/README.md): at τ = 2 and weight 0.5 the lite network is steadier than without
/// smoothing on all three of `adain eval --motion`'s numbers.
pub const MOTION_TAU: f64 = 2.0;

/// Temporal smoothing state for video, the same for both runtimes: each frame's AdaIN target
/// is blended with the previous one's, moved with the camera, where the content stands still
/// once that motion is undone (see [`MOTION_TAU`]).
#[derive(Debug, Default)]
pub struct Temporal {
    /// Weight of the previous frame's target where nothing moved, in [0, 1).
    pub weight: f64,
    /// The last frame seen, reduced for the motion search.
    camera: Option<Thumb>,
    /// The previous frame's AdaIN target and content features.
    prev: Option<(Map, Map)>,
}

impl Temporal {
    pub fn new(weight: f64) -> Self {
        Self { weight, ..Default::default() }
    }

    /// `t`, the AdaIN target of content features `f` (`[h, w, C]` of `frame`, at `stride`
    /// pixels a position), blended with the previous frame's.
    pub fn blend(&mut self, t: Map, f: Map, frame: &Rgb32FImage, stride: usize) -> Map {
        if self.weight <= 0.0 {
            return t;
        }
        let thumb = Thumb::of(frame);
        let (dy, dx) = self.camera.as_ref().map_or((0.0, 0.0), |p| thumb.shift_from(p));
        self.camera = Some(thumb);
        let t = match &self.prev {
            Some((pt, pf)) if (pt.h, pt.w, pt.c) == (t.h, t.w, t.c) => {
                let (dy, dx) = (dy / stride as f64, dx / stride as f64);
                blend_maps(&t, &f, &shift_map(pt, dy, dx), &shift_map(pf, dy, dx), self.weight)
            }
            _ => t,
        };
        self.prev = Some((t.clone(), f));
        t
    }
}

/// `m` moved by `(dy, dx)` of its pixels (`out(y, x) = m(y + dy, x + dx)`, bilinear, clamped
/// at the borders).
fn shift_map(m: &Map, dy: f64, dx: f64) -> Map {
    if dy == 0.0 && dx == 0.0 {
        return m.clone();
    }
    let (ty, tx) = (shift_taps(m.h, dy), shift_taps(m.w, dx));
    let (c, row) = (m.c, m.c * m.w);
    let mut data = vec![0f32; m.data.len()];
    let mut mixed = vec![0f32; row];
    for (y, &(y0, y1, ay)) in ty.iter().enumerate() {
        // Between the two source rows, then between the two source pixels of each.
        let (r0, r1) = (&m.data[y0 * row..][..row], &m.data[y1 * row..][..row]);
        mixed.iter_mut().zip(r0.iter().zip(r1)).for_each(|(o, (a, b))| *o = a + (b - a) * ay);
        let out = &mut data[y * row..][..row];
        for (o, &(x0, x1, ax)) in out.chunks_exact_mut(c).zip(&tx) {
            let (p0, p1) = (&mixed[x0 * c..][..c], &mixed[x1 * c..][..c]);
            o.iter_mut().zip(p0.iter().zip(p1)).for_each(|(o, (a, b))| *o = a + (b - a) * ax);
        }
    }
    Map { data, ..*m }
}

/// The blend (see [`MOTION_TAU`]): `t` and `f`, this frame's AdaIN target and content
/// features; `pt` and `pf`, the previous frame's, already moved with the camera.
fn blend_maps(t: &Map, f: &Map, pt: &Map, pf: &Map, weight: f64) -> Map {
    let c = t.c;
    // z/τ at a position is Σ_k |f − pf|·scale_k.
    let scale: Vec<f32> = f.stats(0.0).std.iter().map(|s| 1.0 / ((s + 1e-5) * c as f32 * MOTION_TAU as f32)).collect();
    let mut data = t.data.clone();
    for (i, out) in data.chunks_exact_mut(c).enumerate() {
        let (fi, pfi, pti) = (&f.data[i * c..][..c], &pf.data[i * c..][..c], &pt.data[i * c..][..c]);
        let z: f32 = (0..c).map(|k| (fi[k] - pfi[k]).abs() * scale[k]).sum();
        let keep = (1.0 - z).clamp(0.0, 1.0) * weight as f32;
        for k in 0..c {
            out[k] += (pti[k] - out[k]) * keep;
        }
    }
    Map { data, ..*t }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth pattern sampled at `(y + oy, x + ox)`.
    fn scene(w: u32, h: u32, oy: f32, ox: f32) -> Rgb32FImage {
        Rgb32FImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32 + ox, y as f32 + oy);
            let v = 0.5 + 0.25 * (x * 0.21).sin() * (y * 0.13).cos() + 0.2 * ((x + 2.0 * y) * 0.05).sin();
            image::Rgb([v, v * 0.8, 1.0 - v])
        })
    }

    #[test]
    fn finds_the_pan_to_a_fraction_of_a_pixel() {
        let prev = Thumb::of(&scene(120, 80, 0.0, 0.0));
        for (dy, dx) in [(0.0, 3.0), (-2.0, 1.0), (1.5, -2.5), (0.0, 0.0)] {
            let (y, x) = Thumb::of(&scene(120, 80, dy, dx)).shift_from(&prev);
            assert!((y - dy as f64).abs() < 0.25 && (x - dx as f64).abs() < 0.25, "({dy}, {dx}): found ({y}, {x})");
        }
        // A larger frame is searched on a reduced copy: a pan of 12 pixels at 384 wide.
        let prev = Thumb::of(&scene(384, 200, 0.0, 0.0));
        let (y, x) = Thumb::of(&scene(384, 200, 0.0, 12.0)).shift_from(&prev);
        assert!(y.abs() < 0.5 && (x - 12.0).abs() < 1.0, "found ({y}, {x})");
        // A flat frame does not move.
        let flat = Rgb32FImage::from_pixel(64, 64, image::Rgb([0.3, 0.3, 0.3]));
        assert_eq!(Thumb::of(&flat).shift_from(&Thumb::of(&flat)), (0.0, 0.0));
    }

    #[test]
    fn shift_taps_interpolate_and_clamp() {
        let taps = shift_taps(5, 1.25);
        assert_eq!(taps[0], (1, 2, 0.25));
        assert_eq!(taps[3], (4, 4, 0.25));
        assert_eq!(shift_taps(3, -1.0), vec![(0, 0, 0.0), (0, 1, 0.0), (1, 2, 0.0)]);
    }
}

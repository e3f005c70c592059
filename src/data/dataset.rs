//! Training data: image folders, the resize-then-crop transform, reproducible random pairs
//! and a background loader.
//!
//! Randomness is counter-based ([`hash`] of seed, step, sample and purpose), so the batch of
//! step `s` is the same whether a run got there directly or through a resume, and whichever
//! thread decoded it.

use super::image as img;
use crate::error::{Error, Result};
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use tch::{Kind, Tensor};

/// SplitMix64 finaliser over a combination of inputs: a stateless, well-mixed 64-bit hash.
pub fn hash(parts: &[u64]) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        z = z.wrapping_add(*p).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// Uniform integer in `0..n` from a hash.
pub fn below(h: u64, n: u64) -> u64 {
    ((h as u128 * n as u128) >> 64) as u64
}

/// How images are brought to the load size before cropping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Shorter side to the load size, aspect kept (the AdaIN paper).
    Shorter,
    /// Both sides to the load size (pytorch-AdaIN's `Resize((512, 512))`).
    Squash,
}

/// A folder of images, decoded and resized once, then kept in memory (as 8-bit RGB).
pub struct ImageFolder {
    pub(crate) root: PathBuf,
    pub(crate) paths: Vec<PathBuf>,
    load_size: u32,
    mode: ResizeMode,
    cache: Mutex<HashMap<usize, Arc<RgbImage>>>,
    bad: Mutex<HashSet<usize>>,
}

impl ImageFolder {
    /// A folder made of an explicit list of files.
    pub fn from_paths(root: &Path, paths: Vec<PathBuf>, load_size: u32, mode: ResizeMode) -> Self {
        Self {
            root: root.to_owned(),
            paths,
            load_size,
            mode,
            cache: Mutex::new(HashMap::new()),
            bad: Mutex::new(HashSet::new()),
        }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    fn decode(&self, i: usize) -> Result<RgbImage> {
        let im = img::open(&self.paths[i])?;
        let im = match self.mode {
            ResizeMode::Shorter => img::resize_shorter(&im, self.load_size),
            ResizeMode::Squash => img::resize_exact(&im, self.load_size, self.load_size),
        };
        Ok(image::DynamicImage::ImageRgb32F(im).to_rgb8())
    }

    /// Image `i`, resized to the load size. An unreadable image is reported once (a warning)
    /// and replaced by the next readable one, so a run never stops for a bad file.
    pub fn get(&self, i: usize) -> Result<Arc<RgbImage>> {
        for k in 0..self.len() {
            let j = (i + k) % self.len();
            if self.bad.lock().unwrap().contains(&j) {
                continue;
            }
            if let Some(im) = self.cache.lock().unwrap().get(&j) {
                return Ok(im.clone());
            }
            match self.decode(j) {
                Ok(im) => {
                    let im = Arc::new(im);
                    self.cache.lock().unwrap().insert(j, im.clone());
                    return Ok(im);
                }
                Err(e) => {
                    if self.bad.lock().unwrap().insert(j) {
                        tracing::warn!("skipping unreadable image: {e}");
                    }
                }
            }
        }
        Err(Error::Image { path: self.root.clone(), msg: "no readable image in this folder".into() })
    }
}

/// Random augmentations of a crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Augment {
    /// Horizontal flips (probability ½).
    pub(crate) flip: bool,
    /// Quarter-turn rotations too, each of the four equally likely (with `flip`: all eight
    /// symmetries of the square, equally likely). Photos and paintings have more horizontal than vertical
    /// structure; a decoder trained on them upright learns to fill uncertain areas with
    /// horizontal strokes (streaks). Rotated crops take that preference away.
    pub(crate) rotate: bool,
    /// Scale jitter `(load, min)`: each crop is taken as if its image had been loaded with the
    /// shorter side drawn uniformly from `min..=load` instead of `load` — a square window of
    /// `size·load/drawn` pixels (at most the image's shorter side), resized to `size`. One
    /// network then sees strokes and objects at every scale it will be run at. `None`: every
    /// crop at the loaded scale.
    pub(crate) scales: Option<(u32, u32)>,
}

/// Random crop (and augmentation, scale jitter included) of `size × size`, as a `[3, size, size]` tensor.
/// Images smaller than the crop are first scaled up so the shorter side equals it.
pub(crate) fn random_crop(im: &RgbImage, size: u32, aug: Augment, h: u64) -> Tensor {
    let im = if im.width().min(im.height()) < size {
        let f = image::DynamicImage::ImageRgb8(im.clone()).to_rgb32f();
        Cow::Owned(image::DynamicImage::ImageRgb32F(img::resize_shorter(&f, size)).to_rgb8())
    } else {
        Cow::Borrowed(im)
    };
    let window = match aug.scales {
        Some((load, min)) => {
            let drawn = min + below(hash(&[h, 5]), (load - min + 1) as u64) as u32;
            let w = (size as f64 * load as f64 / drawn as f64).round() as u32;
            w.min(im.width().min(im.height()))
        }
        _ => size,
    };
    let x = below(hash(&[h, 1]), (im.width() - window + 1) as u64) as u32;
    let y = below(hash(&[h, 2]), (im.height() - window + 1) as u64) as u32;
    let crop = image::imageops::crop_imm(im.as_ref(), x, y, window, window).to_image();
    let crop = if window == size {
        crop
    } else {
        image::imageops::resize(&crop, size, size, image::imageops::FilterType::Triangle)
    };
    let crop = if aug.flip && hash(&[h, 3]) & 1 == 1 { image::imageops::flip_horizontal(&crop) } else { crop };
    let crop = match if aug.rotate { below(hash(&[h, 4]), 4) } else { 0 } {
        1 => image::imageops::rotate90(&crop),
        2 => image::imageops::rotate180(&crop),
        3 => image::imageops::rotate270(&crop),
        _ => crop,
    };
    Tensor::from_slice(crop.as_raw()).view([size as i64, size as i64, 3]).permute([2, 0, 1]).to_kind(Kind::Float)
        / 255.0
}

/// One training batch: content and style images `[B, 3, S, S]` in [0, 1], and the step it is for.
pub struct Batch {
    pub step: u64,
    pub content: Tensor,
    pub style: Tensor,
}

/// Sampling settings.
#[derive(Debug, Clone)]
pub struct Sampler {
    pub(crate) seed: u64,
    /// Pairs per batch (per rank in a data-parallel run).
    pub(crate) batch_size: usize,
    pub(crate) crop_size: u32,
    pub(crate) augment: Augment,
    /// Which share of the global batch this process draws: `(rank, ranks)`; `(0, 1)` alone.
    pub(crate) shard: (usize, usize),
    /// Draw half the batch, and make the second half the same pairs turned a quarter turn
    /// clockwise (content and style), for the frame-bias penalty.
    pub turned_pairs: bool,
}

impl Sampler {
    /// A sampler for one process (the whole batch).
    pub fn new(seed: u64, batch_size: usize, crop_size: u32, augment: Augment) -> Self {
        Self { seed, batch_size, crop_size, augment, shard: (0, 1), turned_pairs: false }
    }

    /// The batch of `step`: random (content, style) pairs, deterministic in (seed, step).
    /// Rank r of N draws pairs `r·B .. (r+1)·B` of the global batch of N·B pairs, so N ranks
    /// see exactly the pairs one process with batch N·B sees.
    pub fn batch(&self, content: &ImageFolder, style: &ImageFolder, step: u64) -> Result<Batch> {
        let drawn = if self.turned_pairs { self.batch_size / 2 } else { self.batch_size };
        let first = self.shard.0 * drawn;
        let items: Vec<(Tensor, Tensor)> = (first..first + drawn)
            .into_par_iter()
            .map(|i| {
                let h = hash(&[self.seed, step, i as u64]);
                let ci = below(hash(&[h, 10]), content.len() as u64) as usize;
                let si = below(hash(&[h, 11]), style.len() as u64) as usize;
                let c = random_crop(content.get(ci)?.as_ref(), self.crop_size, self.augment, hash(&[h, 12]));
                let s = random_crop(style.get(si)?.as_ref(), self.crop_size, self.augment, hash(&[h, 13]));
                Ok((c, s))
            })
            .collect::<Result<_>>()?;
        let (c, s): (Vec<Tensor>, Vec<Tensor>) = items.into_iter().unzip();
        let (c, s) = (Tensor::stack(&c, 0), Tensor::stack(&s, 0));
        if self.turned_pairs {
            let turned = |x: &Tensor| Tensor::cat(&[x.shallow_clone(), super::image::turn(x)], 0);
            return Ok(Batch { step, content: turned(&c), style: turned(&s) });
        }
        Ok(Batch { step, content: c, style: s })
    }
}

/// Produces the batches of steps `start..end` on a background thread, two ahead.
pub(crate) struct Loader {
    rx: mpsc::Receiver<Result<Batch>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Loader {
    pub fn spawn(content: Arc<ImageFolder>, style: Arc<ImageFolder>, sampler: Sampler, start: u64, end: u64) -> Self {
        let (tx, rx) = mpsc::sync_channel(2);
        let thread = std::thread::spawn(move || {
            for step in start..end {
                let b = sampler.batch(&content, &style, step);
                let stop = b.is_err();
                if tx.send(b).is_err() || stop {
                    return;
                }
            }
        });
        Self { rx, _thread: thread }
    }

    /// The next batch; `None` when all steps were delivered.
    pub fn next(&self) -> Option<Result<Batch>> {
        self.rx.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_augment_reaches_all_eight_symmetries() {
        // A 2×2 image with four distinct pixels: each symmetry of the square gives another
        // arrangement; over many draws all eight appear, and only those.
        let im = RgbImage::from_fn(2, 2, |x, y| image::Rgb([(x * 2 + y) as u8 * 60, 0, 0]));
        let mut seen = HashSet::new();
        for h in 0..400 {
            let t = random_crop(&im, 2, Augment { flip: true, rotate: true, scales: None }, h);
            let v: Vec<f32> = Vec::try_from(t.get(0).flatten(0, -1)).unwrap();
            seen.insert(v.iter().map(|x| (x * 255.0).round() as u8).collect::<Vec<_>>());
        }
        assert_eq!(seen.len(), 8, "{seen:?}");
        let upright: HashSet<_> = (0..400)
            .map(|h| {
                let t = random_crop(&im, 2, Augment { flip: true, rotate: false, scales: None }, h);
                Vec::<f32>::try_from(t.get(0).flatten(0, -1))
                    .unwrap()
                    .iter()
                    .map(|x| (x * 255.0).round() as u8)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(upright.len(), 2, "flips only: the image and its mirror");
    }

    #[test]
    fn hash_is_deterministic_and_spread() {
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[1, 3, 2]));
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            counts[below(hash(&[i]), 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (900..1100).contains(c)), "{counts:?}");
    }

    #[test]
    fn crop_has_requested_size_even_from_small_images() {
        let im = RgbImage::from_pixel(20, 30, image::Rgb([255, 0, 0]));
        let t = random_crop(&im, 16, Augment { flip: true, rotate: true, scales: None }, 5);
        assert_eq!(t.size(), vec![3, 16, 16]);
        let t = random_crop(&im, 64, Augment::default(), 5);
        assert_eq!(t.size(), vec![3, 64, 64]);
        assert!((t.get(0).mean(Kind::Float).double_value(&[]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn scale_jitter_draws_windows_across_the_range() {
        // A horizontal ramp, 4 levels a pixel: a crop's spread of values measures the width
        // of the window it was taken from. Jitter from a load size of 64 down to 32 takes
        // windows of 16–32 pixels for crops of 16, so the spread goes from about 60 to about
        // 124 and never beyond; without jitter every window is 16 pixels wide.
        let im = RgbImage::from_fn(64, 64, |x, _| image::Rgb([(x * 4) as u8, 0, 0]));
        let spread = |aug: Augment, h: u64| {
            let t = random_crop(&im, 16, aug, h);
            assert_eq!(t.size(), vec![3, 16, 16]);
            let r = t.get(0);
            (r.max().double_value(&[]) - r.min().double_value(&[])) * 255.0
        };
        let jitter = Augment { flip: false, rotate: false, scales: Some((64, 32)) };
        let spreads: Vec<f64> = (0..200).map(|h| spread(jitter, h)).collect();
        let (lo, hi) = spreads.iter().fold((f64::MAX, 0f64), |(a, b), &s| (a.min(s), b.max(s)));
        assert!(lo < 72.0 && hi > 112.0 && hi <= 128.0, "spreads {lo}..{hi}");
        for h in 0..20 {
            assert!((spread(Augment::default(), h) - 60.0).abs() < 1e-3);
        }
    }
}

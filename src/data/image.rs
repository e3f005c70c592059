//! Images in and out: decoding (EXIF orientation honoured; grayscale, RGBA and 16-bit converted
//! to RGB), resizing, conversion to and from `[1, 3, H, W]` float tensors in [0,1], and atomic
//! writes.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Rgb32FImage};
use std::path::Path;
use tch::{Kind, Tensor};

/// Images with more pixels than this are refused by [`open`] (100 megapixels: 1.2 GB as
/// float RGB); [`decode`] takes the limit as an argument.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Why image bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeFailure {
    /// Not a format adain reads.
    Unsupported,
    /// The header declares more pixels than allowed (refused before decoding them).
    TooLarge { width: u32, height: u32, max_pixels: u64 },
    /// A known format, but the data is broken or empty.
    Corrupt(String),
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeFailure::Unsupported => write!(f, "not an image format adain can read (jpeg, png, webp, bmp, tiff)"),
            DecodeFailure::TooLarge { width, height, max_pixels } => {
                write!(f, "image is {width}×{height} pixels, more than the limit of {max_pixels}")
            }
            DecodeFailure::Corrupt(m) => write!(f, "cannot decode: {m}"),
        }
    }
}

/// The format and declared size of image bytes, from the header only.
pub fn peek(bytes: &[u8]) -> Result<(image::ImageFormat, u32, u32), DecodeFailure> {
    let reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|_| DecodeFailure::Unsupported)?;
    let format = reader.format().ok_or(DecodeFailure::Unsupported)?;
    let (w, h) = reader.into_dimensions().map_err(|e| DecodeFailure::Corrupt(e.to_string().trim().to_owned()))?;
    Ok((format, w, h))
}

/// Decodes image bytes, applies the EXIF orientation, and returns RGB f32 in [0,1]. The
/// declared size is checked against `max_pixels` before any pixel is decoded, and the
/// decoder's own allocations are limited accordingly, so a small file that claims a huge
/// image (a decompression bomb) is refused without allocating it.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Rgb32FImage, DecodeFailure> {
    let (_, w, h) = peek(bytes)?;
    if w == 0 || h == 0 {
        return Err(DecodeFailure::Corrupt("image is empty".into()));
    }
    if w as u64 * h as u64 > max_pixels {
        return Err(DecodeFailure::TooLarge { width: w, height: h, max_pixels });
    }
    let mut reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|_| DecodeFailure::Unsupported)?;
    let mut limits = image::Limits::default();
    // 16 bytes per pixel covers RGBA at 32 bits per channel, plus room for the decoder's buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(64 << 20));
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| DecodeFailure::Corrupt(e.to_string().trim().to_owned());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeFailure::Corrupt("image is empty".into()));
    }
    Ok(img.to_rgb32f())
}

/// Reads and decodes an image file (see [`decode`]), refusing images over
/// [`DEFAULT_MAX_PIXELS`].
pub fn open(path: &Path) -> Result<Rgb32FImage> {
    open_limited(path, DEFAULT_MAX_PIXELS)
}

/// [`open`] with another pixel limit.
pub fn open_limited(path: &Path, max_pixels: u64) -> Result<Rgb32FImage> {
    if !path.exists() {
        return Err(Error::image(path, "no such file"));
    }
    if path.is_dir() {
        return Err(Error::image(path, "is a directory, not an image"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, max_pixels).map_err(|f| Error::image(path, f.to_string()))
}

/// Scales so that the shorter side is `size` (0 = unchanged), keeping the aspect ratio.
pub fn resize_shorter(img: &Rgb32FImage, size: u32) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    if size == 0 || w.min(h) == size {
        return img.clone();
    }
    let (nw, nh) = if w <= h {
        (size, ((h as f64 * size as f64 / w as f64).round() as u32).max(1))
    } else {
        (((w as f64 * size as f64 / h as f64).round() as u32).max(1), size)
    };
    image::imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// Opens an image and brings it to a working size: shorter side `size` (0 = unchanged), then
/// a centre square crop when `crop`.
pub fn load_sized(path: &Path, size: u32, crop: bool) -> Result<Rgb32FImage> {
    load_sized_limited(path, size, crop, DEFAULT_MAX_PIXELS)
}

/// [`load_sized`] with another pixel limit for the file as stored.
pub fn load_sized_limited(path: &Path, size: u32, crop: bool, max_pixels: u64) -> Result<Rgb32FImage> {
    let im = resize_shorter(&open_limited(path, max_pixels)?, size);
    Ok(if crop { center_crop(&im, if size == 0 { u32::MAX } else { size }) } else { im })
}

/// Resizes to exactly `w × h`.
pub fn resize_exact(img: &Rgb32FImage, w: u32, h: u32) -> Rgb32FImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w, h, FilterType::Triangle)
}

/// Centre square crop of side `min(size, w, h)`.
pub fn center_crop(img: &Rgb32FImage, size: u32) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    let s = size.min(w).min(h);
    image::imageops::crop_imm(img, (w - s) / 2, (h - s) / 2, s, s).to_image()
}

/// `[1, 3, H, W]` float tensor in [0,1].
pub fn to_tensor(img: &Rgb32FImage) -> Tensor {
    let (w, h) = img.dimensions();
    Tensor::from_slice(img.as_raw()).view([h as i64, w as i64, 3]).permute([2, 0, 1]).unsqueeze(0).contiguous()
}

/// Back to an RGB image; the tensor is `[1, 3, H, W]` (or `[3, H, W]`), clamped to [0,1].
pub fn from_tensor(t: &Tensor) -> Rgb32FImage {
    let t = if t.dim() == 4 { t.get(0) } else { t.shallow_clone() };
    let t = t.to_device(tch::Device::Cpu).to_kind(Kind::Float).clamp(0.0, 1.0).permute([1, 2, 0]).contiguous();
    let (h, w) = (t.size()[0] as u32, t.size()[1] as u32);
    let data: Vec<f32> = Vec::try_from(t.flatten(0, -1)).expect("float tensor");
    Rgb32FImage::from_raw(w, h, data).expect("buffer matches dimensions")
}

/// Writes an image atomically (temp file in the target directory, then rename), in the format
/// the extension names (png, jpg, webp, …); 8 bits per channel.
pub fn save(img: &Rgb32FImage, path: &Path) -> Result<()> {
    let format = image::ImageFormat::from_path(path)
        .map_err(|_| Error::image(path, "unknown output image format (use .png or .jpg)"))?;
    let rgb8 = DynamicImage::ImageRgb32F(img.clone()).to_rgb8();
    crate::io::atomic_write(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        rgb8.write_to(&mut w, format).map_err(|e| Error::image(path, format!("cannot encode: {e}")))?;
        std::io::Write::flush(&mut w).map_err(|e| Error::io(path, e))
    })
}

/// True for file names adain treats as images when walking a directory.
pub fn is_image_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("jpg" | "jpeg" | "png" | "webp" | "bmp" | "tif" | "tiff")
    )
}

/// The image files of a directory (recursively), sorted; a file is returned as itself.
pub fn list_images(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let p = e.map_err(|e| Error::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_image_name(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::image(path, "directory holds no images (jpg, png, webp, bmp, tiff)"));
    }
    Ok(out)
}

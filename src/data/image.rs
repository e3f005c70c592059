//! Images in and out: decoding (EXIF orientation honoured; grayscale, RGBA and 16-bit converted
//! to RGB), resizing, conversion to and from `[1, 3, H, W]` float tensors in [0,1], and atomic
//! writes.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Rgb32FImage};
use std::path::Path;
use tch::{Kind, Tensor};

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::Image { path: path.to_owned(), msg: msg.into() }
}

/// Decodes an image file, applies its EXIF orientation, and returns it as RGB f32 in [0,1].
pub fn open(path: &Path) -> Result<Rgb32FImage> {
    if !path.exists() {
        return Err(bad(path, "no such file"));
    }
    let reader = ImageReader::open(path).map_err(|e| Error::io(path, e))?;
    let reader = reader.with_guessed_format().map_err(|e| Error::io(path, e))?;
    if reader.format().is_none() {
        return Err(bad(path, "not an image format adain can read (jpeg, png, webp, bmp, tiff, …)"));
    }
    let mut decoder = reader.into_decoder().map_err(|e| bad(path, format!("cannot decode: {}", e.to_string().trim())))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| bad(path, format!("cannot decode: {}", e.to_string().trim())))?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(bad(path, "image is empty"));
    }
    Ok(img.to_rgb32f())
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
    let format = image::ImageFormat::from_path(path).map_err(|_| bad(path, "unknown output image format (use .png or .jpg)"))?;
    let rgb8 = DynamicImage::ImageRgb32F(img.clone()).to_rgb8();
    crate::io::atomic_write(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        rgb8.write_to(&mut w, format).map_err(|e| bad(path, format!("cannot encode: {e}")))?;
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
        return Err(bad(path, "directory holds no images (jpg, png, webp, bmp, tiff)"));
    }
    Ok(out)
}

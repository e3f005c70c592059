//! Images in and out: decoding (EXIF orientation honoured; grayscale and 16-bit converted to
//! RGB, transparency composited on white; files that are cut off refused), resizing,
//! conversion to and from `[1, 3, H, W]` float tensors in [0, 1], and atomic writes.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Rgb32FImage};
use std::path::Path;
#[cfg(feature = "torch")]
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
    /// A known format whose data stops before its end marker (a cut-off download or copy).
    Truncated(&'static str),
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeFailure::Unsupported => write!(f, "not an image format adain can read (jpeg, png, webp, bmp, tiff)"),
            DecodeFailure::TooLarge { width, height, max_pixels } => {
                write!(f, "image is {width}×{height} pixels, more than the limit of {max_pixels}")
            }
            DecodeFailure::Corrupt(m) => write!(f, "cannot decode: {m}"),
            DecodeFailure::Truncated(what) => write!(f, "the file is cut off ({what}): truncated or damaged"),
        }
    }
}

/// The format and declared size of image bytes, from the header only.
pub fn peek(bytes: &[u8]) -> Result<(image::ImageFormat, u32, u32), DecodeFailure> {
    let reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|_| DecodeFailure::Unsupported)?;
    let format = reader.format().ok_or(DecodeFailure::Unsupported)?;
    let (w, h) = reader.into_dimensions().map_err(|e| corrupt(format, &e))?;
    Ok((format, w, h))
}

/// A decoder's error as a sentence for a person: the format and what went wrong, without the
/// decoders' debug dumps (`ChunkType { type: … }`).
fn corrupt(format: image::ImageFormat, e: &image::ImageError) -> DecodeFailure {
    let name = format.extensions_str().first().copied().unwrap_or("image").to_uppercase();
    let text = e.to_string();
    let text = text.trim();
    let readable = text.len() <= 160 && !text.contains(['{', '}', '`']) && text.is_ascii();
    DecodeFailure::Corrupt(if readable {
        format!("damaged {name} data: {text}")
    } else {
        format!("damaged {name} data")
    })
}

/// Refuses data that stops before its format's end marker. Decoders fill what is missing
/// (a cut-off JPEG decodes with its lower part flat grey), so completeness is checked here:
/// JPEG: an end-of-image marker after the last start-of-scan; PNG: the chunk list reaches
/// `IEND`; WebP: the RIFF container holds the size it declares; BMP: the file size its header
/// declares. Other formats' decoders fail on missing data by themselves.
pub fn check_complete(format: image::ImageFormat, bytes: &[u8]) -> Result<(), DecodeFailure> {
    use image::ImageFormat as F;
    let complete = match format {
        F::Jpeg => {
            let last = |m: u8| bytes.windows(2).rposition(|w| w == [0xFF, m]);
            matches!((last(0xDA), last(0xD9)), (Some(sos), Some(eoi)) if eoi > sos)
        }
        F::Png => png_reaches_iend(bytes),
        F::WebP => bytes.len() >= 12 && 8 + le_u32(&bytes[4..8]) as usize <= bytes.len(),
        F::Bmp => bytes.len() >= 6 && le_u32(&bytes[2..6]) as usize <= bytes.len(),
        _ => true,
    };
    if complete {
        return Ok(());
    }
    Err(DecodeFailure::Truncated(match format {
        F::Jpeg => "no JPEG end-of-image marker after the image data",
        F::Png => "the PNG chunks stop before IEND",
        F::WebP => "shorter than its WebP header declares",
        _ => "shorter than its BMP header declares",
    }))
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Walks the PNG chunks (length, type, data, CRC) from the signature to `IEND`.
fn png_reaches_iend(bytes: &[u8]) -> bool {
    let mut at = 8usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(next) = at.checked_add(12).and_then(|n| n.checked_add(len)) else { return false };
        if next > bytes.len() {
            return false;
        }
        if &head[4..8] == b"IEND" {
            return true;
        }
        at = next;
    }
    false
}

/// Composites an image with transparency on white (a transparent pixel's hidden colour is
/// meaningless); images without an alpha channel are converted as they are.
fn on_white(img: &DynamicImage) -> Rgb32FImage {
    if !img.color().has_alpha() {
        return img.to_rgb32f();
    }
    let rgba = img.to_rgba32f();
    Rgb32FImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = a.clamp(0.0, 1.0);
        image::Rgb([r * a + 1.0 - a, g * a + 1.0 - a, b * a + 1.0 - a])
    })
}

/// Decodes image bytes, applies the EXIF orientation, and returns RGB f32 in [0, 1]
/// (transparent pixels composited on white). The declared size is checked against
/// `max_pixels` before any pixel is decoded, and the decoder's own allocations are limited
/// accordingly, so a small file that claims a huge image (a decompression bomb) is refused
/// without allocating it; data cut off before its end marker is refused ([`check_complete`]).
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Rgb32FImage, DecodeFailure> {
    let (format, w, h) = peek(bytes)?;
    if w == 0 || h == 0 {
        return Err(DecodeFailure::Corrupt("image is empty".into()));
    }
    if w as u64 * h as u64 > max_pixels {
        return Err(DecodeFailure::TooLarge { width: w, height: h, max_pixels });
    }
    check_complete(format, bytes)?;
    let mut reader =
        ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|_| DecodeFailure::Unsupported)?;
    let mut limits = image::Limits::default();
    // 16 bytes per pixel covers RGBA at 32 bits per channel, plus room for the decoder's buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(64 << 20));
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| corrupt(format, &e);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeFailure::Corrupt("image is empty".into()));
    }
    Ok(on_white(&img))
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

/// The size of a `w × h` image scaled so that its shorter side is `size` (0 = unchanged),
/// keeping the aspect ratio.
pub fn shorter_side_dims(w: u32, h: u32, size: u32) -> (u32, u32) {
    if size == 0 || w.min(h) == size {
        return (w, h);
    }
    let scale =
        |long: u32, short: u32| ((long as f64 * size as f64 / short as f64).round().min(u32::MAX as f64) as u32).max(1);
    if w <= h { (size, scale(h, w)) } else { (scale(w, h), size) }
}

/// Scales so that the shorter side is `size` (0 = unchanged), keeping the aspect ratio.
pub fn resize_shorter(img: &Rgb32FImage, size: u32) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = shorter_side_dims(w, h, size);
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// [`resize_shorter`], then smaller again (same aspect) if the result would have more than
/// `max_pixels`: a panorama of extreme aspect would otherwise grow without bound.
pub fn resize_shorter_within(img: &Rgb32FImage, size: u32, max_pixels: u64) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = shorter_side_dims(w, h, size);
    let pixels = nw as u64 * nh as u64;
    if pixels <= max_pixels {
        return resize_shorter(img, size);
    }
    let s = (max_pixels as f64 / pixels as f64).sqrt();
    resize_exact(img, ((nw as f64 * s) as u32).max(1), ((nh as f64 * s) as u32).max(1))
}

/// Opens an image and brings it to a working size: shorter side `size` (0 = unchanged), then
/// a centre square crop when `crop`.
pub fn load_sized(path: &Path, size: u32, crop: bool) -> Result<Rgb32FImage> {
    load_sized_limited(path, size, crop, DEFAULT_MAX_PIXELS)
}

/// [`load_sized`] with another pixel limit, for the file as stored and for the working size:
/// a `size` that would scale the image beyond `max_pixels` is refused before anything is
/// allocated for it.
pub fn load_sized_limited(path: &Path, size: u32, crop: bool, max_pixels: u64) -> Result<Rgb32FImage> {
    let im = open_limited(path, max_pixels)?;
    let (w, h) = shorter_side_dims(im.width(), im.height(), size);
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        return Err(Error::image(
            path,
            format!(
                "scaled to a shorter side of {size} it would be {w}×{h} = {pixels} pixels, more than the limit of {max_pixels}; choose a smaller size"
            ),
        ));
    }
    let im = resize_shorter(&im, size);
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

/// Turns an image (`[..., H, W]`) a quarter turn clockwise, as [`image::imageops::rotate90`]
/// does (the turned crops of training, the turned pairs of the frame-bias measure).
#[cfg(feature = "torch")]
pub fn turn(image: &Tensor) -> Tensor {
    image.rot90(-1, [-2, -1])
}

/// `[1, 3, H, W]` float tensor in [0, 1].
#[cfg(feature = "torch")]
pub fn to_tensor(img: &Rgb32FImage) -> Tensor {
    let (w, h) = img.dimensions();
    Tensor::from_slice(img.as_raw()).view([h as i64, w as i64, 3]).permute([2, 0, 1]).unsqueeze(0).contiguous()
}

/// Back to an RGB image; the tensor is `[1, 3, H, W]` (or `[3, H, W]`), clamped to [0, 1].
#[cfg(feature = "torch")]
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
        .ok()
        .filter(|f| matches!(f, image::ImageFormat::Png | image::ImageFormat::Jpeg))
        .ok_or_else(|| Error::image(path, "not an output format adain writes: use .png or .jpg"))?;
    let rgb8 = DynamicImage::ImageRgb32F(img.clone()).to_rgb8();
    crate::io::atomic_write(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut w = std::io::BufWriter::new(f);
        rgb8.write_to(&mut w, format).map_err(|e| Error::image(path, format!("cannot encode: {e}")))?;
        std::io::Write::flush(&mut w).map_err(|e| Error::io(path, e))
    })
}

/// True for file names adain treats as images when walking a directory.
pub(crate) fn is_image_name(path: &Path) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat as F;

    fn encoded(format: F, im: DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        im.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient() -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8])
        }))
    }

    #[test]
    fn cut_off_files_are_refused_in_every_format() {
        for format in [F::Jpeg, F::Png, F::WebP, F::Bmp, F::Tiff] {
            let bytes = encoded(format, gradient());
            assert!(decode(&bytes, 1 << 20).is_ok(), "{format:?}");
            for keep in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 1] {
                let got = decode(&bytes[..keep], 1 << 20);
                assert!(got.is_err(), "{format:?} cut to {keep} of {} bytes was decoded", bytes.len());
            }
        }
        let jpeg = encoded(F::Jpeg, gradient());
        let err = decode(&jpeg[..jpeg.len() * 2 / 3], 1 << 20).unwrap_err().to_string();
        assert!(err.contains("cut off") && err.contains("JPEG"), "{err}");
    }

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_keep_their_colour() {
        let rgba = image::RgbaImage::from_fn(4, 2, |x, _| image::Rgba([255, 0, 0, if x < 2 { 0 } else { 255 }]));
        let out = decode(&encoded(F::Png, DynamicImage::ImageRgba8(rgba)), 1 << 20).unwrap();
        assert_eq!(out.get_pixel(0, 0).0, [1.0, 1.0, 1.0]);
        assert_eq!(out.get_pixel(3, 1).0, [1.0, 0.0, 0.0]);
    }

    /// A working size far beyond the limit is refused before the resize allocates it (a
    /// shorter side of 100000 for a 3:2 photo would be 180 GB of float pixels).
    #[test]
    fn a_working_size_beyond_the_limit_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.png");
        std::fs::write(&path, encoded(F::Png, gradient())).unwrap();
        let err = load_sized_limited(&path, 100_000, false, DEFAULT_MAX_PIXELS).unwrap_err().to_string();
        assert!(err.contains("photo.png") && err.contains("more than the limit"), "{err}");
        assert_eq!(load_sized_limited(&path, 32, false, DEFAULT_MAX_PIXELS).unwrap().dimensions(), (43, 32));
    }

    #[test]
    fn damaged_data_is_described_without_decoder_dumps() {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(b"\0\0\0\x04agegtext\0\0\0\0 this is not an image, just text with a PNG name");
        let err = decode(&bytes, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("PNG") && !err.contains('{'), "{err}");
    }
}

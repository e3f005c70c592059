//! What a worker does with a job: decode the uploads (within the limits), resolve the styles
//! through the cache, stylize through the library's [`Stylizer`], encode the result.

use super::error::ApiError;
use super::styles::{self, CachedStyle, Styles};
use super::upload::{check_result_size, decode_error};
use adain::data::image as img;
use adain::infer::{Method, Network, PreparedStyle, Settings, StyleCode, StyleSpec, Stylizer, Temporal, Tile};
use bytes::Bytes;
use image::Rgb32FImage;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What every worker shares.
pub struct Context {
    pub styles: Arc<Styles>,
    pub max_pixels: u64,
    /// The most pixels of a result (what the network processes).
    pub max_result_pixels: u64,
    pub save_dir: Option<PathBuf>,
}

/// A style given by the request: uploaded bytes, or a gallery id.
#[derive(Debug, Clone)]
pub enum StyleRef {
    Upload(Bytes),
    Gallery(String),
}

/// Output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
        }
    }
    fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Png => image::ImageFormat::Png,
            Format::Jpeg => image::ImageFormat::Jpeg,
        }
    }
}

/// One image to stylize (the fields of `POST /api/stylize`, checked).
#[derive(Debug, Clone)]
pub struct StylizeJob {
    pub content: Bytes,
    pub styles: Vec<StyleRef>,
    /// One weight per style (interpolation); `None` = equal weights.
    pub weights: Option<Vec<f64>>,
    /// Two styles split by this mask (white = first style).
    pub mask: Option<Bytes>,
    /// α, colour preservation, palette matching, and the result's shorter side
    /// (`content_size`; 0: the content's own size, large images tiled).
    pub settings: Settings,
    pub format: Format,
}

/// One camera frame of live mode.
pub struct FrameJob {
    pub frame: Bytes,
    /// One style, or two mixed by `weights`.
    pub styles: Vec<StyleRef>,
    pub weights: Vec<f64>,
    /// α and the frame size (`live_size`); frames are never tiled.
    pub settings: Settings,
    pub temporal: Temporal,
    /// The connection's style as the previous frame prepared it (statistics and palette),
    /// reused while the style stays the same; `None` prepares it (about 10 ms: the palette).
    pub prepared: Option<Box<PreparedStyle>>,
}

pub enum Job {
    Stylize(StylizeJob),
    Frame(FrameJob),
}

pub enum Output {
    Image { bytes: Vec<u8>, format: Format, width: u32, height: u32 },
    Frame { bytes: Vec<u8>, temporal: Temporal, prepared: Box<PreparedStyle>, compute_ms: f64 },
}

fn decode(bytes: &[u8], max_pixels: u64, what: &str) -> Result<Rgb32FImage, ApiError> {
    img::decode(bytes, max_pixels).map_err(|f| decode_error(f, what))
}

/// The style's decoded image and code (computed here once per style and cached).
fn style(stylizer: &Stylizer, ctx: &Context, r: &StyleRef) -> Result<(Arc<CachedStyle>, StyleCode), ApiError> {
    let bytes = match r {
        StyleRef::Upload(b) => b.to_vec(),
        StyleRef::Gallery(id) => ctx
            .styles
            .get(id)
            .ok_or_else(|| ApiError::bad_request(format!("no style {} in the gallery", super::error::excerpt(id))))?
            .bytes
            .to_vec(),
    };
    let cached = ctx.styles.decoded(&bytes)?;
    let levels = match cached.code.get() {
        Some(levels) => levels,
        None => {
            let code = stylizer.style_code(&cached.image)?.ok_or_else(|| ApiError::internal("no network"))?;
            cached.code.get_or_init(|| code.to_vecs())
        }
    };
    let Method::Network(net) = stylizer.method() else { return Err(ApiError::internal("no network")) };
    let code = StyleCode::from_vecs(net.family(), levels)
        .ok_or_else(|| ApiError::internal("a cached style code does not fit the network"))?;
    Ok((cached, code))
}

/// Runs one job on this worker's network.
pub fn run(net: &Network, ctx: &Context, job: Job) -> Result<Output, ApiError> {
    match job {
        Job::Stylize(j) => stylize(net, ctx, j),
        Job::Frame(f) => frame(net, ctx, f),
    }
}

fn stylize(net: &Network, ctx: &Context, j: StylizeJob) -> Result<Output, ApiError> {
    // The result's size was checked when the request was read (api::read_job).
    let content = decode(&j.content, ctx.max_pixels, "content")?;
    let size = j.settings.content_size;
    let content = if size > 0 { img::resize_shorter(&content, size) } else { content };
    let stylizer = Stylizer::new(Method::Network(net), j.settings)?;
    let resolved: Vec<(Arc<CachedStyle>, StyleCode)> =
        j.styles.iter().map(|r| style(&stylizer, ctx, r)).collect::<Result<_, _>>()?;
    let images = resolved.iter().map(|(c, _)| c.image.clone());
    let spec = match (&j.mask, resolved.len()) {
        (Some(m), 2) => {
            let mut images = images;
            let (fg, bg) = (images.next().expect("two"), images.next().expect("two"));
            StyleSpec::Masked { fg, bg, mask: decode(m, ctx.max_pixels, "mask")? }
        }
        (Some(_), n) => return Err(ApiError::bad_request(format!("a mask needs exactly two styles, got {n}"))),
        (None, 1) => StyleSpec::Single(images.into_iter().next().expect("one")),
        (None, n) => {
            let weights = j.weights.clone().unwrap_or_else(|| vec![1.0; n]);
            StyleSpec::Mix(images.zip(weights).collect())
        }
    };
    let prepared = stylizer.prepare_with_codes(spec, resolved.into_iter().map(|(_, s)| s).collect())?;
    let out = stylizer.stylize(&content, &prepared)?;
    let bytes = styles::encode(&out, j.format.image_format())?;
    if let Some(dir) = &ctx.save_dir {
        let name = format!(
            "{}.{}",
            styles::hex(&styles::hash(&bytes)[..8]),
            if j.format == Format::Png { "png" } else { "jpg" }
        );
        let path = dir.join(name);
        adain::io::atomic_write(&path, |tmp| std::fs::write(tmp, &bytes).map_err(|e| adain::Error::io(tmp, e)))
            .map_err(|e| ApiError::internal(format!("saving the result: {e}")))?;
    }
    let (width, height) = out.dimensions();
    Ok(Output::Image { bytes, format: j.format, width, height })
}

fn frame(net: &Network, ctx: &Context, mut f: FrameJob) -> Result<Output, ApiError> {
    let t0 = Instant::now();
    let im = decode(&f.frame, ctx.max_pixels, "frame")?;
    let size = f.settings.live_size;
    check_result_size(im.width(), im.height(), size, ctx.max_result_pixels)?;
    let im = if size > 0 { img::resize_shorter(&im, size) } else { im };
    let stylizer = Stylizer::new(Method::Network(net), Settings { tile: Tile::Off, ..f.settings.clone() })?;
    let prepared = match f.prepared.take() {
        Some(p) => p,
        None => {
            let resolved: Vec<(Arc<CachedStyle>, StyleCode)> =
                f.styles.iter().map(|r| style(&stylizer, ctx, r)).collect::<Result<_, _>>()?;
            let images: Vec<_> = resolved.iter().map(|(c, _)| c.image.clone()).collect();
            let spec = match images.len() {
                1 => StyleSpec::Single(images.into_iter().next().expect("one")),
                _ => StyleSpec::Mix(images.into_iter().zip(f.weights.iter().copied()).collect()),
            };
            Box::new(stylizer.prepare_with_codes(spec, resolved.into_iter().map(|(_, c)| c).collect())?)
        }
    };
    let out = stylizer.stylize_frame(&im, &prepared, Some(&mut f.temporal))?;
    let bytes = styles::encode(&out, image::ImageFormat::Jpeg)?;
    Ok(Output::Frame { bytes, temporal: f.temporal, prepared, compute_ms: t0.elapsed().as_secs_f64() * 1e3 })
}

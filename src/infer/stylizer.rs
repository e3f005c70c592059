//! The stylization API every front end calls (CLI, video, eval, export, server).
//!
//! - [`Network`]: the loaded networks of one family (vgg or lite), in one precision, on one
//!   device ([`super::network`]).
//! - [`StyleSpec`]: what style to apply (one image, a weighted mix, or two split by a mask);
//!   [`Stylizer::prepare`] turns it into a [`PreparedStyle`] whose statistics are computed
//!   once and reused for any number of contents (images, video frames, tiles).
//! - [`Stylizer`]: a [`Method`] (the network, or the colour-transfer baseline) with α, colour
//!   preservation and tiling, applied by [`Stylizer::stylize`] (images) or
//!   [`Stylizer::stylize_tensor`] (tensors, with optional temporal smoothing for video).

use super::color;
use super::network::{Network, StyleCode};
use super::settings::Settings;
use super::tiled;
use crate::data::image as img;
use crate::error::{Error, Result};
use crate::model::adain::{EPS, Stats};
use image::Rgb32FImage;
use tch::{Device, Tensor};

/// How results are made.
#[derive(Clone, Copy)]
pub enum Method<'a> {
    /// The AdaIN network.
    Network(&'a Network),
    /// Baseline: content pixels re-scaled to the style's per-channel mean and std (AdaIN in
    /// pixel space), computed on `device`.
    ColorTransfer { device: Device },
}

impl Method<'_> {
    /// The compute device.
    pub fn device(&self) -> Device {
        match self {
            Method::Network(n) => n.device(),
            Method::ColorTransfer { device } => *device,
        }
    }
}

/// The style to apply; images at their working size.
#[derive(Clone)]
pub enum StyleSpec {
    /// One style image.
    Single(Rgb32FImage),
    /// Several styles interpolated by non-negative weights (not all zero; normalised to sum
    /// to 1). AdaIN is affine in the style statistics, so mixing them equals mixing the outputs.
    Mix(Vec<(Rgb32FImage, f64)>),
    /// Two styles split by a mask (any size; scaled to each content): where it is white the
    /// first style, where black the second. Each region is normalised with its own content
    /// statistics, as in the original Torch code.
    Masked { fg: Rgb32FImage, bg: Rgb32FImage, mask: Rgb32FImage },
}

/// Style codes ready to apply.
enum Prepared {
    Global(StyleCode),
    Masked { fg: StyleCode, bg: StyleCode },
}

/// A [`StyleSpec`] with its statistics computed for one stylizer. With colour preservation
/// the statistics depend on each content (the styles are recoloured to it first), so they
/// are computed per content from the kept images instead.
pub struct PreparedStyle {
    spec: StyleSpec,
    stats: Option<Prepared>,
    /// The styles' RGB mean and covariance: one for a single or mixed style, two for a mask
    /// (first style, second style).
    palette: Vec<color::Palette>,
}

impl PreparedStyle {
    /// The code of a single or mixed style, when it does not depend on the content (what a
    /// fixed-style export bakes in).
    pub fn global_code(&self) -> Option<&StyleCode> {
        match &self.stats {
            Some(Prepared::Global(s)) => Some(s),
            _ => None,
        }
    }

    /// The style specification it was prepared from.
    pub fn spec(&self) -> &StyleSpec {
        &self.spec
    }
}

/// Temporal smoothing state for video: each frame's AdaIN target is blended with the
/// previous one's (`weight` of the previous), which reduces flicker.
#[derive(Debug, Default)]
pub struct Temporal {
    pub weight: f64,
    prev: Option<Tensor>,
}

impl Temporal {
    pub fn new(weight: f64) -> Self {
        Self { weight, prev: None }
    }

    fn blend(&mut self, t: Tensor) -> Tensor {
        if self.weight <= 0.0 {
            return t;
        }
        let t = match &self.prev {
            Some(p) if p.size() == t.size() => &t * (1.0 - self.weight) + p * self.weight,
            _ => t,
        };
        self.prev = Some(t.shallow_clone());
        t
    }
}

/// A method with its settings.
/// Built by [`Stylizer::new`] only, which checks the settings.
pub struct Stylizer<'a> {
    method: Method<'a>,
    settings: Settings,
}

/// The normalised weights of a style mix.
fn mix_weights(mix: &[(Rgb32FImage, f64)]) -> Result<Vec<f64>> {
    normalise(&mix.iter().map(|(_, w)| *w).collect::<Vec<_>>())
}

/// Normalised weights: non-negative, finite, not all zero.
fn normalise(weights: &[f64]) -> Result<Vec<f64>> {
    if weights.iter().any(|w| *w < 0.0 || !w.is_finite()) || weights.iter().sum::<f64>() <= 0.0 {
        return Err(Error::setting("style_weights", format!("{weights:?}"), "must be non-negative and not all zero"));
    }
    let total: f64 = weights.iter().sum();
    Ok(weights.iter().map(|w| w / total).collect())
}

impl<'a> Stylizer<'a> {
    pub fn new(method: Method<'a>, settings: Settings) -> Result<Self> {
        settings.validate()?;
        Ok(Self { method, settings })
    }

    /// The method it runs.
    pub fn method(&self) -> &Method<'a> {
        &self.method
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks the spec and computes its statistics once (unless they depend on the content).
    pub fn prepare(&self, spec: StyleSpec) -> Result<PreparedStyle> {
        match (&spec, &self.method) {
            (StyleSpec::Mix(v), _) if v.is_empty() => {
                return Err(Error::setting("style_weights", "[]", "a style mix needs at least one style"));
            }
            (StyleSpec::Mix(v), _) => {
                mix_weights(v)?;
            }
            (StyleSpec::Masked { .. }, Method::ColorTransfer { .. }) => {
                return Err(Error::Unsupported("a mask needs the network method, not colour transfer".into()));
            }
            _ => {}
        }
        let stats = match &self.method {
            Method::Network(n) if !self.settings.preserve_color => {
                Some(crate::error::catch_panics("encoding the style", || self.codes_for(n, &spec, None))?)
            }
            _ => None,
        };
        let palette = Self::palette_of(&spec);
        Ok(PreparedStyle { spec, stats, palette })
    }

    /// The code of one style image (what [`Stylizer::prepare_with_codes`] takes); `None` for
    /// colour transfer, which needs no network.
    pub fn style_code(&self, image: &Rgb32FImage) -> Result<Option<StyleCode>> {
        match &self.method {
            Method::Network(n) => n.style_code(&img::to_tensor(image)).map(Some),
            Method::ColorTransfer { .. } => Ok(None),
        }
    }

    /// Prepares a spec with per-image codes computed earlier (e.g. cached by a server): one
    /// per style image of the spec, in order (a mix: each style; a mask: fg, bg). With colour
    /// preservation or colour transfer they are not needed and are ignored.
    pub fn prepare_with_codes(&self, spec: StyleSpec, per_style: Vec<StyleCode>) -> Result<PreparedStyle> {
        if self.settings.preserve_color || matches!(self.method, Method::ColorTransfer { .. }) {
            return self.prepare(spec);
        }
        let device = self.method.device();
        let mut per_style: Vec<StyleCode> = per_style.iter().map(|c| c.to_device(device)).collect();
        let n = match &spec {
            StyleSpec::Single(_) => 1,
            StyleSpec::Mix(v) => v.len(),
            StyleSpec::Masked { .. } => 2,
        };
        if per_style.len() != n {
            return Err(Error::Invalid(format!("{} style codes for {n} style images", per_style.len())));
        }
        let stats = match &spec {
            StyleSpec::Single(_) => Prepared::Global(per_style.remove(0)),
            StyleSpec::Mix(v) => Prepared::Global(StyleCode::mix(&per_style, &mix_weights(v)?)?),
            StyleSpec::Masked { .. } => {
                let bg = per_style.remove(1);
                Prepared::Masked { fg: per_style.remove(0), bg }
            }
        };
        let palette = Self::palette_of(&spec);
        Ok(PreparedStyle { spec, stats: Some(stats), palette })
    }

    /// The RGB palettes of a spec: one for a single or mixed style, two for a mask.
    fn palette_of(spec: &StyleSpec) -> Vec<color::Palette> {
        let _g = tch::no_grad_guard();
        let of = |im: &Rgb32FImage| color::Palette::of(&img::to_tensor(im));
        match spec {
            StyleSpec::Single(im) => vec![of(im)],
            StyleSpec::Mix(v) => match mix_weights(v) {
                Ok(weights) => vec![color::Palette::mix(
                    &v.iter().zip(weights).map(|((im, _), w)| (of(im), w)).collect::<Vec<_>>(),
                )],
                Err(_) => vec![],
            },
            StyleSpec::Masked { fg, bg, .. } => vec![of(fg), of(bg)],
        }
    }

    /// Codes of a spec, the styles recoloured to `recolor_to` first when given.
    fn codes_for(&self, net: &Network, spec: &StyleSpec, recolor_to: Option<&Tensor>) -> Result<Prepared> {
        let _g = tch::no_grad_guard();
        let device = self.method.device();
        let code = |im: &Rgb32FImage| {
            let t = img::to_tensor(im).to_device(device);
            let t = match recolor_to {
                Some(c) => color::coral(&t, c),
                None => t,
            };
            net.style_code(&t)
        };
        Ok(match spec {
            StyleSpec::Single(im) => Prepared::Global(code(im)?),
            StyleSpec::Mix(v) => {
                let weights = mix_weights(v)?;
                let codes = v.iter().map(|(im, _)| code(im)).collect::<Result<Vec<StyleCode>>>()?;
                Prepared::Global(StyleCode::mix(&codes, &weights)?)
            }
            StyleSpec::Masked { fg, bg, .. } => Prepared::Masked { fg: code(fg)?, bg: code(bg)? },
        })
    }

    /// Stylizes one image; the result has the content's size.
    pub fn stylize(&self, content: &Rgb32FImage, style: &PreparedStyle) -> Result<Rgb32FImage> {
        Ok(img::from_tensor(&self.stylize_tensor(&img::to_tensor(content), style, None)?))
    }

    /// [`Stylizer::stylize`], with temporal smoothing state for video and camera frames (which
    /// are then not tiled).
    pub fn stylize_frame(
        &self,
        content: &Rgb32FImage,
        style: &PreparedStyle,
        temporal: Option<&mut Temporal>,
    ) -> Result<Rgb32FImage> {
        Ok(img::from_tensor(&self.stylize_tensor(&img::to_tensor(content), style, temporal)?))
    }

    /// Stylizes `content: [1, 3, H, W]` in [0, 1] (any device, any H and W); returns
    /// `[1, 3, H, W]` float32 on the compute device (host memory when tiled), clamped to
    /// [0, 1]. `temporal` blends the AdaIN target with the previous call's (video).
    pub fn stylize_tensor(
        &self,
        content: &Tensor,
        style: &PreparedStyle,
        temporal: Option<&mut Temporal>,
    ) -> Result<Tensor> {
        super::network::check_image("content", content)?;
        let _g = tch::no_grad_guard();
        let device = self.method.device();
        let net = match self.method {
            Method::ColorTransfer { .. } => return self.color_transfer(&content.to_device(device), style),
            Method::Network(n) => n,
        };
        let owned;
        let prepared = match &style.stats {
            Some(p) => p,
            None => {
                owned = self.codes_for(net, &style.spec, Some(&content.to_device(device)))?;
                &owned
            }
        };
        let alpha = self.settings.alpha;
        let mut mask_at_size: Option<Tensor> = None;
        let out = match prepared {
            Prepared::Masked { fg, bg } => {
                let StyleSpec::Masked { mask, .. } = &style.spec else {
                    unreachable!("masked codes come from a masked spec")
                };
                let c = content.to_device(device);
                let (h, w) = (c.size()[2], c.size()[3]);
                let m = img::to_tensor(&img::resize_exact(mask, w as u32, h as u32));
                let m = m.mean_dim([1i64].as_slice(), false, tch::Kind::Float).view([h, w]).gt(0.5).to_device(device);
                mask_at_size = Some(m.shallow_clone());
                net.stylize_masked(&c, fg, bg, &m, alpha)?
            }
            Prepared::Global(code) => {
                let (h, w) = (content.size()[2], content.size()[3]);
                match (self.settings.tile.size_for(h, w), temporal, net.tiling()) {
                    (Some(t), None, Some(geometry)) => tiled::stylize_tiled(net, geometry, content, code, alpha, t)?,
                    (_, temporal, _) => {
                        let f = net.features(&net.pad(&content.to_device(device))?)?;
                        let t = net.target(&f, code, alpha)?;
                        let t = match temporal {
                            Some(state) => state.blend(t),
                            None => t,
                        };
                        net.decode(&t, code, alpha)?.narrow(2, 0, h).narrow(3, 0, w)
                    }
                }
            }
        };
        Ok(self.match_palette(out.clamp(0.0, 1.0), content, style, mask_at_size.as_ref()))
    }

    /// Video's frame step: `w × h` RGB bytes (row-major) → the stylized frame, `[H, W, 3]`
    /// float32 in [0, 1] (row-major), each frame's AdaIN target blended with the previous
    /// one's by `temporal` (the state lives in the returned closure).
    pub fn frames<'s>(
        &'s self,
        style: &'s PreparedStyle,
        temporal: f64,
    ) -> impl FnMut(&[u8], (u32, u32)) -> Result<Vec<f32>> + 's {
        let device = self.method.device();
        let mut state = Temporal::new(temporal);
        move |buf, (w, h)| {
            let x = Tensor::from_slice(buf)
                .view([h as i64, w as i64, 3])
                .permute([2, 0, 1])
                .unsqueeze(0)
                .to_device(device)
                .to_kind(tch::Kind::Float)
                / 255.0;
            let y = self.stylize_tensor(&x, style, Some(&mut state))?;
            let hwc = y.squeeze_dim(0).permute([1, 2, 0]).contiguous().to_device(Device::Cpu);
            Ok(Vec::<f32>::try_from(hwc.flatten(0, -1))?)
        }
    }

    /// Moves `out` onto the painting's colour mean and covariance (the content's, when its
    /// colours are kept), as strongly as the style itself (α); per region for a masked pair.
    fn match_palette(&self, out: Tensor, content: &Tensor, style: &PreparedStyle, mask: Option<&Tensor>) -> Tensor {
        let strength = self.settings.match_palette * self.settings.alpha;
        if strength <= 0.0 || style.palette.is_empty() {
            return out;
        }
        let kept = self.settings.preserve_color.then(|| color::Palette::of(content));
        let target = |k: usize| kept.clone().unwrap_or_else(|| style.palette[k].clone());
        let out = match (mask, style.palette.len()) {
            (Some(m), 2) => {
                let first = color::match_palette_where(&out, m, &target(0), strength);
                color::match_palette_where(&first, &m.logical_not(), &target(1), strength)
            }
            _ => color::match_palette(&out, &target(0), strength),
        };
        out.clamp(0.0, 1.0)
    }

    /// The colour-transfer baseline: the content re-scaled to the style's per-channel
    /// statistics (mixed by weight for a mix; recoloured to the content first it is a no-op
    /// up to CORAL's covariance match).
    fn color_transfer(&self, c: &Tensor, style: &PreparedStyle) -> Result<Tensor> {
        let device = c.device();
        let pixel_stats = |im: &Rgb32FImage| {
            let s = img::to_tensor(im).to_device(device);
            let s = if self.settings.preserve_color { color::coral(&s, c) } else { s };
            Stats::of(&s, EPS)
        };
        let stats = match &style.spec {
            StyleSpec::Single(im) => pixel_stats(im),
            StyleSpec::Mix(v) => {
                let weights = mix_weights(v)?;
                Stats::mix(&v.iter().map(|(im, _)| pixel_stats(im)).collect::<Vec<_>>(), &weights)
            }
            StyleSpec::Masked { .. } => {
                return Err(Error::Unsupported("a mask needs the network method, not colour transfer".into()));
            }
        };
        let out = crate::model::adain::adain_with_stats(c, &stats, EPS).clamp(0.0, 1.0);
        Ok(crate::model::adain::blend(out, c, self.settings.alpha))
    }
}

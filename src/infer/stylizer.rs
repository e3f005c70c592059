//! The stylization API every front end calls (CLI, video, eval, export, server), written once
//! over the [`StyleNet`] seam for both builds (libtorch's networks, the light kernels).
//!
//! - [`StyleSpec`]: what style to apply (one image, a weighted mix, or two split by a mask);
//!   [`Stylizer::prepare`] turns it into a [`PreparedStyle`] whose codes are computed once and
//!   reused for any number of contents (images, video frames, tiles).
//! - [`Stylizer`]: a [`Method`] (a network, or the colour-transfer baseline) with α, colour
//!   preservation, palette matching and tiling, applied by [`Stylizer::stylize`] (images),
//!   [`Stylizer::stylize_frame`] (with temporal state) or [`Stylizer::frames`] (video bytes).

use super::palette::{self, Palette};
use super::seam::{StyleNet, check_image};
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::model::light::{ChannelStats, EPS_ADAIN, Map, Mask};
use image::Rgb32FImage;
use std::borrow::Cow;

/// How results are made.
pub enum Method<'a, N> {
    /// A network.
    Network(&'a N),
    /// Baseline: content pixels re-scaled to the style's per-channel mean and std (AdaIN in
    /// pixel space).
    ColorTransfer,
}

impl<N> Clone for Method<'_, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N> Copy for Method<'_, N> {}

/// The style to apply; images at their working size.
#[derive(Clone)]
pub enum StyleSpec {
    /// One style image.
    Single(Rgb32FImage),
    /// Several styles interpolated by non-negative weights (not all zero; normalised to sum
    /// to 1). Every family's code is linear in its statistics, so a mix is a weighted sum of
    /// codes.
    Mix(Vec<(Rgb32FImage, f64)>),
    /// Two styles split by a mask (any size; scaled to each content): where it is white the
    /// first style, where black the second. Each region is normalised with its own content
    /// statistics, as in the original Torch code.
    Masked { fg: Rgb32FImage, bg: Rgb32FImage, mask: Rgb32FImage },
}

/// A style code with what the network made of it at α.
struct Coded<N: StyleNet> {
    code: N::Code,
    alpha: f64,
    ready: N::Ready,
}

/// A [`StyleSpec`] ready to apply: its codes (one, or two for a mask) unless the colours are
/// kept, when they depend on each content (the styles are recoloured to it first), and its
/// palettes (likewise one or two).
pub struct PreparedStyle<N: StyleNet> {
    spec: StyleSpec,
    codes: Option<Vec<Coded<N>>>,
    palettes: Vec<Palette>,
}

impl<N: StyleNet> PreparedStyle<N> {
    /// The code of a single or mixed style, when it does not depend on the content (what a
    /// fixed-style export bakes in).
    pub fn global_code(&self) -> Option<&N::Code> {
        match (self.codes.as_deref(), &self.spec) {
            (Some([one]), StyleSpec::Single(_) | StyleSpec::Mix(_)) => Some(&one.code),
            _ => None,
        }
    }

    /// The style specification it was prepared from.
    pub fn spec(&self) -> &StyleSpec {
        &self.spec
    }
}

/// A method with its settings; built by [`Stylizer::new`], which checks the settings.
pub struct Stylizer<'a, N> {
    method: Method<'a, N>,
    settings: Settings,
}

/// A group of styles with their normalised weights: what one code is made of.
type Group<'s> = Vec<(&'s Rgb32FImage, f64)>;

/// The style groups of a spec: one for a single or mixed style, two (first, second) for a
/// mask.
fn groups(spec: &StyleSpec) -> Result<Vec<Group<'_>>> {
    match spec {
        StyleSpec::Single(im) => Ok(vec![vec![(im, 1.0)]]),
        StyleSpec::Mix(v) => {
            if v.is_empty() {
                return Err(Error::setting("style_weights", "[]", "a style mix needs at least one style"));
            }
            let w: Vec<f64> = v.iter().map(|(_, w)| *w).collect();
            if w.iter().any(|w| *w < 0.0 || !w.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
                return Err(Error::setting("style_weights", format!("{w:?}"), "must be non-negative and not all zero"));
            }
            let total: f64 = w.iter().sum();
            Ok(vec![v.iter().map(|(im, w)| (im, w / total)).collect()])
        }
        StyleSpec::Masked { fg, bg, .. } => Ok(vec![vec![(fg, 1.0)], vec![(bg, 1.0)]]),
    }
}

/// `mask` (any size) at `w × h`: set where its scaled grey level is above one half.
fn mask_at(mask: &Rgb32FImage, w: u32, h: u32) -> Mask {
    let m = crate::data::image::resize_exact(mask, w, h);
    let data = m.pixels().map(|p| (p.0[0] + p.0[1] + p.0[2]) / 3.0 > 0.5).collect();
    Mask { h: h as usize, w: w as usize, data }
}

impl<'a, N: StyleNet> Stylizer<'a, N> {
    pub fn new(method: Method<'a, N>, settings: Settings) -> Result<Self> {
        settings.validate()?;
        Ok(Self { method, settings })
    }

    /// The method it runs.
    pub fn method(&self) -> &Method<'a, N> {
        &self.method
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks the spec and computes its codes and palettes once (the codes unless they depend
    /// on the content).
    pub fn prepare(&self, spec: StyleSpec) -> Result<PreparedStyle<N>> {
        if matches!((&spec, &self.method), (StyleSpec::Masked { .. }, Method::ColorTransfer)) {
            return Err(Error::Unsupported("a mask needs the network method, not colour transfer".into()));
        }
        let groups = groups(&spec)?;
        let palettes = Self::palettes(&groups);
        let codes = match self.method {
            Method::Network(n) if !self.settings.preserve_color => {
                Some(groups.iter().map(|g| self.code(n, g, None)).collect::<Result<Vec<_>>>()?)
            }
            _ => None,
        };
        Ok(PreparedStyle { spec, codes, palettes })
    }

    /// The mixed code of a group (its styles recoloured to `recolor_to` first when given),
    /// made ready at this stylizer's α.
    fn code(&self, net: &N, group: &[(&Rgb32FImage, f64)], recolor_to: Option<&Rgb32FImage>) -> Result<Coded<N>> {
        let codes = group
            .iter()
            .map(|(im, _)| match recolor_to {
                Some(c) => net.style_code(&palette::coral(im, c)),
                None => net.style_code(im),
            })
            .collect::<Result<Vec<_>>>()?;
        self.coded(net, &codes.iter().collect::<Vec<_>>(), &group.iter().map(|(_, w)| *w).collect::<Vec<_>>())
    }

    /// The weighted mix of `codes` (weights sum to 1), made ready at this stylizer's α.
    fn coded(&self, net: &N, codes: &[&N::Code], weights: &[f64]) -> Result<Coded<N>> {
        let code = match codes {
            [one] => (*one).clone(),
            _ => net.mix(codes, weights)?,
        };
        let alpha = self.settings.alpha;
        Ok(Coded { ready: net.ready(&code, alpha)?, code, alpha })
    }

    /// The code of one style image (what [`Stylizer::prepare_with_codes`] takes); `None` for
    /// colour transfer, which needs no network.
    pub fn style_code(&self, image: &Rgb32FImage) -> Result<Option<N::Code>> {
        match self.method {
            Method::Network(n) => n.style_code(image).map(Some),
            Method::ColorTransfer => Ok(None),
        }
    }

    /// Prepares a spec with per-image codes computed earlier (e.g. cached by a server): one
    /// per style image of the spec, in order (a mix: each style; a mask: fg, bg). With colour
    /// preservation or colour transfer they are not needed and are ignored.
    pub fn prepare_with_codes(&self, spec: StyleSpec, per_style: Vec<N::Code>) -> Result<PreparedStyle<N>> {
        let net = match self.method {
            Method::Network(n) if !self.settings.preserve_color => n,
            _ => return self.prepare(spec),
        };
        let groups = groups(&spec)?;
        let n: usize = groups.iter().map(Vec::len).sum();
        if per_style.len() != n {
            return Err(Error::Invalid(format!("{} style codes for {n} style images", per_style.len())));
        }
        let mut codes = per_style.iter();
        let coded = groups
            .iter()
            .map(|g| {
                let group: Vec<&N::Code> = codes.by_ref().take(g.len()).collect();
                self.coded(net, &group, &g.iter().map(|(_, w)| *w).collect::<Vec<_>>())
            })
            .collect::<Result<Vec<_>>>()?;
        let palettes = Self::palettes(&groups);
        Ok(PreparedStyle { spec, codes: Some(coded), palettes })
    }

    /// The RGB palettes of the groups: one for a single or mixed style, two for a mask.
    fn palettes(groups: &[Group<'_>]) -> Vec<Palette> {
        groups
            .iter()
            .map(|g| Palette::mix(&g.iter().map(|(im, w)| (Palette::of(im), *w)).collect::<Vec<_>>()))
            .collect()
    }

    /// Stylizes one image; the result has the content's size, in [0, 1].
    pub fn stylize(&self, content: &Rgb32FImage, style: &PreparedStyle<N>) -> Result<Rgb32FImage> {
        self.stylize_frame(content, style, None)
    }

    /// Video's frame step: `w × h` RGB bytes (row-major) → the stylized frame, `[H, W, 3]`
    /// float32 in [0, 1] (row-major), each frame's AdaIN target blended with the previous
    /// one's by `temporal` (the state lives in the returned closure). Frames are not tiled.
    pub fn frames<'s>(
        &'s self,
        style: &'s PreparedStyle<N>,
        temporal: f64,
    ) -> impl FnMut(&[u8], (u32, u32)) -> Result<Vec<f32>> + 's {
        let mut state = match self.method {
            Method::Network(n) => Some(n.temporal(temporal)),
            Method::ColorTransfer => None,
        };
        move |buf, (w, h)| {
            let data = buf.iter().map(|b| *b as f32 / 255.0).collect();
            let frame = Rgb32FImage::from_raw(w, h, data)
                .ok_or_else(|| Error::Invalid(format!("{} bytes for a {w}×{h} frame", buf.len())))?;
            Ok(self.stylize_frame(&frame, style, state.as_mut())?.into_raw())
        }
    }

    /// [`Stylizer::stylize`], with temporal smoothing state for video and camera frames (which
    /// are then not tiled).
    pub fn stylize_frame(
        &self,
        content: &Rgb32FImage,
        style: &PreparedStyle<N>,
        temporal: Option<&mut N::Temporal>,
    ) -> Result<Rgb32FImage> {
        check_image("content", content)?;
        let net = match self.method {
            Method::ColorTransfer => return self.color_transfer(content, style),
            Method::Network(net) => net,
        };
        let alpha = self.settings.alpha;
        let owned;
        let codes = match &style.codes {
            Some(c) => c,
            None => {
                owned = groups(&style.spec)?
                    .iter()
                    .map(|g| self.code(net, g, Some(content)))
                    .collect::<Result<Vec<_>>>()?;
                &owned
            }
        };
        match (codes.as_slice(), &style.spec) {
            ([fg, bg], StyleSpec::Masked { mask, .. }) => {
                let mask = mask_at(mask, content.width(), content.height());
                let (fg, bg) = (self.at_alpha(net, fg)?, self.at_alpha(net, bg)?);
                let out = net.stylize_masked(content, &fg, &bg, &mask, alpha)?;
                Ok(self.match_palette(out, content, style, Some(&mask)))
            }
            ([one], _) => {
                let tile = match temporal {
                    Some(_) => None,
                    None => self.settings.tile.size_for(content.height() as i64, content.width() as i64),
                };
                let out = net.stylize(content, &*self.at_alpha(net, one)?, alpha, tile, temporal)?;
                Ok(self.match_palette(out, content, style, None))
            }
            _ => Err(Error::Invalid(format!("{} style codes for this spec", codes.len()))),
        }
    }

    /// `coded` ready at this stylizer's α (a style prepared by a stylizer with another α, as a
    /// live connection's when its slider moves, is made ready again).
    fn at_alpha<'c>(&self, net: &N, coded: &'c Coded<N>) -> Result<Cow<'c, N::Ready>> {
        if coded.alpha == self.settings.alpha {
            return Ok(Cow::Borrowed(&coded.ready));
        }
        Ok(Cow::Owned(net.ready(&coded.code, self.settings.alpha)?))
    }

    /// Moves `out` onto the painting's colour mean and covariance (the content's, when its
    /// colours are kept), as strongly as the style itself (α); per region for a mask.
    fn match_palette(
        &self,
        out: Rgb32FImage,
        content: &Rgb32FImage,
        style: &PreparedStyle<N>,
        mask: Option<&Mask>,
    ) -> Rgb32FImage {
        let strength = self.settings.match_palette * self.settings.alpha;
        if strength <= 0.0 {
            return out;
        }
        let kept = self.settings.preserve_color.then(|| Palette::of(content));
        let target = |k: usize| kept.clone().unwrap_or_else(|| style.palettes[k].clone());
        clamped(match mask {
            Some(m) => {
                let first = palette::match_palette_where(&out, &m.data, &target(0), strength);
                palette::match_palette_where(&first, &m.not().data, &target(1), strength)
            }
            None => palette::match_palette(&out, &target(0), strength),
        })
    }

    /// The colour-transfer baseline: each channel of the content re-scaled to the style's
    /// mean and std (mixed by weight), blended by α.
    fn color_transfer(&self, content: &Rgb32FImage, style: &PreparedStyle<N>) -> Result<Rgb32FImage> {
        let group = groups(&style.spec)?.swap_remove(0);
        let stats: Vec<_> = group
            .iter()
            .map(|(im, _)| {
                let im = if self.settings.preserve_color { palette::coral(im, content) } else { (*im).clone() };
                Map::from_image(&im).stats(EPS_ADAIN)
            })
            .collect();
        let weights: Vec<f64> = group.iter().map(|(_, w)| *w).collect();
        let target = ChannelStats::mix(&stats.iter().collect::<Vec<_>>(), &weights);
        let c = Map::from_image(content);
        let moved = c.renormalized(&c.stats(EPS_ADAIN), &target, 1.0);
        let a = self.settings.alpha as f32;
        let data = moved.data.iter().zip(&c.data).map(|(m, x)| m.clamp(0.0, 1.0) * a + x * (1.0 - a)).collect();
        Ok(Map { data, ..moved }.to_image(c.h, c.w))
    }
}

fn clamped(mut im: Rgb32FImage) -> Rgb32FImage {
    im.pixels_mut().flat_map(|p| p.0.iter_mut()).for_each(|v| *v = v.clamp(0.0, 1.0));
    im
}

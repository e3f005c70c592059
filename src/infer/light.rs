//! The stylization API on the light kernels ([`crate::model::light`]): what the light build's
//! front ends call, under the same names as the full build's ([`Network`], [`NetworkSpec`],
//! [`Stylizer`], [`StyleSpec`], [`Method`]). In the full build it is `infer::light`, compiled
//! and tested against the libtorch path on the same weights.
//!
//! The lite network is the only family; the colour statistics are [`super::palette`]'s.

use super::palette::{self, Palette};
use super::settings::Settings;
use super::tile::{Geometry, Tile, spans};
use crate::error::{Error, Result};
use crate::model::light::{FoldedDecoder, LiteNet, LiteStyle, Map};
use crate::model::lite_config::{MIN_SIDE, MULTIPLE};
use crate::model::{Family, Precision};
use crate::weights::{plain, shipped};
use image::Rgb32FImage;
use std::path::{Path, PathBuf};

/// Where the light kernels run: this CPU, on all its cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
}

/// Everything needed to load a network (the full build's fields, so that front ends build it
/// the same way; only the lite family loads here).
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    pub family: Family,
    /// The VGG encoder's name (unused: the light build has no VGG model).
    pub encoder: String,
    /// The lite network's weights; `None`: the shipped file, found as the full build finds it
    /// ([`shipped::default_weights`]), else the copy built into the binary.
    pub weights: Option<PathBuf>,
    pub precision: Precision,
    pub device: Device,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            family: Family::Lite,
            encoder: "vgg16".into(),
            weights: None,
            precision: Precision::default(),
            device: Device::Cpu,
        }
    }
}

/// The shipped lite network, built into the light binary so that a copied or installed binary
/// stylizes without the checkout (0.66 MB, float16).
#[cfg(not(feature = "torch"))]
const EMBEDDED_LITE: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/models/lite.safetensors"));

impl NetworkSpec {
    /// Loads the lite network in float32. Other families and bfloat16 need libtorch:
    /// `Error::Unsupported` saying so.
    pub fn load(&self) -> Result<Network> {
        if self.family != Family::Lite {
            return Err(Error::Unsupported(format!(
                "the {} network needs libtorch, and this is the light build (lite network only): build adain with its default features",
                self.family
            )));
        }
        if self.precision == Precision::Bf16 {
            return Err(Error::setting(
                "precision",
                self.precision,
                "bfloat16 needs libtorch; the light build computes in float32",
            ));
        }
        let path = self.weights.clone().or_else(|| shipped::default_weights(Family::Lite, ""));
        let net = match &path {
            Some(p) => plain::load_lite(p)?,
            None => Self::embedded()?,
        };
        Ok(Network { net, weights_path: path })
    }

    #[cfg(not(feature = "torch"))]
    fn embedded() -> Result<LiteNet> {
        plain::lite_from_bytes(EMBEDDED_LITE, Path::new("(built-in lite.safetensors)"))
    }

    #[cfg(feature = "torch")]
    fn embedded() -> Result<LiteNet> {
        Err(Error::Path {
            path: PathBuf::from("models/lite.safetensors"),
            msg: "no lite weights given and none shipped here or in $ADAIN_HOME".into(),
        })
    }
}

/// The loaded lite network.
pub struct Network {
    net: LiteNet,
    weights_path: Option<PathBuf>,
}

impl Network {
    /// A network from lite weights already read.
    pub fn new(net: LiteNet) -> Self {
        Self { net, weights_path: None }
    }

    pub fn family(&self) -> Family {
        Family::Lite
    }

    /// Always float32.
    pub fn precision(&self) -> Precision {
        Precision::F32
    }

    /// The file the weights came from (`None`: built into the binary).
    pub fn weights_path(&self) -> Option<&Path> {
        self.weights_path.as_deref()
    }

    /// The network's own description (where its weights came from).
    pub fn describe(&self) -> String {
        match &self.weights_path {
            Some(p) => format!("lite network, weights {}", p.display()),
            None => "lite network, the weights built into this binary".into(),
        }
    }

    /// The style code of an image (any size; padded by edge replication below `MIN_SIDE`).
    pub fn style_code(&self, style: &Rgb32FImage) -> Result<LiteStyle> {
        check_image("style", style)?;
        Ok(self.net.style(&Map::from_image(style).pad_small(MIN_SIDE as usize)))
    }

    /// `content` stylized with a style code at strength α by a decoder folded for that code
    /// (see [`Network::folded`]), whole or in tiles of `tile` pixels (the same result in
    /// bounded memory, see [`super::tile`]): the content's size, clamped to [0, 1].
    pub fn stylize_with(
        &self,
        content: &Rgb32FImage,
        code: &LiteStyle,
        decoder: &FoldedDecoder,
        alpha: f64,
        tile: Option<i64>,
    ) -> Result<Rgb32FImage> {
        check_image("content", content)?;
        super::settings::check_alpha(alpha)?;
        let (h, w) = (content.height() as usize, content.width() as usize);
        let padded = Map::from_image(content).pad_for(MULTIPLE as usize, MIN_SIDE as usize);
        let out = match tile {
            None => decoder.decode(&LiteNet::target(&self.net.encode(&padded), code, alpha)),
            Some(tile) => {
                let Geometry { stride, encoder_margin, decoder_margin } =
                    Geometry::of(Family::Lite).expect("the lite network tiles");
                let tile = (tile.max(Tile::MIN_SIZE) / super::tile::MULTIPLE) * super::tile::MULTIPLE;
                let feats =
                    tiled(&padded, tile, encoder_margin, self.net.channels(), (1, stride), |p| self.net.encode(p));
                let target = LiteNet::target(&feats, code, alpha);
                drop(feats);
                tiled(&target, tile / stride, decoder_margin, 3, (stride, 1), |p| decoder.decode(p))
            }
        };
        Ok(out.to_image(h, w))
    }

    /// The decoder modulated by `code` at α, built once per style and reused for each content.
    pub fn folded(&self, code: &LiteStyle, alpha: f64) -> FoldedDecoder {
        self.net.decoder.folded(code, alpha)
    }
}

/// Runs `f` on every tile of `input` with a `margin` around it (clipped at the borders) and
/// stitches the cores of the outputs into `[H·scale, W·scale, c_out]`; `scale = num / den`
/// is the output's size per input pixel, and tiles and margins are multiples of `den`.
fn tiled(input: &Map, tile: i64, margin: i64, c_out: usize, (num, den): (i64, i64), f: impl Fn(&Map) -> Map) -> Map {
    let (h, w) = (input.h as i64, input.w as i64);
    let s = |x: i64| (x * num / den) as usize;
    let mut out = Map::zeros(s(h), s(w), c_out);
    for &(y0, th) in &spans(h, tile) {
        for &(x0, tw) in &spans(w, tile) {
            let (ya, xa) = ((y0 - margin).max(0), (x0 - margin).max(0));
            let (yb, xb) = ((y0 + th + margin).min(h), (x0 + tw + margin).min(w));
            let y = f(&input.window(ya as usize, xa as usize, (yb - ya) as usize, (xb - xa) as usize));
            out.paste(&y.window(s(y0 - ya), s(x0 - xa), s(th), s(tw)), s(y0), s(x0));
        }
    }
    out
}

/// An image the networks take: at least 1×1.
fn check_image(what: &str, image: &Rgb32FImage) -> Result<()> {
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::Shape {
            what: what.into(),
            expected: "an image of at least 1×1 pixels".into(),
            got: vec![0],
        });
    }
    Ok(())
}

/// How results are made.
#[derive(Clone, Copy)]
pub enum Method<'a> {
    /// The lite network.
    Network(&'a Network),
    /// Baseline: content pixels re-scaled to the style's per-channel mean and std.
    ColorTransfer { device: Device },
}

/// The style to apply; images at their working size.
#[derive(Clone)]
pub enum StyleSpec {
    /// One style image.
    Single(Rgb32FImage),
    /// Several styles interpolated by non-negative weights (not all zero; normalised to sum
    /// to 1).
    Mix(Vec<(Rgb32FImage, f64)>),
    /// Two styles split by a mask (not in the light build yet: refused by
    /// [`Stylizer::prepare`]).
    Masked { fg: Rgb32FImage, bg: Rgb32FImage, mask: Rgb32FImage },
}

/// A [`StyleSpec`] ready to apply: its code and folded decoder (unless the colours are kept,
/// when they depend on each content) and its palette.
pub struct PreparedStyle {
    spec: StyleSpec,
    code: Option<(LiteStyle, FoldedDecoder)>,
    palette: Palette,
}

impl PreparedStyle {
    /// The style specification it was prepared from.
    pub fn spec(&self) -> &StyleSpec {
        &self.spec
    }
}

/// A method with its settings; built by [`Stylizer::new`], which checks the settings.
pub struct Stylizer<'a> {
    method: Method<'a>,
    settings: Settings,
}

/// The styles of a single or mixed spec with their normalised weights.
fn weighted(spec: &StyleSpec) -> Result<Vec<(&Rgb32FImage, f64)>> {
    match spec {
        StyleSpec::Single(im) => Ok(vec![(im, 1.0)]),
        StyleSpec::Mix(v) => {
            let w: Vec<f64> = v.iter().map(|(_, w)| *w).collect();
            if v.is_empty() || w.iter().any(|w| *w < 0.0 || !w.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
                return Err(Error::setting("style_weights", format!("{w:?}"), "must be non-negative and not all zero"));
            }
            let total: f64 = w.iter().sum();
            Ok(v.iter().map(|(im, w)| (im, w / total)).collect())
        }
        StyleSpec::Masked { .. } => Err(Error::Unsupported(
            "masked stylization (two styles split by a mask) is not in the light build yet: use the full build".into(),
        )),
    }
}

impl<'a> Stylizer<'a> {
    pub fn new(method: Method<'a>, settings: Settings) -> Result<Self> {
        settings.validate()?;
        Ok(Self { method, settings })
    }

    pub fn method(&self) -> &Method<'a> {
        &self.method
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks the spec and computes its code and palette once.
    pub fn prepare(&self, spec: StyleSpec) -> Result<PreparedStyle> {
        let styles = weighted(&spec)?;
        let palette = Palette::mix(&styles.iter().map(|(im, w)| (Palette::of(im), *w)).collect::<Vec<_>>());
        let code = match self.method {
            Method::Network(n) if !self.settings.preserve_color => Some(self.code(n, &styles, None)?),
            _ => None,
        };
        Ok(PreparedStyle { spec, code, palette })
    }

    /// The mixed code of weighted styles (recoloured to `recolor_to` first when given) and its
    /// folded decoder.
    fn code(
        &self,
        net: &Network,
        styles: &[(&Rgb32FImage, f64)],
        recolor_to: Option<&Rgb32FImage>,
    ) -> Result<(LiteStyle, FoldedDecoder)> {
        let codes = styles
            .iter()
            .map(|(im, _)| match recolor_to {
                Some(c) => net.style_code(&palette::coral(im, c)),
                None => net.style_code(im),
            })
            .collect::<Result<Vec<_>>>()?;
        let weights: Vec<f64> = styles.iter().map(|(_, w)| *w).collect();
        let code = if codes.len() == 1 {
            codes[0].clone()
        } else {
            LiteStyle::mix(&codes.iter().collect::<Vec<_>>(), &weights)
        };
        let decoder = net.folded(&code, self.settings.alpha);
        Ok((code, decoder))
    }

    /// Stylizes one image; the result has the content's size, in [0, 1].
    pub fn stylize(&self, content: &Rgb32FImage, style: &PreparedStyle) -> Result<Rgb32FImage> {
        let alpha = self.settings.alpha;
        let tile = self.settings.tile.size_for(content.height() as i64, content.width() as i64);
        let out = match self.method {
            Method::ColorTransfer { .. } => return self.color_transfer(content, style),
            Method::Network(net) => match &style.code {
                Some((code, decoder)) => net.stylize_with(content, code, decoder, alpha, tile)?,
                None => {
                    let (code, decoder) = self.code(net, &weighted(&style.spec)?, Some(content))?;
                    net.stylize_with(content, &code, &decoder, alpha, tile)?
                }
            },
        };
        Ok(self.match_palette(out, content, style))
    }

    /// Moves `out` onto the painting's colour mean and covariance (the content's, when its
    /// colours are kept), as strongly as the style itself (α).
    fn match_palette(&self, out: Rgb32FImage, content: &Rgb32FImage, style: &PreparedStyle) -> Rgb32FImage {
        let strength = self.settings.match_palette * self.settings.alpha;
        if strength <= 0.0 {
            return out;
        }
        let target = if self.settings.preserve_color { Palette::of(content) } else { style.palette.clone() };
        clamped(palette::match_palette(&out, &target, strength))
    }

    /// The colour-transfer baseline: each channel of the content re-scaled to the style's
    /// mean and std (mixed by weight), blended by α.
    fn color_transfer(&self, content: &Rgb32FImage, style: &PreparedStyle) -> Result<Rgb32FImage> {
        let styles = weighted(&style.spec)?;
        let eps = crate::model::light::EPS_ADAIN;
        let stats: Vec<_> = styles
            .iter()
            .map(|(im, _)| {
                let im = if self.settings.preserve_color { palette::coral(im, content) } else { (*im).clone() };
                Map::from_image(&im).stats(eps)
            })
            .collect();
        let weights: Vec<f64> = styles.iter().map(|(_, w)| *w).collect();
        let target = crate::model::light::ChannelStats::mix(&stats.iter().collect::<Vec<_>>(), &weights);
        let c = Map::from_image(content);
        let moved = c.renormalized(&c.stats(eps), &target, 1.0);
        let moved = Map { data: moved.data.iter().map(|v| v.clamp(0.0, 1.0)).collect(), ..moved };
        let a = self.settings.alpha as f32;
        let blended =
            Map { data: moved.data.iter().zip(&c.data).map(|(m, x)| m * a + x * (1.0 - a)).collect(), ..moved };
        Ok(blended.to_image(c.h, c.w))
    }
}

fn clamped(mut im: Rgb32FImage) -> Rgb32FImage {
    im.pixels_mut().flat_map(|p| p.0.iter_mut()).for_each(|v| *v = v.clamp(0.0, 1.0));
    im
}

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
use crate::model::light::{FoldedDecoder, LiteNet, LiteStyle, Map, Mask, Store};
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
        let path = self.weights_file();
        let net = LiteNet::new(&self.read_store(path.as_deref())?.root(), &Default::default())?;
        Ok(Network { net, weights_path: path })
    }

    /// The lite weights file: the one given, else the shipped one (`None`: built in).
    fn weights_file(&self) -> Option<PathBuf> {
        self.weights.clone().or_else(|| shipped::default_weights(Family::Lite, ""))
    }

    /// The lite network's tensors (the weights [`NetworkSpec::load`] would load), for its
    /// ONNX graphs ([`crate::export::web::lite_graphs`]).
    pub fn lite_store(&self) -> Result<Store> {
        self.read_store(self.weights_file().as_deref())
    }

    fn read_store(&self, path: Option<&Path>) -> Result<Store> {
        match path {
            Some(p) => plain::lite_store(plain::read_store(p)?, p),
            None => Self::embedded(),
        }
    }

    #[cfg(not(feature = "torch"))]
    fn embedded() -> Result<Store> {
        let name = Path::new("(built-in lite.safetensors)");
        plain::lite_store(plain::store_from_bytes(EMBEDDED_LITE, name)?, name)
    }

    #[cfg(feature = "torch")]
    fn embedded() -> Result<Store> {
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
        temporal: Option<&mut Temporal>,
    ) -> Result<Rgb32FImage> {
        check_image("content", content)?;
        super::settings::check_alpha(alpha)?;
        let (h, w) = (content.height() as usize, content.width() as usize);
        let padded = Map::from_image(content).pad_for(MULTIPLE as usize, MIN_SIDE as usize);
        let out = match (tile, temporal) {
            (None, temporal) => {
                let t = LiteNet::target(&self.net.encode(&padded), code, alpha);
                decoder.decode(&match temporal {
                    Some(state) => state.blend(t),
                    None => t,
                })
            }
            (Some(tile), _) => {
                let Geometry { stride, encoder_margin, decoder_margin } = Geometry::LITE;
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

    /// `content` stylized with two styles split by `mask` (the content's size): each region
    /// normalised with its own statistics at the AdaIN level, and the decoder's modulation
    /// following the mask (not tiled, as in the full build).
    pub fn stylize_split(
        &self,
        content: &Rgb32FImage,
        fg: &Coded,
        bg: &Coded,
        mask: &Mask,
        alpha: f64,
    ) -> Result<Rgb32FImage> {
        check_image("content", content)?;
        super::settings::check_alpha(alpha)?;
        let (h, w) = (content.height() as usize, content.width() as usize);
        let (multiple, min) = (MULTIPLE as usize, MIN_SIDE as usize);
        let padded = Map::from_image(content).pad_for(multiple, min);
        let as_map = Map { h, w, c: 1, data: mask.data.iter().map(|m| if *m { 1.0 } else { 0.0 }).collect() };
        let m = as_map.pad_for(multiple, min);
        let m = Mask { h: m.h, w: m.w, data: m.data.iter().map(|v| *v > 0.5).collect() };
        let f = self.net.encode(&padded);
        let t = LiteNet::target_split(&f, &fg.code.0, &bg.code.0, &m.down(4), alpha);
        Ok(FoldedDecoder::decode_split(&fg.decoder, &bg.decoder, &t, &m).to_image(h, w))
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

/// Temporal smoothing state for video: each frame's AdaIN target is blended with the
/// previous one's (`weight` of the previous), which reduces flicker.
#[derive(Debug, Default)]
pub struct Temporal {
    pub weight: f64,
    prev: Option<Map>,
}

impl Temporal {
    pub fn new(weight: f64) -> Self {
        Self { weight, prev: None }
    }

    fn blend(&mut self, t: Map) -> Map {
        if self.weight <= 0.0 {
            return t;
        }
        let t = match &self.prev {
            Some(p) if (p.h, p.w, p.c) == (t.h, t.w, t.c) => {
                let (a, b) = ((1.0 - self.weight) as f32, self.weight as f32);
                Map { data: t.data.iter().zip(&p.data).map(|(x, y)| x * a + y * b).collect(), ..t }
            }
            _ => t,
        };
        self.prev = Some(t.clone());
        t
    }
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
    /// Two styles split by a mask (any size; scaled to each content): where it is white the
    /// first style, where black the second.
    Masked { fg: Rgb32FImage, bg: Rgb32FImage, mask: Rgb32FImage },
}

/// A style reduced to what the lite network keeps of it (its style encoder's statistics),
/// computed once per style ([`Stylizer::style_code`]) and reused for every content.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleCode(pub LiteStyle);

impl StyleCode {
    /// The statistics as `(mean, std)` per level, for caching across threads.
    pub fn to_vecs(&self) -> Vec<(Vec<f32>, Vec<f32>)> {
        self.0.to_vecs()
    }

    /// A code from [`StyleCode::to_vecs`]; `None` when it does not fit the family's network.
    pub fn from_vecs(family: Family, levels: &[(Vec<f32>, Vec<f32>)]) -> Option<Self> {
        (family == Family::Lite).then(|| LiteStyle::from_vecs(levels)).flatten().map(Self)
    }
}

/// A style code with the decoder folded for it at α.
#[derive(Clone)]
pub struct Coded {
    code: StyleCode,
    alpha: f64,
    decoder: FoldedDecoder,
}

/// A [`StyleSpec`] ready to apply: its codes (one, or two for a mask) unless the colours are
/// kept, when they depend on each content, and its palettes (likewise one or two).
pub struct PreparedStyle {
    spec: StyleSpec,
    codes: Option<Vec<Coded>>,
    palettes: Vec<Palette>,
}

impl PreparedStyle {
    /// The code of a single or mixed style, when it does not depend on the content (what a
    /// fixed-style export bakes in).
    pub fn global_code(&self) -> Option<&StyleCode> {
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
pub struct Stylizer<'a> {
    method: Method<'a>,
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
            let w: Vec<f64> = v.iter().map(|(_, w)| *w).collect();
            if v.is_empty() || w.iter().any(|w| *w < 0.0 || !w.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
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

    /// Checks the spec and computes its codes and palettes once.
    pub fn prepare(&self, spec: StyleSpec) -> Result<PreparedStyle> {
        if matches!((&spec, &self.method), (StyleSpec::Masked { .. }, Method::ColorTransfer { .. })) {
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

    /// The mixed code of a group (its styles recoloured to `recolor_to` first when given) and
    /// its folded decoder.
    fn code(&self, net: &Network, group: &[(&Rgb32FImage, f64)], recolor_to: Option<&Rgb32FImage>) -> Result<Coded> {
        let codes = group
            .iter()
            .map(|(im, _)| match recolor_to {
                Some(c) => net.style_code(&palette::coral(im, c)),
                None => net.style_code(im),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.coded(net, &codes.iter().collect::<Vec<_>>(), &group.iter().map(|(_, w)| *w).collect::<Vec<_>>()))
    }

    /// The weighted mix of `codes` (weights sum to 1) with the decoder folded for it.
    fn coded(&self, net: &Network, codes: &[&LiteStyle], weights: &[f64]) -> Coded {
        let code = if codes.len() == 1 { codes[0].clone() } else { LiteStyle::mix(codes, weights) };
        let alpha = self.settings.alpha;
        Coded { decoder: net.folded(&code, alpha), code: StyleCode(code), alpha }
    }

    /// The code of one style image (what [`Stylizer::prepare_with_codes`] takes); `None` for
    /// colour transfer, which needs no network.
    pub fn style_code(&self, image: &Rgb32FImage) -> Result<Option<StyleCode>> {
        match self.method {
            Method::Network(n) => n.style_code(image).map(|c| Some(StyleCode(c))),
            Method::ColorTransfer { .. } => Ok(None),
        }
    }

    /// Prepares a spec with per-image codes computed earlier (e.g. cached by a server): one
    /// per style image of the spec, in order (a mix: each style; a mask: fg, bg). With colour
    /// preservation or colour transfer they are not needed and are ignored.
    pub fn prepare_with_codes(&self, spec: StyleSpec, per_style: Vec<StyleCode>) -> Result<PreparedStyle> {
        let net = match self.method {
            Method::Network(n) if !self.settings.preserve_color => n,
            _ => return self.prepare(spec),
        };
        let groups = groups(&spec)?;
        let n: usize = groups.iter().map(Vec::len).sum();
        if per_style.len() != n {
            return Err(Error::Invalid(format!("{} style codes for {n} style images", per_style.len())));
        }
        let mut codes = per_style.iter().map(|c| &c.0);
        let coded = groups
            .iter()
            .map(|g| {
                let group: Vec<&LiteStyle> = codes.by_ref().take(g.len()).collect();
                self.coded(net, &group, &g.iter().map(|(_, w)| *w).collect::<Vec<_>>())
            })
            .collect();
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
    pub fn stylize(&self, content: &Rgb32FImage, style: &PreparedStyle) -> Result<Rgb32FImage> {
        self.stylize_frame(content, style, None)
    }

    /// Video's frame step: `w × h` RGB bytes (row-major) → the stylized frame, `[H, W, 3]`
    /// float32 in [0, 1] (row-major), each frame's AdaIN target blended with the previous
    /// one's by `temporal` (the state lives in the returned closure). Frames are not tiled.
    pub fn frames<'s>(
        &'s self,
        style: &'s PreparedStyle,
        temporal: f64,
    ) -> impl FnMut(&[u8], (u32, u32)) -> Result<Vec<f32>> + 's {
        let mut state = Temporal::new(temporal);
        move |buf, (w, h)| {
            let data = buf.iter().map(|b| *b as f32 / 255.0).collect();
            let frame = Rgb32FImage::from_raw(w, h, data)
                .ok_or_else(|| Error::Invalid(format!("{} bytes for a {w}×{h} frame", buf.len())))?;
            Ok(self.stylize_frame(&frame, style, Some(&mut state))?.into_raw())
        }
    }

    /// [`Stylizer::stylize`], with temporal smoothing state for video and camera frames (which
    /// are then not tiled).
    pub fn stylize_frame(
        &self,
        content: &Rgb32FImage,
        style: &PreparedStyle,
        temporal: Option<&mut Temporal>,
    ) -> Result<Rgb32FImage> {
        let net = match self.method {
            Method::ColorTransfer { .. } => return self.color_transfer(content, style),
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
                let (fg, bg) = (self.at_alpha(net, fg), self.at_alpha(net, bg));
                let out = net.stylize_split(content, &fg, &bg, &mask, alpha)?;
                Ok(self.match_palette(out, content, style, Some(&mask)))
            }
            ([one], _) => {
                let tile = match temporal {
                    Some(_) => None,
                    None => self.settings.tile.size_for(content.height() as i64, content.width() as i64),
                };
                let one = self.at_alpha(net, one);
                let out = net.stylize_with(content, &one.code.0, &one.decoder, alpha, tile, temporal)?;
                Ok(self.match_palette(out, content, style, None))
            }
            _ => Err(Error::Invalid(format!("{} style codes for this spec", codes.len()))),
        }
    }

    /// `coded` with its decoder folded at this stylizer's α (a style prepared by a stylizer
    /// with another α, as a live connection's when its slider moves, is folded again).
    fn at_alpha<'c>(&self, net: &Network, coded: &'c Coded) -> std::borrow::Cow<'c, Coded> {
        if coded.alpha == self.settings.alpha {
            return std::borrow::Cow::Borrowed(coded);
        }
        std::borrow::Cow::Owned(self.coded(net, &[&coded.code.0], &[1.0]))
    }

    /// Moves `out` onto the painting's colour mean and covariance (the content's, when its
    /// colours are kept), as strongly as the style itself (α); per region for a mask.
    fn match_palette(
        &self,
        out: Rgb32FImage,
        content: &Rgb32FImage,
        style: &PreparedStyle,
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
    fn color_transfer(&self, content: &Rgb32FImage, style: &PreparedStyle) -> Result<Rgb32FImage> {
        let group = groups(&style.spec)?.swap_remove(0);
        let eps = crate::model::light::EPS_ADAIN;
        let stats: Vec<_> = group
            .iter()
            .map(|(im, _)| {
                let im = if self.settings.preserve_color { palette::coral(im, content) } else { (*im).clone() };
                Map::from_image(&im).stats(eps)
            })
            .collect();
        let weights: Vec<f64> = group.iter().map(|(_, w)| *w).collect();
        let target = crate::model::light::ChannelStats::mix(&stats.iter().collect::<Vec<_>>(), &weights);
        let c = Map::from_image(content);
        let moved = c.renormalized(&c.stats(eps), &target, 1.0);
        let a = self.settings.alpha as f32;
        let data = moved.data.iter().zip(&c.data).map(|(m, x)| m.clamp(0.0, 1.0) * a + x * (1.0 - a)).collect();
        Ok(Map { data, ..moved }.to_image(c.h, c.w))
    }
}

fn clamped(mut im: Rgb32FImage) -> Rgb32FImage {
    im.pixels_mut().flat_map(|p| p.0.iter_mut()).for_each(|v| *v = v.clamp(0.0, 1.0));
    im
}

//! The light kernels' runtime ([`crate::model::light`]): the lite network without libtorch,
//! behind the same seam as libtorch's ([`StyleNet`]), so the one [`super::stylizer`] runs on
//! it. The light build's front ends get it under the full build's names ([`Network`],
//! [`NetworkSpec`], [`Stylizer`], [`Method`]); in the full build it is `infer::light`,
//! compiled and tested against the libtorch path on the same weights.
//!
//! The lite network is the only family here.

use super::seam::{StyleNet, check_image};
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

    /// `content` stylized with a style code at strength α by a decoder folded for that code
    /// (see [`StyleNet::ready`]), whole or in tiles of `tile` pixels (the same result in
    /// bounded memory, see [`super::tile`]): the content's size, clamped to [0, 1].
    fn stylize_with(
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
                let f = self.net.encode(&padded);
                let t = LiteNet::target(&f, code, alpha);
                decoder.decode(&match temporal {
                    Some(state) => {
                        let stride = padded.h / f.h;
                        state.blend(t, f, content, stride)
                    }
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
    fn stylize_split(
        &self,
        content: &Rgb32FImage,
        fg: &Ready,
        bg: &Ready,
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
        let t = LiteNet::target_split(&f, &fg.code, &bg.code, &m.down(4), alpha);
        Ok(FoldedDecoder::decode_split(&fg.decoder, &bg.decoder, &t, &m).to_image(h, w))
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

pub use super::motion::Temporal;

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

/// A lite code made ready at one α: the code and the decoder with its modulation folded in
/// (built once per style and reused for every content).
#[derive(Clone)]
pub struct Ready {
    code: LiteStyle,
    decoder: FoldedDecoder,
}

pub use super::stylizer::StyleSpec;
/// The stylization API on the light kernels: [`super::stylizer`]'s, over this network.
pub type Stylizer<'a> = super::stylizer::Stylizer<'a, Network>;
/// How the light stylizer makes results.
pub type Method<'a> = super::stylizer::Method<'a, Network>;
/// A style prepared for the light stylizer.
pub type PreparedStyle = super::stylizer::PreparedStyle<Network>;

impl StyleNet for Network {
    type Code = StyleCode;
    type Ready = Ready;
    type Temporal = Temporal;

    fn family(&self) -> Family {
        Family::Lite
    }

    fn style_code(&self, style: &Rgb32FImage) -> Result<StyleCode> {
        check_image("style", style)?;
        Ok(StyleCode(self.net.style(&Map::from_image(style).pad_small(MIN_SIDE as usize))))
    }

    fn mix(&self, codes: &[&StyleCode], weights: &[f64]) -> Result<StyleCode> {
        Ok(StyleCode(LiteStyle::mix(&codes.iter().map(|c| &c.0).collect::<Vec<_>>(), weights)))
    }

    fn ready(&self, code: &StyleCode, alpha: f64) -> Result<Ready> {
        super::settings::check_alpha(alpha)?;
        Ok(Ready { code: code.0.clone(), decoder: self.net.decoder.folded(&code.0, alpha) })
    }

    fn temporal(&self, weight: f64) -> Temporal {
        Temporal::new(weight)
    }

    fn stylize(
        &self,
        content: &Rgb32FImage,
        style: &Ready,
        alpha: f64,
        tile: Option<i64>,
        temporal: Option<&mut Temporal>,
    ) -> Result<Rgb32FImage> {
        self.stylize_with(content, &style.code, &style.decoder, alpha, tile, temporal)
    }

    fn stylize_masked(
        &self,
        content: &Rgb32FImage,
        fg: &Ready,
        bg: &Ready,
        mask: &Mask,
        alpha: f64,
    ) -> Result<Rgb32FImage> {
        self.stylize_split(content, fg, bg, mask, alpha)
    }

    fn tiling(&self) -> Option<Geometry> {
        Some(Geometry::LITE)
    }

    fn channels(&self) -> i64 {
        self.net.channels() as i64
    }
}

//! The networks a stylizer runs, described once ([`NetworkSpec`]) and loaded together
//! ([`Network`]), whatever the family:
//!
//! - `vgg`: the frozen VGG encoder cut at relu4_1, AdaIN, the mirrored decoder (the shipped
//!   `models/decoder-vgg16.safetensors`);
//! - `lite`: two micro encoders and a style-modulated micro decoder ([`crate::model::lite`],
//!   `models/lite.safetensors`), about 20× fewer operations per frame.
//!
//! Both reduce a style to a [`StyleCode`] computed once, and stylize a content in three steps
//! that video and the server use piece by piece: [`Network::features`] (the AdaIN level),
//! [`Network::target`] (AdaIN and the α blend, where temporal smoothing happens) and
//! [`Network::decode`].

use super::settings::check_alpha;
use crate::error::{Error, Result};
use crate::model::adain::{EPS, Stats};
use crate::model::lite::{self, LiteStyle};
use crate::model::microast::{self, MicroStyle};
use crate::model::style_transfer::{self, pad_for};
use crate::model::{Family, Precision, StyleTransfer};
use crate::weights::lite::{LoadedLite, detect_family, load_lite};
use crate::weights::microast::{LoadedMicroAst, load_microast};
pub use crate::weights::shipped::default_weights;
use crate::weights::shipped::weights_file_name;
use crate::weights::{self, LoadedDecoder, LoadedEncoder};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// Everything needed to load a network.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    pub family: Family,
    /// The VGG encoder (a name in the cache dir such as `vgg16`, or a path); vgg only.
    pub encoder: String,
    /// The trained weights: the decoder for vgg, the whole network for lite, the folder with
    /// the four released files for microast. `None`: the shipped file ([`default_weights`];
    /// none for microast).
    pub weights: Option<PathBuf>,
    pub precision: Precision,
    pub device: Device,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            family: Family::Vgg,
            encoder: "vgg16".into(),
            weights: None,
            precision: Precision::default(),
            device: Device::Cpu,
        }
    }
}

impl NetworkSpec {
    /// The weights file: the given one, or the shipped one for the family (for vgg, the
    /// decoder of the encoder named `encoder_name`).
    fn weights_path(&self, encoder_name: &str) -> Result<PathBuf> {
        if let Some(p) = &self.weights {
            return Ok(p.clone());
        }
        default_weights(self.family, encoder_name).ok_or_else(|| Error::Path {
            path: PathBuf::from("models").join(weights_file_name(self.family, encoder_name)),
            msg: format!(
                "no {} weights given and none shipped here or in $ADAIN_HOME; train them or pass their path",
                self.family
            ),
        })
    }

    /// The lite network's tensors in float32, from the given weights file or the shipped one
    /// (any format libtorch's loader reads), for its ONNX graphs
    /// ([`crate::export::web::lite_graphs`]); whatever `family` says.
    pub fn lite_store(&self) -> Result<crate::model::light::Store> {
        let path = Self { family: Family::Lite, ..self.clone() }.weights_path("")?;
        weights::lite::read_lite(&path, Device::Cpu)?.to_store(&path)
    }

    /// Loads the network in the requested precision.
    pub fn load(&self) -> Result<Network> {
        match self.family {
            Family::Vgg => {
                let enc = weights::load_encoder(&weights::resolve_encoder(&self.encoder)?, self.device)?;
                let path = self.weights_path(&enc.encoder.config().name)?;
                if detect_family(&path)? == Family::Lite {
                    return Err(Error::weights(&path, "holds lite network weights, not a VGG decoder"));
                }
                let dec = weights::load_decoder(&path, enc.encoder.config(), self.device)?;
                Ok(Network::new(enc, dec, self.precision).with_weights_path(path))
            }
            Family::Lite => {
                let path = self.weights_path("")?;
                Ok(Network::lite(load_lite(&path, self.device)?, self.precision).with_weights_path(path))
            }
            Family::MicroAst => {
                let dir = self.weights.clone().ok_or_else(|| {
                    Error::Unsupported(
                        "MicroAST's weights are not shipped: give the folder with its four released .pth.tar files"
                            .into(),
                    )
                })?;
                Ok(Network::microast(load_microast(&dir, self.device)?, self.precision).with_weights_path(dir))
            }
        }
    }
}

/// A style reduced to what a network keeps of it.
#[derive(Debug, Clone)]
pub enum StyleCode {
    /// relu4_1 mean/std, `[1, 512, 1, 1]` each.
    Vgg(Stats),
    /// The style encoder's three taps' mean/std.
    Lite(LiteStyle),
    /// Both taps' mean/std and the filter modulation.
    MicroAst(MicroStyle),
}

impl StyleCode {
    /// Every level's statistics (for MicroAST also its filter weights and biases as pairs).
    pub fn levels(&self) -> Vec<Stats> {
        match self {
            StyleCode::Vgg(s) => vec![s.clone()],
            StyleCode::Lite(l) => l.taps.to_vec(),
            StyleCode::MicroAst(m) => {
                let mut v = m.taps.to_vec();
                v.extend(
                    (0..2).map(|k| Stats { mean: m.weights[k].shallow_clone(), std: m.biases[k].shallow_clone() }),
                );
                v
            }
        }
    }

    /// The statistics of the (first) AdaIN level.
    pub(crate) fn adain_level(&self) -> &Stats {
        match self {
            StyleCode::Vgg(s) => s,
            StyleCode::Lite(l) => &l.taps[2],
            StyleCode::MicroAst(m) => &m.taps[1],
        }
    }

    /// Weighted sum (weights sum to 1) of codes of one family.
    pub fn mix(codes: &[StyleCode], weights: &[f64]) -> Result<Self> {
        match codes.first() {
            Some(StyleCode::Vgg(_)) => {
                let s: Option<Vec<Stats>> =
                    codes.iter().map(|c| if let StyleCode::Vgg(s) = c { Some(s.clone()) } else { None }).collect();
                Ok(StyleCode::Vgg(Stats::mix(&s.ok_or_else(mixed_families)?, weights)))
            }
            Some(StyleCode::Lite(_)) => {
                let s: Option<Vec<LiteStyle>> =
                    codes.iter().map(|c| if let StyleCode::Lite(s) = c { Some(s.clone()) } else { None }).collect();
                Ok(StyleCode::Lite(LiteStyle::mix(&s.ok_or_else(mixed_families)?, weights)))
            }
            Some(StyleCode::MicroAst(_)) => {
                let s: Option<Vec<MicroStyle>> =
                    codes.iter().map(|c| if let StyleCode::MicroAst(s) = c { Some(s.clone()) } else { None }).collect();
                Ok(StyleCode::MicroAst(MicroStyle::mix(&s.ok_or_else(mixed_families)?, weights)))
            }
            None => Err(Error::setting("style_weights", "[]", "a style mix needs at least one style")),
        }
    }

    /// The same code on `device`.
    pub fn to_device(&self, device: Device) -> Self {
        match self {
            StyleCode::Vgg(s) => StyleCode::Vgg(Stats { mean: s.mean.to_device(device), std: s.std.to_device(device) }),
            StyleCode::Lite(l) => StyleCode::Lite(l.to_device(device)),
            StyleCode::MicroAst(m) => StyleCode::MicroAst(m.to_device(device)),
        }
    }

    /// Plain numbers, one `(mean, std)` per level (for caches that outlive a device or a thread).
    pub fn to_vecs(&self) -> Vec<(Vec<f32>, Vec<f32>)> {
        self.levels().iter().map(Stats::to_vecs).collect()
    }

    /// Rebuilds a code from [`StyleCode::to_vecs`]; `None` when the levels do not fit `family`.
    pub fn from_vecs(family: Family, levels: &[(Vec<f32>, Vec<f32>)]) -> Option<Self> {
        let stats = |k: usize| levels.get(k).map(|(m, s)| Stats::from_vecs(m, s));
        match (family, levels.len()) {
            (Family::Vgg, 1) => Some(StyleCode::Vgg(stats(0)?)),
            (Family::Lite, 3) => Some(StyleCode::Lite(LiteStyle { taps: [stats(0)?, stats(1)?, stats(2)?] })),
            (Family::MicroAst, 4) => {
                let (w0, w1) = (stats(2)?, stats(3)?);
                Some(StyleCode::MicroAst(MicroStyle {
                    taps: [stats(0)?, stats(1)?],
                    weights: [w0.mean, w1.mean],
                    biases: [w0.std, w1.std],
                }))
            }
            _ => None,
        }
    }
}

/// `style` padded by edge replication to at least `min` on each side.
fn pad_small(style: &Tensor, min: i64) -> Tensor {
    let (h, w) = (style.size()[2], style.size()[3]);
    if h < min || w < min {
        style.replication_pad2d([0, (min - w).max(0), 0, (min - h).max(0)])
    } else {
        style.shallow_clone()
    }
}

fn mixed_families() -> Error {
    Error::Unsupported("style codes of another network family".into())
}

// One `Network` per worker thread: the variants' sizes (the lite one holds its convs' filter
// caches inline) do not matter.
#[allow(clippy::large_enum_variant)]
enum Nets {
    Vgg { encoder: LoadedEncoder, decoder: LoadedDecoder },
    Lite(LoadedLite),
    MicroAst(LoadedMicroAst),
}

/// A loaded network, on one device and in one precision.
pub struct Network {
    nets: Nets,
    precision: Precision,
    weights_path: Option<PathBuf>,
}

impl Network {
    /// The VGG family: puts both networks into `precision` (resolved for their device:
    /// `Auto` becomes bf16 on CPUs with native bfloat16, f32 elsewhere).
    pub fn new(mut encoder: LoadedEncoder, mut decoder: LoadedDecoder, precision: Precision) -> Self {
        let precision = precision.resolve(encoder.vs.device());
        precision.apply(&mut encoder.vs);
        precision.apply(&mut decoder.vs);
        Self { nets: Nets::Vgg { encoder, decoder }, precision, weights_path: None }
    }

    /// The lite family, in `precision` (resolved as for [`Network::new`]).
    pub fn lite(mut lite: LoadedLite, precision: Precision) -> Self {
        let precision = precision.resolve(lite.vs.device());
        precision.apply(&mut lite.vs);
        Self { nets: Nets::Lite(lite), precision, weights_path: None }
    }

    fn with_weights_path(mut self, path: PathBuf) -> Self {
        self.weights_path = Some(path);
        self
    }

    /// The file the trained weights came from, when loaded from a [`NetworkSpec`].
    pub fn weights_path(&self) -> Option<&Path> {
        self.weights_path.as_deref()
    }

    /// MicroAST, in `precision` (resolved as for [`Network::new`]).
    pub fn microast(mut m: LoadedMicroAst, precision: Precision) -> Self {
        let precision = precision.resolve(m.vs.device());
        precision.apply(&mut m.vs);
        Self { nets: Nets::MicroAst(m), precision, weights_path: None }
    }

    pub fn family(&self) -> Family {
        match self.nets {
            Nets::Vgg { .. } => Family::Vgg,
            Nets::Lite(_) => Family::Lite,
            Nets::MicroAst(_) => Family::MicroAst,
        }
    }

    /// The device the networks live on.
    pub fn device(&self) -> Device {
        match &self.nets {
            Nets::Vgg { encoder, .. } => encoder.vs.device(),
            Nets::Lite(l) => l.vs.device(),
            Nets::MicroAst(m) => m.vs.device(),
        }
    }

    /// The precision actually used (never `Auto`).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The VGG encoder and decoder (export, benchmarks); `None` for other families.
    pub fn vgg_parts(&self) -> Option<(&LoadedEncoder, &LoadedDecoder)> {
        match &self.nets {
            Nets::Vgg { encoder, decoder } => Some((encoder, decoder)),
            _ => None,
        }
    }

    /// The tensor-level VGG model; `None` for other families.
    pub fn vgg(&self) -> Option<StyleTransfer<'_>> {
        self.vgg_parts().map(|(e, d)| StyleTransfer { encoder: &e.encoder, decoder: &d.decoder })
    }

    /// The lite network with its variables (export); `None` for other families.
    pub fn lite_parts(&self) -> Option<&LoadedLite> {
        match &self.nets {
            Nets::Lite(l) => Some(l),
            _ => None,
        }
    }

    /// Spatial multiple and smallest side the network takes.
    fn geometry(&self) -> (i64, i64) {
        match self.nets {
            Nets::Vgg { .. } => (style_transfer::MULTIPLE, style_transfer::MIN_SIDE),
            Nets::Lite(_) => (lite::MULTIPLE, lite::MIN_SIDE),
            Nets::MicroAst(_) => (microast::MULTIPLE, microast::MIN_SIDE),
        }
    }

    /// Channels of the AdaIN level: what [`Network::features`] gives and
    /// [`Network::decode`] takes (512 for VGG, 64 for the shipped lite network and MicroAST).
    pub fn channels(&self) -> i64 {
        match &self.nets {
            Nets::Vgg { decoder, .. } => decoder.decoder.in_channels(),
            Nets::Lite(l) => l.net.channels(),
            Nets::MicroAst(m) => m.net.channels(),
        }
    }

    /// `x: [B, C, H, W]` padded on the bottom/right to what the network takes (any size works;
    /// crop the result back).
    pub fn pad(&self, x: &Tensor) -> Result<Tensor> {
        check_shape("padded tensor", x, || "[B, C, H, W]".into(), |s| s.len() == 4)?;
        let (m, s) = self.geometry();
        Ok(pad_for(x, m, s))
    }

    /// The code of a style image `[1, 3, H, W]` in [0, 1] (any size), on this device.
    pub fn style_code(&self, style: &Tensor) -> Result<StyleCode> {
        check_image("style", style)?;
        let _g = tch::no_grad_guard();
        let style = style.to_device(self.device());
        Ok(match &self.nets {
            Nets::Vgg { encoder, decoder } => StyleCode::Vgg(
                StyleTransfer { encoder: &encoder.encoder, decoder: &decoder.decoder }.style_stats(&style),
            ),
            Nets::Lite(l) => StyleCode::Lite(l.net.style(&pad_small(&style, lite::MIN_SIDE))),
            Nets::MicroAst(m) => StyleCode::MicroAst(m.net.style(&pad_small(&style, microast::MIN_SIDE))),
        })
    }

    /// The AdaIN level `[B, C, h, w]` (float32, C = [`Network::channels`]) of a padded content
    /// `[B, 3, H, W]` (see [`Network::pad`]).
    pub fn features(&self, padded: &Tensor) -> Result<Tensor> {
        let (m, min) = self.geometry();
        let expected = || format!("[B, 3, H, W], floating point, H and W multiples of {m} and ≥ {min} (Network::pad)");
        check_shape("padded content", padded, expected, |s| {
            s.len() == 4 && s[1] == 3 && s[2] >= min && s[3] >= min && s[2] % m == 0 && s[3] % m == 0
        })?;
        check_floating("padded content", padded, expected)?;
        Ok(match &self.nets {
            Nets::Vgg { encoder, decoder } => {
                StyleTransfer { encoder: &encoder.encoder, decoder: &decoder.decoder }.features(padded)
            }
            Nets::Lite(l) => l.net.encode(padded),
            Nets::MicroAst(m) => m.net.encode(padded),
        })
    }

    /// `α·AdaIN(f, style) + (1−α)·f` at the AdaIN level (`f`: what [`Network::features`]
    /// gives).
    pub fn target(&self, f: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        check_alpha(alpha)?;
        self.check_level("features", f)?;
        let channels = code.adain_level().mean.size()[1];
        if channels != self.channels() {
            return Err(mixed_families());
        }
        Ok(StyleTransfer::target(f, code.adain_level(), alpha))
    }

    /// Decodes a target `[B, C, h, w]` (what [`Network::target`] gives) to `[B, 3, H, W]`
    /// float32 (padded size; the lite decoder and MicroAST's are modulated by `code` at
    /// strength α). `code` must come from this network.
    pub fn decode(&self, t: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        check_alpha(alpha)?;
        self.check_level("target", t)?;
        Ok(match (&self.nets, code) {
            (Nets::Vgg { encoder, decoder }, _) => {
                StyleTransfer { encoder: &encoder.encoder, decoder: &decoder.decoder }.decode(t)
            }
            (Nets::Lite(l), StyleCode::Lite(s)) => {
                let m = (alpha > 0.0).then(|| l.net.decoder.modulation(s, alpha));
                l.net.decode(t, m.as_ref())
            }
            (Nets::MicroAst(m), StyleCode::MicroAst(s)) => m.net.decode(t, s, alpha),
            _ => return Err(mixed_families()),
        })
    }

    /// Checks a tensor at the AdaIN level: `[B, C, h, w]`, C = [`Network::channels`], h and
    /// w ≥ 2 (the decoders' reflection padding needs two pixels; a padded content gives at
    /// least that), floating point.
    fn check_level(&self, what: &str, x: &Tensor) -> Result<()> {
        let c = self.channels();
        let expected = || format!("[B, {c}, h, w], h and w ≥ 2, floating point (Network::features)");
        check_shape(what, x, expected, |s| s.len() == 4 && s[1] == c && s[2] >= 2 && s[3] >= 2)?;
        check_floating(what, x, expected)
    }

    /// Two styles split by `mask: [H, W]` (bool, the content's size): `fg` where it is set.
    /// Each region is normalised with its own content statistics, as in the original Torch
    /// implementation; the lite decoder's modulation follows the mask too.
    pub(crate) fn stylize_masked(
        &self,
        content: &Tensor,
        fg: &StyleCode,
        bg: &StyleCode,
        mask: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        let (h, w) = (content.size()[2], content.size()[3]);
        let padded = self.pad(content)?;
        let f = self.features(&padded)?;
        let (fh, fw) = (f.size()[2], f.size()[3]);
        let m = self.pad(&mask.to_kind(tch::Kind::Float).view([1, 1, h, w]))?;
        let (ph, pw) = (m.size()[2], m.size()[3]);
        let mf = m.upsample_nearest2d([fh, fw], None, None).view([fh, fw]).gt(0.5);
        let region = |sel: &Tensor, style: &Stats| match Stats::of_masked(&f, sel, EPS) {
            Some(c) => (&f - &c.mean) / &c.std * &style.std + &style.mean,
            None => f.zeros_like(),
        };
        let t = region(&mf, fg.adain_level())
            .where_self(&mf.view([1, 1, fh, fw]), &region(&mf.logical_not(), bg.adain_level()));
        let t = crate::model::adain::blend(t, &f, alpha);
        let out = match (&self.nets, fg, bg) {
            (Nets::Lite(l), StyleCode::Lite(a), StyleCode::Lite(b)) => {
                let mm = m.view([ph, pw]).gt(0.5);
                let modulation = l.net.decoder.modulation_masked(a, b, &mm, alpha);
                l.net.decode(&t, Some(&modulation))
            }
            (Nets::Vgg { .. }, _, _) => self.decode(&t, fg, alpha)?,
            (Nets::MicroAst(_), _, _) => {
                return Err(Error::Unsupported(
                    "MicroAST has no masked stylization (its decoder re-normalises globally)".into(),
                ));
            }
            _ => return Err(mixed_families()),
        };
        Ok(out.narrow(2, 0, h).narrow(3, 0, w))
    }
}

/// `Error::Shape` for `what` unless its size passes `ok`; checked before libtorch sees the
/// tensor, which would panic. `expected` (the message) is only built on failure.
fn check_shape(what: &str, x: &Tensor, expected: impl FnOnce() -> String, ok: impl Fn(&[i64]) -> bool) -> Result<()> {
    let size = x.size();
    if ok(&size) { Ok(()) } else { Err(Error::Shape { what: what.to_owned(), expected: expected(), got: size }) }
}

/// `Error::Shape` unless `x` is floating point (the networks' convolutions take nothing else).
fn check_floating(what: &str, x: &Tensor, expected: impl FnOnce() -> String) -> Result<()> {
    check_shape(what, x, expected, |_| x.is_floating_point())
}

/// Checks an image tensor: `[1, 3, H, W]` with H, W ≥ 1, floating point (what
/// [`crate::data::image::to_tensor`] makes).
pub(crate) fn check_image(what: &str, x: &Tensor) -> Result<()> {
    let expected = || "[1, 3, H, W] (floating point, RGB in [0, 1])".to_owned();
    check_shape(what, x, expected, |s| s.len() == 4 && s[0] == 1 && s[1] == 3 && s[2] >= 1 && s[3] >= 1)?;
    check_floating(what, x, expected)
}

//! The networks a stylizer runs, described once ([`NetworkSpec`]) and loaded together
//! ([`Network`]), whatever the family: a [`TorchNet`] from the registry in [`super::nets`]
//! (one file per family) behind the checks every family shares.
//!
//! Every family reduces a style to a [`StyleCode`] computed once, and stylizes a content in
//! three steps that video and the server use piece by piece: [`Network::features`] (the AdaIN
//! level), [`Network::target`] (AdaIN and the α blend, where temporal smoothing happens) and
//! [`Network::decode`].

pub use super::nets::StyleCode;
use super::nets::{self, Lite, MicroAst, TorchNet, Vgg, mixed_families};
use super::seam::StyleNet;
use super::settings::check_alpha;
use super::tile::Geometry;
use crate::data::image as img;
use crate::error::{Error, Result};
use crate::model::adain::{EPS, Stats};
use crate::model::light::{Map, Mask};
use crate::model::style_transfer::{StyleTransfer, pad_for};
use crate::model::{Family, Precision};
use crate::weights;
use crate::weights::lite::LoadedLite;
use crate::weights::microast::LoadedMicroAst;
pub use crate::weights::shipped::default_weights;
use crate::weights::shipped::weights_file_name;
use crate::weights::{LoadedDecoder, LoadedEncoder};
use image::Rgb32FImage;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

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
    pub(super) fn weights_path(&self, encoder_name: &str) -> Result<PathBuf> {
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
        let (net, path) = nets::load(self)?;
        Ok(Network { net, weights_path: Some(path) })
    }
}

/// A loaded network, on one device and in one precision: a family's [`TorchNet`] behind the
/// input checks they all share.
pub struct Network {
    net: Box<dyn TorchNet>,
    weights_path: Option<PathBuf>,
}

impl Network {
    /// Any family's network.
    pub fn from_net(net: Box<dyn TorchNet>) -> Self {
        Self { net, weights_path: None }
    }

    /// The VGG family: puts both networks into `precision` (resolved for their device:
    /// `Auto` becomes bf16 on CPUs with native bfloat16, f32 elsewhere).
    pub fn new(encoder: LoadedEncoder, decoder: LoadedDecoder, precision: Precision) -> Self {
        Self::from_net(Box::new(Vgg::new(encoder, decoder, precision)))
    }

    /// The lite family, in `precision` (resolved as for [`Network::new`]).
    pub fn lite(lite: LoadedLite, precision: Precision) -> Self {
        Self::from_net(Box::new(Lite::new(lite, precision)))
    }

    /// MicroAST, in `precision` (resolved as for [`Network::new`]).
    pub fn microast(m: LoadedMicroAst, precision: Precision) -> Self {
        Self::from_net(Box::new(MicroAst::new(m, precision)))
    }

    /// The file the trained weights came from, when loaded from a [`NetworkSpec`].
    pub fn weights_path(&self) -> Option<&Path> {
        self.weights_path.as_deref()
    }

    /// The family's network behind the shared checks.
    pub fn net(&self) -> &dyn TorchNet {
        self.net.as_ref()
    }

    pub fn family(&self) -> Family {
        self.net.family()
    }

    /// The device the networks live on.
    pub fn device(&self) -> Device {
        self.net.device()
    }

    /// The precision actually used (never `Auto`).
    pub fn precision(&self) -> Precision {
        self.net.precision()
    }

    /// The VGG encoder and decoder (export, benchmarks); `None` for other families.
    pub fn vgg_parts(&self) -> Option<(&LoadedEncoder, &LoadedDecoder)> {
        self.net.as_any().downcast_ref::<Vgg>().map(|v| (&v.encoder, &v.decoder))
    }

    /// The tensor-level VGG model; `None` for other families.
    pub fn vgg(&self) -> Option<StyleTransfer<'_>> {
        self.net.as_any().downcast_ref::<Vgg>().map(Vgg::model)
    }

    /// The lite network with its variables (export); `None` for other families.
    pub fn lite_parts(&self) -> Option<&LoadedLite> {
        self.net.as_any().downcast_ref::<Lite>().map(|l| &l.loaded)
    }

    /// `x: [B, C, H, W]` padded on the bottom/right to what the network takes (any size works;
    /// crop the result back).
    pub fn pad(&self, x: &Tensor) -> Result<Tensor> {
        check_shape("padded tensor", x, || "[B, C, H, W]".into(), |s| s.len() == 4)?;
        let (m, s) = self.net.geometry();
        Ok(pad_for(x, m, s))
    }

    /// The code of a style image `[1, 3, H, W]` in [0, 1] (any size), on this device.
    pub fn style_code(&self, style: &Tensor) -> Result<StyleCode> {
        check_image("style", style)?;
        let _g = tch::no_grad_guard();
        Ok(self.net.style_code(&style.to_device(self.device())))
    }

    /// The AdaIN level `[B, C, h, w]` (float32, C = [`Network::channels`]) of a padded content
    /// `[B, 3, H, W]` (see [`Network::pad`]).
    pub fn features(&self, padded: &Tensor) -> Result<Tensor> {
        let (m, min) = self.net.geometry();
        let expected = || format!("[B, 3, H, W], floating point, H and W multiples of {m} and ≥ {min} (Network::pad)");
        check_shape("padded content", padded, expected, |s| {
            s.len() == 4 && s[1] == 3 && s[2] >= min && s[3] >= min && s[2] % m == 0 && s[3] % m == 0
        })?;
        check_floating("padded content", padded, expected)?;
        Ok(self.net.features(padded))
    }

    /// `α·AdaIN(f, style) + (1−α)·f` at the AdaIN level (`f`: what [`Network::features`]
    /// gives), the same for every family.
    pub fn target(&self, f: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        check_alpha(alpha)?;
        self.check_level("features", f)?;
        self.check_code(code)?;
        Ok(StyleTransfer::target(f, code.adain_level(), alpha))
    }

    /// Decodes a target `[B, C, h, w]` (what [`Network::target`] gives) to `[B, 3, H, W]`
    /// float32 (padded size; the lite decoder and MicroAST's are modulated by `code` at
    /// strength α). `code` must come from this network.
    pub fn decode(&self, t: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        check_alpha(alpha)?;
        self.check_level("target", t)?;
        self.check_code(code)?;
        self.net.decode(t, code, alpha)
    }

    /// `Unsupported` unless `code` comes from this network's family and its AdaIN level has
    /// this network's channels.
    fn check_code(&self, code: &StyleCode) -> Result<()> {
        if code.family() != self.family() || code.adain_level().mean.size()[1] != self.channels() {
            return Err(mixed_families());
        }
        Ok(())
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

    /// Stylizes `content: [1, 3, H, W]` in [0, 1] (any device) with one style at α: whole, or
    /// in tiles of `tile` pixels (host memory). Returns
    /// `[1, 3, H, W]` float32 on this device (host when tiled), clamped to [0, 1].
    pub fn stylize_tensor(&self, content: &Tensor, code: &StyleCode, alpha: f64, tile: Option<i64>) -> Result<Tensor> {
        self.stylize_frame_tensor(content, None, code, alpha, tile, None)
    }

    /// [`Network::stylize_tensor`] for a video frame, whose image `frame` temporal smoothing
    /// follows (not tiled when `temporal` is given).
    fn stylize_frame_tensor(
        &self,
        content: &Tensor,
        frame: Option<&Rgb32FImage>,
        code: &StyleCode,
        alpha: f64,
        tile: Option<i64>,
        temporal: Option<&mut Temporal>,
    ) -> Result<Tensor> {
        check_image("content", content)?;
        let _g = tch::no_grad_guard();
        let (h, w) = (content.size()[2], content.size()[3]);
        let out = match (tile, temporal, self.net.tiling()) {
            (Some(t), None, Some(geometry)) => {
                let device = self.device();
                let host_code = code.to_device(Device::Cpu);
                let steps = super::tiled::Steps {
                    features: &|p| self.features(&p.to_device(device)),
                    target: &|f| self.target(f, &host_code, alpha),
                    decode: &|p| self.decode(&p.to_device(device), code, alpha),
                };
                let padded = self.pad(&content.to_device(Device::Cpu))?;
                super::tiled::stylize_tiled(&padded, geometry, self.channels(), t, steps)?
                    .narrow(2, 0, h)
                    .narrow(3, 0, w)
            }
            (_, temporal, _) => {
                let padded = self.pad(&content.to_device(self.device()))?;
                let padded_h = padded.size()[2];
                let f = self.features(&padded)?;
                let t = self.target(&f, code, alpha)?;
                let t = match (temporal, frame) {
                    // Video frames come one at a time; smoothing runs on the host.
                    (Some(state), Some(frame)) if t.size()[0] == 1 && state.weight > 0.0 => {
                        let stride = (padded_h / f.size()[2]) as usize;
                        from_map(&state.blend(to_map(&t), to_map(&f), frame, stride), t.device())
                    }
                    _ => t,
                };
                self.decode(&t, code, alpha)?.narrow(2, 0, h).narrow(3, 0, w)
            }
        };
        Ok(out.clamp(0.0, 1.0))
    }

    /// Two styles split by `mask: [H, W]` (bool, the content's size): `fg` where it is set.
    /// Each region is normalised with its own content statistics, as in the original Torch
    /// implementation; a decoder the style modulates follows the mask too.
    pub(crate) fn stylize_masked_tensor(
        &self,
        content: &Tensor,
        fg: &StyleCode,
        bg: &StyleCode,
        mask: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        check_alpha(alpha)?;
        self.check_code(fg)?;
        self.check_code(bg)?;
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
        let out = self.net.decode_masked(&t, fg, bg, &m.view([ph, pw]).gt(0.5), alpha)?;
        Ok(out.narrow(2, 0, h).narrow(3, 0, w))
    }
}

/// The stylization API on libtorch: [`super::stylizer`]'s, over this network.
pub type Stylizer<'a> = super::stylizer::Stylizer<'a, Network>;
/// How the libtorch stylizer makes results.
pub type Method<'a> = super::stylizer::Method<'a, Network>;
/// A style prepared for the libtorch stylizer.
pub type PreparedStyle = super::stylizer::PreparedStyle<Network>;

/// Every libtorch family behind the runtime seam: images in and out, the code on this device.
impl StyleNet for Network {
    type Code = StyleCode;
    /// The code on this network's device.
    type Ready = StyleCode;
    type Temporal = Temporal;

    fn family(&self) -> Family {
        self.net.family()
    }

    fn style_code(&self, style: &Rgb32FImage) -> Result<StyleCode> {
        crate::error::catch_panics("encoding the style", || Network::style_code(self, &img::to_tensor(style)))
    }

    fn mix(&self, codes: &[&StyleCode], weights: &[f64]) -> Result<StyleCode> {
        let _g = tch::no_grad_guard();
        StyleCode::mix(&codes.iter().map(|c| (*c).clone()).collect::<Vec<_>>(), weights)
    }

    fn ready(&self, code: &StyleCode, alpha: f64) -> Result<StyleCode> {
        check_alpha(alpha)?;
        self.check_code(code)?;
        Ok(code.to_device(self.device()))
    }

    fn temporal(&self, weight: f64) -> Temporal {
        Temporal::new(weight)
    }

    fn stylize(
        &self,
        content: &Rgb32FImage,
        style: &StyleCode,
        alpha: f64,
        tile: Option<i64>,
        temporal: Option<&mut Temporal>,
    ) -> Result<Rgb32FImage> {
        let x = img::to_tensor(content);
        Ok(img::from_tensor(&self.stylize_frame_tensor(&x, Some(content), style, alpha, tile, temporal)?))
    }

    fn stylize_masked(
        &self,
        content: &Rgb32FImage,
        fg: &StyleCode,
        bg: &StyleCode,
        mask: &Mask,
        alpha: f64,
    ) -> Result<Rgb32FImage> {
        let _g = tch::no_grad_guard();
        let m = Tensor::from_slice(&mask.data).view([mask.h as i64, mask.w as i64]).to_device(self.device());
        let c = img::to_tensor(content).to_device(self.device());
        Ok(img::from_tensor(&self.stylize_masked_tensor(&c, fg, bg, &m, alpha)?.clamp(0.0, 1.0)))
    }

    fn tiling(&self) -> Option<Geometry> {
        self.net.tiling()
    }

    /// 512 for VGG, 64 for the shipped lite network and MicroAST.
    fn channels(&self) -> i64 {
        self.net.channels()
    }
}

pub use super::motion::Temporal;

/// `x: [1, C, h, w]` as a host map `[h, w, C]` float32.
fn to_map(x: &Tensor) -> Map {
    let s = x.size();
    let hwc = x.squeeze_dim(0).permute([1, 2, 0]).to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    let data = Vec::<f32>::try_from(hwc.flatten(0, -1)).expect("a float32 tensor");
    Map { h: s[2] as usize, w: s[3] as usize, c: s[1] as usize, data }
}

/// A host map `[h, w, C]` as `[1, C, h, w]` float32 on `device`.
fn from_map(m: &Map, device: Device) -> Tensor {
    Tensor::from_slice(&m.data)
        .view([m.h as i64, m.w as i64, m.c as i64])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_device(device)
}

impl Stylizer<'_> {
    /// [`Stylizer::stylize_frame`] on a tensor `[1, 3, H, W]` in [0, 1] (any device); returns
    /// `[1, 3, H, W]` float32 on the host, in [0, 1].
    pub fn stylize_tensor(
        &self,
        content: &Tensor,
        style: &PreparedStyle,
        temporal: Option<&mut Temporal>,
    ) -> Result<Tensor> {
        check_image("content", content)?;
        Ok(img::to_tensor(&self.stylize_frame(&img::from_tensor(content), style, temporal)?))
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

//! The lite family: two micro encoders and a style-modulated micro decoder
//! ([`crate::model::lite`], `models/lite.safetensors`), about 20× fewer operations per frame
//! than the VGG model.

use super::seam::{Layout, StyleCode, TorchNet, pad_small};
use crate::error::Result;
use crate::infer::network::NetworkSpec;
use crate::infer::tile::Geometry;
use crate::model::lite::{self, LiteStyle};
use crate::model::{Family, Precision};
use crate::weights::lite::{LoadedLite, load_lite};
use std::any::Any;
use std::path::PathBuf;
use tch::{Device, Tensor};

/// Three levels: the style encoder's taps' mean/std; AdaIN uses the last.
pub(super) const LAYOUT: Layout = Layout { levels: 3, adain: 2 };

/// The lite network in one precision.
pub struct Lite {
    pub loaded: LoadedLite,
    precision: Precision,
}

impl Lite {
    /// The network in `precision` (resolved for its device, as [`crate::infer::nets::Vgg::new`]).
    pub fn new(mut loaded: LoadedLite, precision: Precision) -> Self {
        let precision = precision.resolve(loaded.vs.device());
        precision.apply(&mut loaded.vs);
        Self { loaded, precision }
    }

    pub(super) fn load(spec: &NetworkSpec) -> Result<(Box<dyn TorchNet>, PathBuf)> {
        let path = spec.weights_path("")?;
        Ok((Box::new(Self::new(load_lite(&path, spec.device)?, spec.precision)), path))
    }
}

impl From<&StyleCode> for LiteStyle {
    /// The lite network's view of a lite code (checked to be one by the caller).
    fn from(code: &StyleCode) -> Self {
        LiteStyle { taps: std::array::from_fn(|k| code.levels()[k].clone()) }
    }
}

impl From<LiteStyle> for StyleCode {
    fn from(style: LiteStyle) -> Self {
        StyleCode::laid_out(Family::Lite, LAYOUT, style.taps.to_vec())
    }
}

impl TorchNet for Lite {
    fn family(&self) -> Family {
        Family::Lite
    }
    fn device(&self) -> Device {
        self.loaded.vs.device()
    }
    fn precision(&self) -> Precision {
        self.precision
    }
    fn geometry(&self) -> (i64, i64) {
        (lite::MULTIPLE, lite::MIN_SIDE)
    }
    fn tiling(&self) -> Option<Geometry> {
        Some(Geometry::LITE)
    }
    fn channels(&self) -> i64 {
        self.loaded.net.channels()
    }
    fn style_code(&self, style: &Tensor) -> StyleCode {
        self.loaded.net.style(&pad_small(style, lite::MIN_SIDE)).into()
    }
    fn features(&self, padded: &Tensor) -> Tensor {
        self.loaded.net.encode(padded)
    }
    fn decode(&self, target: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        let m = (alpha > 0.0).then(|| self.loaded.net.decoder.modulation(&code.into(), alpha));
        Ok(self.loaded.net.decode(target, m.as_ref()))
    }
    /// The decoder's modulation follows the mask too.
    fn decode_masked(
        &self,
        target: &Tensor,
        fg: &StyleCode,
        bg: &StyleCode,
        mask: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        let modulation = self.loaded.net.decoder.modulation_masked(&fg.into(), &bg.into(), mask, alpha);
        Ok(self.loaded.net.decode(target, Some(&modulation)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

//! The VGG family: the frozen VGG encoder cut at relu4_1, AdaIN, the mirrored decoder (the
//! shipped `models/decoder-vgg16.safetensors`).

use super::seam::{Layout, StyleCode, TorchNet};
use crate::error::{Error, Result};
use crate::infer::network::NetworkSpec;
use crate::infer::tile::Geometry;
use crate::model::style_transfer::{self, StyleTransfer};
use crate::model::{Family, Precision};
use crate::weights::lite::detect_family;
use crate::weights::{self, LoadedDecoder, LoadedEncoder};
use std::any::Any;
use std::path::PathBuf;
use tch::{Device, Tensor};

/// One level: relu4_1's mean/std, `[1, 512, 1, 1]` each.
pub(super) const LAYOUT: Layout = Layout { levels: 1, adain: 0 };

/// The VGG encoder and its decoder, in one precision.
pub struct Vgg {
    pub encoder: LoadedEncoder,
    pub decoder: LoadedDecoder,
    precision: Precision,
}

impl Vgg {
    /// Both networks in `precision` (resolved for their device: `Auto` becomes bf16 on CPUs
    /// with native bfloat16, f32 elsewhere).
    pub fn new(mut encoder: LoadedEncoder, mut decoder: LoadedDecoder, precision: Precision) -> Self {
        let precision = precision.resolve(encoder.vs.device());
        precision.apply(&mut encoder.vs);
        precision.apply(&mut decoder.vs);
        Self { encoder, decoder, precision }
    }

    pub(super) fn load(spec: &NetworkSpec) -> Result<(Box<dyn TorchNet>, PathBuf)> {
        let enc = weights::load_encoder(&weights::resolve_encoder(&spec.encoder)?, spec.device)?;
        let path = spec.weights_path(&enc.encoder.config().name)?;
        if detect_family(&path)? == Family::Lite {
            return Err(Error::weights(&path, "holds lite network weights, not a VGG decoder"));
        }
        let dec = weights::load_decoder(&path, enc.encoder.config(), spec.device)?;
        Ok((Box::new(Self::new(enc, dec, spec.precision)), path))
    }

    /// The tensor-level model.
    pub fn model(&self) -> StyleTransfer<'_> {
        StyleTransfer { encoder: &self.encoder.encoder, decoder: &self.decoder.decoder }
    }
}

impl TorchNet for Vgg {
    fn family(&self) -> Family {
        Family::Vgg
    }
    fn device(&self) -> Device {
        self.encoder.vs.device()
    }
    fn precision(&self) -> Precision {
        self.precision
    }
    fn geometry(&self) -> (i64, i64) {
        (style_transfer::MULTIPLE, style_transfer::MIN_SIDE)
    }
    fn tiling(&self) -> Option<Geometry> {
        Some(Geometry::VGG)
    }
    fn channels(&self) -> i64 {
        self.decoder.decoder.in_channels()
    }
    fn style_code(&self, style: &Tensor) -> StyleCode {
        StyleCode::laid_out(Family::Vgg, LAYOUT, vec![self.model().style_stats(style)])
    }
    fn features(&self, padded: &Tensor) -> Tensor {
        self.model().features(padded)
    }
    fn decode(&self, target: &Tensor, _code: &StyleCode, _alpha: f64) -> Result<Tensor> {
        Ok(self.model().decode(target))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

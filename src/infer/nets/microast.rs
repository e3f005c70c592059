//! MicroAST (Wang et al., AAAI 2023), a peer read from its four released files: two micro
//! encoders, a decoder whose filters the style modulates, AdaIN at two levels.

use super::seam::{Layout, StyleCode, TorchNet, pad_small};
use crate::error::{Error, Result};
use crate::infer::network::NetworkSpec;
use crate::infer::tile::Geometry;
use crate::model::adain::Stats;
use crate::model::microast::{self, MicroStyle};
use crate::model::{Family, Precision};
use crate::weights::microast::{LoadedMicroAst, load_microast};
use std::any::Any;
use std::path::PathBuf;
use tch::{Device, Tensor};

/// Four levels: the two taps' mean/std, then the two filter modulations as (weight, bias)
/// pairs; AdaIN uses the second tap.
pub(super) const LAYOUT: Layout = Layout { levels: 4, adain: 1 };

/// MicroAST in one precision.
pub struct MicroAst {
    loaded: LoadedMicroAst,
    precision: Precision,
}

impl MicroAst {
    /// The network in `precision` (resolved for its device, as [`crate::infer::nets::Vgg::new`]).
    pub fn new(mut loaded: LoadedMicroAst, precision: Precision) -> Self {
        let precision = precision.resolve(loaded.vs.device());
        precision.apply(&mut loaded.vs);
        Self { loaded, precision }
    }

    pub(super) fn load(spec: &NetworkSpec) -> Result<(Box<dyn TorchNet>, PathBuf)> {
        let dir = spec.weights.clone().ok_or_else(|| {
            Error::Unsupported(
                "MicroAST's weights are not shipped: give the folder with its four released .pth.tar files".into(),
            )
        })?;
        Ok((Box::new(Self::new(load_microast(&dir, spec.device)?, spec.precision)), dir))
    }
}

impl From<&StyleCode> for MicroStyle {
    /// MicroAST's view of its code (checked to be one by the caller).
    fn from(code: &StyleCode) -> Self {
        let l = code.levels();
        MicroStyle {
            taps: [l[0].clone(), l[1].clone()],
            weights: [l[2].mean.shallow_clone(), l[3].mean.shallow_clone()],
            biases: [l[2].std.shallow_clone(), l[3].std.shallow_clone()],
        }
    }
}

impl From<MicroStyle> for StyleCode {
    fn from(m: MicroStyle) -> Self {
        let [w0, w1] = m.weights;
        let [b0, b1] = m.biases;
        let [t0, t1] = m.taps;
        StyleCode::laid_out(
            Family::MicroAst,
            LAYOUT,
            vec![t0, t1, Stats { mean: w0, std: b0 }, Stats { mean: w1, std: b1 }],
        )
    }
}

impl TorchNet for MicroAst {
    fn family(&self) -> Family {
        Family::MicroAst
    }
    fn device(&self) -> Device {
        self.loaded.vs.device()
    }
    fn precision(&self) -> Precision {
        self.precision
    }
    fn geometry(&self) -> (i64, i64) {
        (microast::MULTIPLE, microast::MIN_SIDE)
    }
    /// None: its decoder re-normalises its features over the whole image.
    fn tiling(&self) -> Option<Geometry> {
        None
    }
    fn channels(&self) -> i64 {
        self.loaded.net.channels()
    }
    fn style_code(&self, style: &Tensor) -> StyleCode {
        self.loaded.net.style(&pad_small(style, microast::MIN_SIDE)).into()
    }
    fn features(&self, padded: &Tensor) -> Tensor {
        self.loaded.net.encode(padded)
    }
    fn decode(&self, target: &Tensor, code: &StyleCode, alpha: f64) -> Result<Tensor> {
        Ok(self.loaded.net.decode(target, &code.into(), alpha))
    }
    fn decode_masked(&self, _: &Tensor, _: &StyleCode, _: &StyleCode, _: &Tensor, _: f64) -> Result<Tensor> {
        Err(Error::Unsupported("MicroAST has no masked stylization (its decoder re-normalises globally)".into()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

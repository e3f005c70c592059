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

use super::onnx_proto::*;
use crate::error::{Error, Result};
use crate::model::adain::{EPS, Stats};
use crate::model::decoder::DecoderLayer;
use crate::model::vgg::{Layer, Layout, Padding};
use crate::weights::{LoadedDecoder, LoadedEncoder};
use std::path::Path;
use tch::{Kind, Tensor};

/// The opset the graphs are written for.
pub const OPSET: i64 = 13;

/// What to export.
pub struct OnnxOptions {
    /// Bake this style (statistics) and α in; `None` exports the arbitrary-style graph.
    pub fixed_style: Option<(Stats, f64)>,
    /// Store weights and compute in float16 (inputs and output stay float32).
    pub half: bool,
}

pub(super) struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    n: usize,
    half: bool,
}

pub(super) fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INTS, ints: v.to_vec(), ..Default::default() }
}
pub(super) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INT, i: v, ..Default::default() }
}
pub(super) fn attr_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::STRING, s: v.as_bytes().to_vec(), ..Default::default() }
}

impl Graph {
    pub(super) fn new(half: bool) -> Self {
        Self { nodes: vec![], inits: vec![], n: 0, half }
    }

    /// `x` cast to the graph's compute type (float16 in half mode).
    pub(super) fn cast_in(&mut self, x: &str) -> String {
        if self.half { self.node("Cast", &[x], vec![attr_int("to", data_type::FLOAT16 as i64)]) } else { x.to_string() }
    }

    /// `content` padded by reflection on the bottom/right to a multiple of `m`; returns the
    /// padded tensor and the original `[H, W]` (int64, for [`Graph::crop_out`]).
    pub(super) fn pad_content(&mut self, content: &str, m: i64) -> (String, String) {
        let x = self.cast_in(content);
        self.int64("i64_2", &[2], &[1]);
        self.int64("i64_4", &[4], &[1]);
        let mm = self.int64(&format!("i64_m{m}"), &[m], &[1]);
        self.int64("zeros6", &[0; 6], &[6]);
        let shape = self.node("Shape", &[content], vec![]);
        let hw = self.node("Slice", &[&shape, "i64_2", "i64_4"], vec![]);
        let r = self.node("Mod", &[&hw, &mm], vec![]);
        let p = self.node("Sub", &[&mm, &r], vec![]);
        let p = self.node("Mod", &[&p, &mm], vec![]);
        let pads = self.node("Concat", &["zeros6", &p], vec![attr_int("axis", 0)]);
        (self.node("Pad", &[&x, &pads], vec![attr_str("mode", "reflect")]), hw)
    }

    /// The output `stylized`: `y` back in float32, cropped to `[H, W]`.
    pub(super) fn crop_out(&mut self, y: &str, hw: &str) {
        self.int64("zeros2", &[0, 0], &[2]);
        self.int64("axes_hw", &[2, 3], &[2]);
        let y =
            if self.half { self.node("Cast", &[y], vec![attr_int("to", data_type::FLOAT as i64)]) } else { y.into() };
        self.node_named("Slice", &[&y, "zeros2", hw, "axes_hw"], vec![], "stylized");
    }

    /// Graph output `name`: `y` back in float32.
    pub(super) fn output(&mut self, y: &str, name: &str) {
        if self.half {
            self.node_named("Cast", &[y], vec![attr_int("to", data_type::FLOAT as i64)], name);
        } else {
            self.node_named("Identity", &[y], vec![], name);
        }
    }

    /// `α·AdaIN(f; sm, ss) + (1−α)·f`.
    pub(super) fn adain_blend(&mut self, f: &str, sm: &str, ss: &str, alpha: &str) -> String {
        let (cm, cs) = self.stats(f);
        let centred = self.node("Sub", &[f, &cm], vec![]);
        let normed = self.node("Div", &[&centred, &cs], vec![]);
        let scaled = self.node("Mul", &[&normed, ss], vec![]);
        let t = self.node("Add", &[&scaled, sm], vec![]);
        let diff = self.node("Sub", &[&t, f], vec![]);
        let w = self.node("Mul", &[&diff, alpha], vec![]);
        self.node("Add", &[f, &w], vec![])
    }

    /// Nearest 2× upsampling (needs the `upsample_scales` initializer).
    pub(super) fn upsample2(&mut self, x: &str) -> String {
        if !self.inits.iter().any(|t| t.name == "upsample_scales") {
            self.float32("upsample_scales", &[1.0, 1.0, 2.0, 2.0], &[4]);
        }
        self.node(
            "Resize",
            &[x, "", "upsample_scales"],
            vec![
                attr_str("mode", "nearest"),
                attr_str("coordinate_transformation_mode", "asymmetric"),
                attr_str("nearest_mode", "floor"),
            ],
        )
    }

    /// The model around the graph, inputs `content` (and `style`, `alpha` unless `fixed`),
    /// output `stylized`.
    pub(super) fn into_model(self, name: &str, fixed: bool, doc: String, meta: Vec<(&str, String)>) -> ModelProto {
        let mut inputs = vec![value_info("content", &[Ok(1), Ok(3), Err("height"), Err("width")])];
        if !fixed {
            inputs.push(value_info("style", &[Ok(1), Ok(3), Err("style_height"), Err("style_width")]));
            inputs.push(value_info("alpha", &[]));
        }
        let outputs = vec![value_info("stylized", &[Ok(1), Ok(3), Err("height"), Err("width")])];
        self.into_model_io(name, inputs, outputs, doc, meta)
    }

    /// The model around the graph with the given inputs and outputs (float32 each).
    pub(super) fn into_model_io(
        self,
        name: &str,
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
        doc: String,
        meta: Vec<(&str, String)>,
    ) -> ModelProto {
        let graph =
            GraphProto { node: self.nodes, name: name.into(), initializer: self.inits, input: inputs, output: outputs };
        ModelProto {
            ir_version: 7,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "adain".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc,
            graph: Some(graph),
            metadata_props: meta.into_iter().map(|(k, v)| StringStringEntryProto { key: k.into(), value: v }).collect(),
        }
    }

    pub(super) fn has_init(&self, name: &str) -> bool {
        self.inits.iter().any(|t| t.name == name)
    }

    /// Splits `x` along axis 1 into two outputs of the sizes in `split` (an int64 initializer).
    pub(super) fn split2(&mut self, x: &str, split: &str) -> (String, String) {
        let a = self.fresh("split_a");
        let b = self.fresh("split_b");
        self.nodes.push(NodeProto {
            input: vec![x.into(), split.into()],
            output: vec![a.clone(), b.clone()],
            name: format!("Split_{}", self.nodes.len()),
            op_type: "Split".into(),
            attribute: vec![attr_int("axis", 1)],
        });
        (a, b)
    }

    pub(super) fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }

    /// Adds a node; returns its (single) output name.
    pub(super) fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, attrs, &out);
        out
    }

    pub(super) fn node_named(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            attribute: attrs,
        });
    }

    /// A float initializer (stored as float16 in half mode).
    pub(super) fn float(&mut self, name: &str, t: &Tensor) -> String {
        let t = t.to_device(tch::Device::Cpu).contiguous();
        let dims = t.size();
        let (data_type, raw_data) = if self.half {
            let h = t.to_kind(Kind::Half).view_dtype(Kind::Int16).flatten(0, -1);
            let v: Vec<i16> = Vec::try_from(&h).expect("half tensor as i16");
            (data_type::FLOAT16, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        } else {
            let v: Vec<f32> = Vec::try_from(t.to_kind(Kind::Float).flatten(0, -1)).expect("float tensor");
            (data_type::FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        };
        self.init(name, data_type, raw_data, dims)
    }

    /// Adds an initializer: `raw` little-endian values of ONNX type `data_type`.
    fn init(&mut self, name: &str, data_type: i32, raw_data: Vec<u8>, dims: Vec<i64>) -> String {
        self.inits.push(TensorProto { dims, data_type, name: name.into(), raw_data });
        name.into()
    }

    /// A float32 initializer regardless of half mode (e.g. Resize scales).
    pub(super) fn float32(&mut self, name: &str, v: &[f32], dims: &[i64]) -> String {
        self.init(name, data_type::FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect(), dims.to_vec())
    }

    /// An int64 initializer (named by its value where it is reused: a second call with the
    /// same name adds nothing).
    pub(super) fn int64(&mut self, name: &str, v: &[i64], dims: &[i64]) -> String {
        if self.has_init(name) {
            return name.into();
        }
        self.init(name, data_type::INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect(), dims.to_vec())
    }

    pub(super) fn scalar(&mut self, name: &str, v: f64) -> String {
        self.float(name, &Tensor::from_slice(&[v as f32]).view([1]))
    }

    pub(super) fn conv(&mut self, x: &str, w: &str, b: &str, zero_pad: bool) -> String {
        let mut attrs = vec![attr_ints("kernel_shape", &[3, 3])];
        if zero_pad {
            attrs.push(attr_ints("pads", &[1, 1, 1, 1]));
        }
        self.node("Conv", &[x, w, b], attrs)
    }

    pub(super) fn reflect_pad1(&mut self, x: &str) -> String {
        let pads = "pads_reflect1";
        if !self.inits.iter().any(|t| t.name == pads) {
            self.int64(pads, &[0, 0, 1, 1, 0, 0, 1, 1], &[8]);
        }
        self.node("Pad", &[x, pads], vec![attr_str("mode", "reflect")])
    }

    /// Per-channel mean and std over H×W (biased variance + ε), keepdims.
    pub(super) fn stats(&mut self, x: &str) -> (String, String) {
        let m = self.node("ReduceMean", &[x], vec![attr_ints("axes", &[2, 3]), attr_int("keepdims", 1)]);
        let d = self.node("Sub", &[x, &m], vec![]);
        let sq = self.node("Mul", &[&d, &d], vec![]);
        let v = self.node("ReduceMean", &[&sq], vec![attr_ints("axes", &[2, 3]), attr_int("keepdims", 1)]);
        let ve = self.node("Add", &[&v, "eps"], vec![]);
        let s = self.node("Sqrt", &[&ve], vec![]);
        (m, s)
    }
}

/// Writes the encoder nodes for input `x` (shared weights); returns relu4_1.
fn encoder(g: &mut Graph, enc: &LoadedEncoder, x: &str) -> Result<String> {
    let cfg = enc.encoder.config();
    let vars = enc.vs.variables();
    let get =
        |k: &str| vars.get(k).map(|t| t.shallow_clone()).ok_or_else(|| Error::Invalid(format!("encoder has no {k}")));
    let init = |g: &mut Graph, k: &str| -> Result<String> {
        let name = format!("encoder.{k}");
        if !g.inits.iter().any(|t| t.name == name) {
            g.float(&name, &get(k)?);
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
                h = g.conv(&h, &w, &b, !reflect);
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
                let w = g.float(
                    &format!("decoder.{wk}"),
                    vars.get(&wk).ok_or_else(|| Error::Invalid(format!("decoder has no {wk}")))?,
                );
                let b = g.float(
                    &format!("decoder.{bk}"),
                    vars.get(&bk).ok_or_else(|| Error::Invalid(format!("decoder has no {bk}")))?,
                );
                h = g.reflect_pad1(&h);
                h = g.conv(&h, &w, &b, false);
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

pub(super) fn value_info(name: &str, dims: &[Result<i64, &str>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Ok(v) => DimValue::DimValue(*v),
                Err(p) => DimValue::DimParam(p.to_string()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: data_type::FLOAT, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

/// Builds the ONNX model.
pub fn build(enc: &LoadedEncoder, dec: &LoadedDecoder, opts: &OnnxOptions) -> Result<ModelProto> {
    let _g = tch::no_grad_guard();
    let mut g = Graph::new(opts.half);
    let (mean, std) = crate::model::vgg::IMAGENET;
    g.float("imagenet_mean", &Tensor::from_slice(&mean.map(|v| v as f32)).view([1, 3, 1, 1]));
    g.float("imagenet_std", &Tensor::from_slice(&std.map(|v| v as f32)).view([1, 3, 1, 1]));
    g.scalar("eps", EPS);
    g.float32("upsample_scales", &[1.0, 1.0, 2.0, 2.0], &[4]);
    // Pad the content to a multiple of 8 (reflection), remembering H and W.
    let (padded, hw) = g.pad_content("content", 8);
    let f = encoder(&mut g, enc, &padded)?;
    let (sm, ss, alpha) = match &opts.fixed_style {
        Some((stats, alpha)) => {
            (g.float("style_mean", &stats.mean), g.float("style_std", &stats.std), g.scalar("alpha", *alpha))
        }
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

/// The serialised model (what a `.onnx` file holds).
pub fn encode(model: &ModelProto) -> Vec<u8> {
    prost::Message::encode_to_vec(model)
}

/// Writes a model (atomically).
pub fn write(model: &ModelProto, path: &Path) -> Result<()> {
    let bytes = encode(model);
    crate::io::atomic_write(path, |tmp| std::fs::write(tmp, &bytes).map_err(|e| Error::io(tmp, e)))
}

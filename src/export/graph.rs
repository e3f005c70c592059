//! The ONNX graph builder both exporters write with ([`super::onnx`] for the VGG network,
//! [`super::onnx_lite`] for the lite one): nodes, initializers from plain float slices
//! (float16 in half mode), and the pieces the graphs share (padding the content to the
//! network's multiple, AdaIN, nearest 2× upsampling, cropping the output back).

use super::onnx_proto::*;
use crate::error::{Error, Result};
use std::path::Path;

/// The opset the graphs are written for.
pub const OPSET: i64 = 13;

pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    n: usize,
    half: bool,
}

pub(crate) fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INTS, ints: v.to_vec(), ..Default::default() }
}
pub(crate) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::INT, i: v, ..Default::default() }
}
pub(crate) fn attr_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::STRING, s: v.as_bytes().to_vec(), ..Default::default() }
}

impl Graph {
    pub(crate) fn new(half: bool) -> Self {
        Self { nodes: vec![], inits: vec![], n: 0, half }
    }

    /// `x` cast to the graph's compute type (float16 in half mode).
    pub(crate) fn cast_in(&mut self, x: &str) -> String {
        if self.half { self.node("Cast", &[x], vec![attr_int("to", data_type::FLOAT16 as i64)]) } else { x.to_string() }
    }

    /// `content` padded by reflection on the bottom/right to a multiple of `m`; returns the
    /// padded tensor and the original `[H, W]` (int64, for [`Graph::crop_out`]).
    pub(crate) fn pad_content(&mut self, content: &str, m: i64) -> (String, String) {
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
    pub(crate) fn crop_out(&mut self, y: &str, hw: &str) {
        self.int64("zeros2", &[0, 0], &[2]);
        self.int64("axes_hw", &[2, 3], &[2]);
        let y =
            if self.half { self.node("Cast", &[y], vec![attr_int("to", data_type::FLOAT as i64)]) } else { y.into() };
        self.node_named("Slice", &[&y, "zeros2", hw, "axes_hw"], vec![], "stylized");
    }

    /// Graph output `name`: `y` back in float32.
    pub(crate) fn output(&mut self, y: &str, name: &str) {
        if self.half {
            self.node_named("Cast", &[y], vec![attr_int("to", data_type::FLOAT as i64)], name);
        } else {
            self.node_named("Identity", &[y], vec![], name);
        }
    }

    /// `α·AdaIN(f; sm, ss) + (1−α)·f`.
    pub(crate) fn adain_blend(&mut self, f: &str, sm: &str, ss: &str, alpha: &str) -> String {
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
    pub(crate) fn upsample2(&mut self, x: &str) -> String {
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
    pub(crate) fn into_model(self, name: &str, fixed: bool, doc: String, meta: Vec<(&str, String)>) -> ModelProto {
        let mut inputs = vec![value_info("content", &[Ok(1), Ok(3), Err("height"), Err("width")])];
        if !fixed {
            inputs.push(value_info("style", &[Ok(1), Ok(3), Err("style_height"), Err("style_width")]));
            inputs.push(value_info("alpha", &[]));
        }
        let outputs = vec![value_info("stylized", &[Ok(1), Ok(3), Err("height"), Err("width")])];
        self.into_model_io(name, inputs, outputs, doc, meta)
    }

    /// The model around the graph with the given inputs and outputs (float32 each).
    pub(crate) fn into_model_io(
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

    pub(crate) fn has_init(&self, name: &str) -> bool {
        self.inits.iter().any(|t| t.name == name)
    }

    /// Splits `x` along axis 1 into two outputs of the sizes in `split` (an int64 initializer).
    pub(crate) fn split2(&mut self, x: &str, split: &str) -> (String, String) {
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

    pub(crate) fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }

    /// Adds a node; returns its (single) output name.
    pub(crate) fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, attrs, &out);
        out
    }

    pub(crate) fn node_named(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            attribute: attrs,
        });
    }

    /// A float initializer of shape `dims` (stored as float16 in half mode).
    pub(crate) fn float(&mut self, name: &str, v: &[f32], dims: &[i64]) -> String {
        debug_assert_eq!(dims.iter().product::<i64>() as usize, v.len(), "{name}: values fit the shape");
        let (data_type, raw_data) = if self.half {
            (data_type::FLOAT16, v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect())
        } else {
            (data_type::FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        };
        self.init(name, data_type, raw_data, dims.to_vec())
    }

    /// Adds an initializer: `raw` little-endian values of ONNX type `data_type`.
    fn init(&mut self, name: &str, data_type: i32, raw_data: Vec<u8>, dims: Vec<i64>) -> String {
        self.inits.push(TensorProto { dims, data_type, name: name.into(), raw_data });
        name.into()
    }

    /// A float32 initializer regardless of half mode (e.g. Resize scales).
    pub(crate) fn float32(&mut self, name: &str, v: &[f32], dims: &[i64]) -> String {
        self.init(name, data_type::FLOAT, v.iter().flat_map(|x| x.to_le_bytes()).collect(), dims.to_vec())
    }

    /// An int64 initializer (named by its value where it is reused: a second call with the
    /// same name adds nothing).
    pub(crate) fn int64(&mut self, name: &str, v: &[i64], dims: &[i64]) -> String {
        if self.has_init(name) {
            return name.into();
        }
        self.init(name, data_type::INT64, v.iter().flat_map(|x| x.to_le_bytes()).collect(), dims.to_vec())
    }

    pub(crate) fn scalar(&mut self, name: &str, v: f64) -> String {
        self.float(name, &[v as f32], &[1])
    }

    pub(crate) fn reflect_pad1(&mut self, x: &str) -> String {
        let pads = "pads_reflect1";
        if !self.inits.iter().any(|t| t.name == pads) {
            self.int64(pads, &[0, 0, 1, 1, 0, 0, 1, 1], &[8]);
        }
        self.node("Pad", &[x, pads], vec![attr_str("mode", "reflect")])
    }

    /// Per-channel mean and std over H×W (biased variance + ε), keepdims.
    pub(crate) fn stats(&mut self, x: &str) -> (String, String) {
        let m = self.node("ReduceMean", &[x], vec![attr_ints("axes", &[2, 3]), attr_int("keepdims", 1)]);
        let d = self.node("Sub", &[x, &m], vec![]);
        let sq = self.node("Mul", &[&d, &d], vec![]);
        let v = self.node("ReduceMean", &[&sq], vec![attr_ints("axes", &[2, 3]), attr_int("keepdims", 1)]);
        let ve = self.node("Add", &[&v, "eps"], vec![]);
        let s = self.node("Sqrt", &[&ve], vec![]);
        (m, s)
    }
}

pub(crate) fn value_info(name: &str, dims: &[Result<i64, &str>]) -> ValueInfoProto {
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

/// The serialised model (what a `.onnx` file holds).
pub fn encode(model: &ModelProto) -> Vec<u8> {
    prost::Message::encode_to_vec(model)
}

/// Writes a model (atomically).
pub fn write(model: &ModelProto, path: &Path) -> Result<()> {
    let bytes = encode(model);
    crate::io::atomic_write(path, |tmp| std::fs::write(tmp, &bytes).map_err(|e| Error::io(tmp, e)))
}

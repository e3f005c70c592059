//! ONNX export of the lite network (same inputs and output as the VGG graphs of
//! [`super::onnx`], and the same padding to the network's multiple, here 4).
//!
//! - arbitrary style: the style encoder, the taps' statistics and the modulators are in the
//!   graph (`Gemm` on the concatenated mean/std), scaled by the input `alpha`;
//! - fixed style: the AdaIN statistics and the four convs' scale and shift at the baked α are
//!   constants, so the graph is the content encoder and the decoder only.

use super::onnx::{Graph, attr_int, attr_ints};
use super::onnx_proto::ModelProto;
use crate::error::{Error, Result};
use crate::model::adain::EPS;
use crate::model::lite::LiteStyle;
use crate::weights::lite::LoadedLite;
use std::collections::HashMap;
use tch::Tensor;

/// A fixed style for the lite graph: its code and α.
pub(crate) type FixedLite = (LiteStyle, f64);

struct Weights {
    vars: HashMap<String, Tensor>,
}

impl Weights {
    fn init(&self, g: &mut Graph, key: &str) -> Result<String> {
        let t = self.vars.get(key).ok_or_else(|| Error::Invalid(format!("lite network has no {key}")))?;
        if !g.has_init(key) {
            g.float(key, t);
        }
        Ok(key.to_string())
    }

    /// Reflection pad 1, 3×3 conv `prefix` with `stride`, optional ReLU.
    fn conv(&self, g: &mut Graph, x: &str, prefix: &str, stride: i64, relu: bool) -> Result<String> {
        let (w, b) = (self.init(g, &format!("{prefix}.weight"))?, self.init(g, &format!("{prefix}.bias"))?);
        let p = g.reflect_pad1(x);
        let y =
            g.node("Conv", &[&p, &w, &b], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[stride; 2])]);
        Ok(if relu { g.node("Relu", &[&y], vec![]) } else { y })
    }

    /// The three taps of encoder `prefix`.
    fn encoder(&self, g: &mut Graph, x: &str, prefix: &str) -> Result<[String; 3]> {
        let f0 = self.conv(g, x, &format!("{prefix}.conv_in"), 1, true)?;
        let f1 = self.conv(g, &f0, &format!("{prefix}.down1"), 2, true)?;
        let f2 = self.conv(g, &f1, &format!("{prefix}.down2"), 2, true)?;
        let h = self.conv(g, &f2, &format!("{prefix}.res.conv1"), 1, true)?;
        let h = self.conv(g, &h, &format!("{prefix}.res.conv2"), 1, false)?;
        let f3 = g.node("Add", &[&f2, &h], vec![]);
        Ok([f0, f1, f3])
    }
}

/// Builds the lite ONNX model; `fixed` bakes a style and α in.
pub fn build(lite: &LoadedLite, fixed: Option<&FixedLite>, half: bool) -> Result<ModelProto> {
    let _g = tch::no_grad_guard();
    let w = Weights { vars: lite.vs.variables() };
    let mut g = Graph::new(half);
    g.scalar("eps", EPS);
    let (padded, hw) = g.pad_content("content", crate::model::lite::MULTIPLE);
    let [_, _, f] = w.encoder(&mut g, &padded, "content_encoder")?;
    // Per modulated conv: (scale, shift) node names, and the AdaIN target.
    let (sites, target): (Vec<(String, String)>, String) = match fixed {
        Some((style, alpha)) => {
            let m = lite.net.decoder.modulation(style, *alpha);
            let sites = (0..4)
                .map(|k| {
                    let (sc, sh) = m.site(k);
                    (g.float(&format!("mod{k}_scale"), sc), g.float(&format!("mod{k}_shift"), sh))
                })
                .collect();
            let (sm, ss) = (g.float("style_mean", &style.taps[2].mean), g.float("style_std", &style.taps[2].std));
            let a = g.scalar("alpha", *alpha);
            (sites, g.adain_blend(&f, &sm, &ss, &a))
        }
        None => {
            let style = g.cast_in("style");
            let alpha = g.cast_in("alpha");
            let taps = w.encoder(&mut g, &style, "style_encoder")?;
            g.int64("shape_flat", &[1, -1], &[2]);
            let mut vecs = Vec::new();
            let mut stats = Vec::new();
            for t in &taps {
                let (m, s) = g.stats(t);
                let mf = g.node("Reshape", &[&m, "shape_flat"], vec![]);
                let sf = g.node("Reshape", &[&s, "shape_flat"], vec![]);
                vecs.push(g.node("Concat", &[&mf, &sf], vec![attr_int("axis", 1)]));
                stats.push((m, s));
            }
            g.scalar("one", 1.0);
            let mut sites = Vec::new();
            for (name, tap) in [("mod_res1", 2), ("mod_res2", 2), ("mod_up1", 1), ("mod_up2", 0)] {
                let (lw, lb) = (
                    w.init(&mut g, &format!("decoder.{name}.weight"))?,
                    w.init(&mut g, &format!("decoder.{name}.bias"))?,
                );
                let gb = g.node("Gemm", &[&vecs[tap], &lw, &lb], vec![attr_int("transB", 1)]);
                // [1, 2C] → [1, 2, C, 1, 1]... as two [1, C, 1, 1] halves.
                let c = w.vars[&format!("decoder.{name}.bias")].size()[0] / 2;
                let shape = g.int64(&format!("{name}_shape"), &[1, 2 * c, 1, 1], &[4]);
                let gb = g.node("Reshape", &[&gb, &shape], vec![]);
                let split = g.int64(&format!("{name}_split"), &[c, c], &[2]);
                let (gamma, beta) = g.split2(&gb, &split);
                let ag = g.node("Mul", &[&gamma, &alpha], vec![]);
                let scale = g.node("Add", &[&ag, "one"], vec![]);
                let shift = g.node("Mul", &[&beta, &alpha], vec![]);
                sites.push((scale, shift));
            }
            let (sm, ss) = &stats[2];
            (sites, g.adain_blend(&f, sm, ss, &alpha))
        }
    };
    let film = |g: &mut Graph, h: &str, k: usize| {
        let m = g.node("Mul", &[h, &sites[k].0], vec![]);
        g.node("Add", &[&m, &sites[k].1], vec![])
    };
    let h = w.conv(&mut g, &target, "decoder.res.conv1", 1, false)?;
    let h = film(&mut g, &h, 0);
    let h = g.node("Relu", &[&h], vec![]);
    let h = w.conv(&mut g, &h, "decoder.res.conv2", 1, false)?;
    let h = film(&mut g, &h, 1);
    let h = g.node("Add", &[&target, &h], vec![]);
    let h = g.upsample2(&h);
    let h = w.conv(&mut g, &h, "decoder.up1", 1, false)?;
    let h = film(&mut g, &h, 2);
    let h = g.node("Relu", &[&h], vec![]);
    let h = g.upsample2(&h);
    let h = w.conv(&mut g, &h, "decoder.up2", 1, false)?;
    let h = film(&mut g, &h, 3);
    let h = g.node("Relu", &[&h], vec![]);
    let y = w.conv(&mut g, &h, "decoder.conv_out", 1, false)?;
    g.crop_out(&y, &hw);
    let doc =
        format!("adain lite network; inputs RGB in [0,1], NCHW{}", if fixed.is_some() { "; fixed style" } else { "" });
    let name = if fixed.is_some() { "adain_lite_fixed_style" } else { "adain_lite" };
    Ok(g.into_model(name, fixed.is_some(), doc, vec![("network", "lite".into())]))
}

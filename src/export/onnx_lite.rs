//! ONNX export of the lite network (same inputs and output as the VGG graphs of
//! [`super::onnx`], and the same padding to the network's multiple, here 4).
//!
//! - arbitrary style: the style encoder, the taps' statistics and the modulators are in the
//!   graph (`Gemm` on the concatenated mean/std), scaled by the input `alpha`;
//! - fixed style: the AdaIN statistics and the four convs' scale and shift at the baked α are
//!   constants, so the graph is the content encoder and the decoder only;
//! - the two halves of the arbitrary-style graph, for a style used on many frames (live camera,
//!   video, a gallery): [`build_style`] (`style` → `style_code`, the style encoder's statistics)
//!   and [`build_frame`] (`content`, `style_code`, `alpha` → `stylized`). A style code is
//!   `[1, 224]`: the mean then the std of each tap, `[m0 (16), s0 (16), m1 (32), s1 (32),
//!   m2 (64), s2 (64)]`; codes mix linearly (style interpolation is a weighted sum of codes).

use super::graph::{Graph, attr_int, attr_ints, value_info};
use super::onnx_proto::ModelProto;
use crate::error::{Error, Result};
use crate::model::light::{EPS_ADAIN as EPS, LiteDecoder, LiteStyle, Store};
use crate::model::lite_config::{LiteConfig, MULTIPLE};

/// A fixed style for the lite graph: its code and α.
pub type FixedLite = (LiteStyle, f64);

/// The lite network's tensors under their state-dict names (`weights::plain::lite_store`).
struct Weights<'a> {
    store: &'a Store,
}

impl<'a> Weights<'a> {
    /// The weights of `store`, checked to be of the layout these graphs write.
    fn new(store: &'a Store) -> Result<Self> {
        LiteConfig::shipped_layout(store.names(), store.origin())?;
        Ok(Self { store })
    }

    fn get(&self, key: &str) -> Result<(&[usize], &[f32])> {
        self.store.tensor(key).ok_or_else(|| Error::Invalid(format!("lite network has no {key}")))
    }

    fn init(&self, g: &mut Graph, key: &str) -> Result<String> {
        let (shape, values) = self.get(key)?;
        if !g.has_init(key) {
            g.float(key, values, &shape.iter().map(|d| *d as i64).collect::<Vec<_>>());
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

/// Which modulated conv reads which tap, in the decoder's order (res conv1, res conv2, up1, up2).
const SITES: [(&str, usize); 4] = [("mod_res1", 2), ("mod_res2", 2), ("mod_up1", 1), ("mod_up2", 0)];

/// Length of a style code: a mean and a std per channel of the three taps.
pub fn style_code_len(cfg: &LiteConfig) -> i64 {
    2 * cfg.widths.iter().sum::<i64>()
}

/// Offsets of each tap's `[mean, std]` in a style code.
fn code_offsets(cfg: &LiteConfig) -> [i64; 3] {
    let w = cfg.widths;
    [0, 2 * w[0], 2 * (w[0] + w[1])]
}

impl Weights<'_> {
    /// The widths of the network these weights are for.
    fn config(&self) -> Result<LiteConfig> {
        let width = |conv: &str| -> Result<i64> {
            let key = format!("content_encoder.{conv}.bias");
            Ok(self.get(&key)?.0[0] as i64)
        };
        Ok(LiteConfig { widths: [width("conv_in")?, width("down1")?, width("down2")?], ..Default::default() })
    }

    /// Per modulated conv, `(1 + α γ, α β)` from the taps' `[1, 2C]` vectors.
    fn sites(&self, g: &mut Graph, vecs: &[String; 3], alpha: &str) -> Result<Vec<(String, String)>> {
        g.scalar("one", 1.0);
        let mut sites = Vec::new();
        for (name, tap) in SITES {
            let (lw, lb) =
                (self.init(g, &format!("decoder.{name}.weight"))?, self.init(g, &format!("decoder.{name}.bias"))?);
            let gb = g.node("Gemm", &[&vecs[tap], &lw, &lb], vec![attr_int("transB", 1)]);
            // [1, 2C] as two [1, C, 1, 1] halves.
            let c = self.get(&format!("decoder.{name}.bias"))?.0[0] as i64 / 2;
            let shape = g.int64(&format!("{name}_shape"), &[1, 2 * c, 1, 1], &[4]);
            let gb = g.node("Reshape", &[&gb, &shape], vec![]);
            let split = g.int64(&format!("{name}_split"), &[c, c], &[2]);
            let (gamma, beta) = g.split2(&gb, &split);
            let ag = g.node("Mul", &[&gamma, alpha], vec![]);
            let scale = g.node("Add", &[&ag, "one"], vec![]);
            let shift = g.node("Mul", &[&beta, alpha], vec![]);
            sites.push((scale, shift));
        }
        Ok(sites)
    }

    /// The style encoder's taps as `[1, 2C]` vectors (mean then std) and the last tap's
    /// `[1, C, 1, 1]` mean and std (the AdaIN statistics).
    fn style_vectors(&self, g: &mut Graph, style: &str) -> Result<([String; 3], (String, String))> {
        let taps = self.encoder(g, style, "style_encoder")?;
        g.int64("shape_flat", &[1, -1], &[2]);
        let mut last = None;
        let mut vecs = Vec::new();
        for t in &taps {
            let (m, s) = g.stats(t);
            let mf = g.node("Reshape", &[&m, "shape_flat"], vec![]);
            let sf = g.node("Reshape", &[&s, "shape_flat"], vec![]);
            vecs.push(g.node("Concat", &[&mf, &sf], vec![attr_int("axis", 1)]));
            last = Some((m, s));
        }
        let vecs: [String; 3] = vecs.try_into().expect("three taps");
        Ok((vecs, last.expect("three taps")))
    }

    /// The modulated decoder from the AdaIN target to RGB (`[1, 3, H, W]`, padded).
    fn decoder(&self, g: &mut Graph, target: &str, sites: &[(String, String)]) -> Result<String> {
        let film = |g: &mut Graph, h: &str, k: usize| {
            let m = g.node("Mul", &[h, &sites[k].0], vec![]);
            g.node("Add", &[&m, &sites[k].1], vec![])
        };
        let h = self.conv(g, target, "decoder.res.conv1", 1, false)?;
        let h = film(g, &h, 0);
        let h = g.node("Relu", &[&h], vec![]);
        let h = self.conv(g, &h, "decoder.res.conv2", 1, false)?;
        let h = film(g, &h, 1);
        let h = g.node("Add", &[target, &h], vec![]);
        let h = g.upsample2(&h);
        let h = self.conv(g, &h, "decoder.up1", 1, false)?;
        let h = film(g, &h, 2);
        let h = g.node("Relu", &[&h], vec![]);
        let h = g.upsample2(&h);
        let h = self.conv(g, &h, "decoder.up2", 1, false)?;
        let h = film(g, &h, 3);
        let h = g.node("Relu", &[&h], vec![]);
        self.conv(g, &h, "decoder.conv_out", 1, false)
    }
}

/// Builds the lite ONNX model; `fixed` bakes a style and α in.
pub fn build(lite: &Store, fixed: Option<&FixedLite>, half: bool) -> Result<ModelProto> {
    let w = Weights::new(lite)?;
    let mut g = Graph::new(half);
    g.scalar("eps", EPS);
    let (padded, hw) = g.pad_content("content", MULTIPLE);
    let [_, _, f] = w.encoder(&mut g, &padded, "content_encoder")?;
    // Per modulated conv: (scale, shift) node names, and the AdaIN target.
    let (sites, target): (Vec<(String, String)>, String) = match fixed {
        Some((style, alpha)) => {
            let decoder = LiteDecoder::new(&lite.root().sub("decoder"), &w.config()?)?;
            let sites = decoder
                .modulation(style, *alpha)
                .iter()
                .enumerate()
                .map(|(k, (sc, sh))| {
                    let dims = [1, sc.len() as i64, 1, 1];
                    (g.float(&format!("mod{k}_scale"), sc, &dims), g.float(&format!("mod{k}_shift"), sh, &dims))
                })
                .collect();
            let tap = &style.taps[2];
            let dims = [1, tap.mean.len() as i64, 1, 1];
            let (sm, ss) = (g.float("style_mean", &tap.mean, &dims), g.float("style_std", &tap.std, &dims));
            let a = g.scalar("alpha", *alpha);
            (sites, g.adain_blend(&f, &sm, &ss, &a))
        }
        None => {
            let style = g.cast_in("style");
            let alpha = g.cast_in("alpha");
            let (vecs, (sm, ss)) = w.style_vectors(&mut g, &style)?;
            (w.sites(&mut g, &vecs, &alpha)?, g.adain_blend(&f, &sm, &ss, &alpha))
        }
    };
    let y = w.decoder(&mut g, &target, &sites)?;
    g.crop_out(&y, &hw);
    let doc =
        format!("adain lite network; inputs RGB in [0,1], NCHW{}", if fixed.is_some() { "; fixed style" } else { "" });
    let name = if fixed.is_some() { "adain_lite_fixed_style" } else { "adain_lite" };
    Ok(g.into_model(name, fixed.is_some(), doc, vec![("network", "lite".into())]))
}

/// The style half: input `style` `[1, 3, Hs, Ws]` (RGB in [0, 1]), output `style_code`
/// `[1, 224]` (float32; see the module docs for its layout).
pub fn build_style(lite: &Store, half: bool) -> Result<ModelProto> {
    let w = Weights::new(lite)?;
    let mut g = Graph::new(half);
    g.scalar("eps", EPS);
    let style = g.cast_in("style");
    let (vecs, _) = w.style_vectors(&mut g, &style)?;
    let code = g.node("Concat", &[&vecs[0], &vecs[1], &vecs[2]], vec![attr_int("axis", 1)]);
    g.output(&code, "style_code");
    let n = style_code_len(&w.config()?);
    let inputs = vec![value_info("style", &[Ok(1), Ok(3), Err("style_height"), Err("style_width")])];
    let doc = "adain lite network, style half: RGB in [0,1], NCHW → the style code".to_string();
    Ok(g.into_model_io(
        "adain_lite_style",
        inputs,
        vec![value_info("style_code", &[Ok(1), Ok(n)])],
        doc,
        vec![("network", "lite".into()), ("part", "style".into())],
    ))
}

/// The frame half: inputs `content` `[1, 3, H, W]`, `style_code` `[1, 224]` (from
/// [`build_style`], or a weighted sum of such codes) and the scalar `alpha`; output `stylized`.
pub fn build_frame(lite: &Store, half: bool) -> Result<ModelProto> {
    let w = Weights::new(lite)?;
    let cfg = &w.config()?;
    let mut g = Graph::new(half);
    g.scalar("eps", EPS);
    let (padded, hw) = g.pad_content("content", MULTIPLE);
    let [_, _, f] = w.encoder(&mut g, &padded, "content_encoder")?;
    let code = g.cast_in("style_code");
    let alpha = g.cast_in("alpha");
    g.int64("axis1", &[1], &[1]);
    let slice = |g: &mut Graph, from: i64, len: i64| {
        let a = g.int64(&format!("code_from_{from}"), &[from], &[1]);
        let b = g.int64(&format!("code_to_{}", from + len), &[from + len], &[1]);
        g.node("Slice", &[&code, &a, &b, "axis1"], vec![])
    };
    let offsets = code_offsets(cfg);
    let vecs: [String; 3] = std::array::from_fn(|k| slice(&mut g, offsets[k], 2 * cfg.widths[k]));
    let c = cfg.widths[2];
    let shape = g.int64("stats_shape", &[1, c, 1, 1], &[4]);
    let sm = slice(&mut g, offsets[2], c);
    let ss = slice(&mut g, offsets[2] + c, c);
    let (sm, ss) = (g.node("Reshape", &[&sm, &shape], vec![]), g.node("Reshape", &[&ss, &shape], vec![]));
    let sites = w.sites(&mut g, &vecs, &alpha)?;
    let target = g.adain_blend(&f, &sm, &ss, &alpha);
    let y = w.decoder(&mut g, &target, &sites)?;
    g.crop_out(&y, &hw);
    let n = style_code_len(cfg);
    let inputs = vec![
        value_info("content", &[Ok(1), Ok(3), Err("height"), Err("width")]),
        value_info("style_code", &[Ok(1), Ok(n)]),
        value_info("alpha", &[]),
    ];
    let doc = "adain lite network, frame half: content RGB in [0,1] NCHW, a style code, alpha".to_string();
    Ok(g.into_model_io(
        "adain_lite_frame",
        inputs,
        vec![value_info("stylized", &[Ok(1), Ok(3), Err("height"), Err("width")])],
        doc,
        vec![("network", "lite".into()), ("part", "frame".into())],
    ))
}

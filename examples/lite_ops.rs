//! Where the lite network's frame time goes: each op of the style-cached frame path at 512²
//! (the content encoder, AdaIN, the decoder with its modulation folded), timed on its own on
//! inputs of the real shapes through the same dispatch as the network (Winograd where it
//! applies, else oneDNN's convolution; for those the pad and the conv are also timed apart),
//! then the shipped network's frame and its three steps, float32 and bfloat16, 2 threads (`ADAIN_MALLOC_DEFAULT=1`: with
//! glibc's default policy instead of [`adain::allocator::reuse_large_blocks`]):
//! `cargo run --release --example lite_ops [SIDE]`.
use adain::infer::{Family, NetworkSpec};
use adain::model::Precision;
use adain::model::winograd::{self, FilterCache};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Median of 7 timed calls after two untimed ones, ms.
fn ms(f: &dyn Fn() -> Tensor) -> f64 {
    let _ = f();
    let _ = f();
    let mut v: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let _ = f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[3]
}

fn cl(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

fn main() {
    let side: i64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(512);
    if std::env::var_os("ADAIN_MALLOC_DEFAULT").is_none() {
        assert!(adain::allocator::reuse_large_blocks());
    }
    tch::set_num_threads(2);
    tch::manual_seed(0);
    let _g = tch::no_grad_guard();
    // `lite_ops SIDE frames [f32|bf16]`: only the whole frame, 300 times (to profile, e.g.
    // under `perf record`), then its min, median and 90th percentile.
    if std::env::args().nth(2).as_deref() == Some("frames") {
        let bf16 = std::env::args().nth(3).as_deref() == Some("bf16");
        let precision = if bf16 { Precision::Bf16 } else { Precision::F32 };
        let net = NetworkSpec { family: Family::Lite, precision, ..Default::default() }.load().expect("models/lite");
        let opts = (Kind::Float, Device::Cpu);
        let c = Tensor::rand([1, 3, side, side], opts);
        let code = net.style_code(&Tensor::rand([1, 3, side, side], opts)).expect("style");
        let mut times: Vec<f64> = (0..300)
            .map(|_| {
                let t = Instant::now();
                let f = net.features(&net.pad(&c).unwrap()).unwrap();
                let _ = net.decode(&net.target(&f, &code, 1.0).unwrap(), &code, 1.0).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("frame ms: min {:.2}, median {:.2}, p90 {:.2}", times[0], times[150], times[270]);
        return;
    }
    for kind in [Kind::Float, Kind::BFloat16] {
        let opts = (Kind::Float, Device::Cpu);
        let act = |c: i64, s: i64| cl(&Tensor::rand([1, c, s, s], opts).to_kind(kind));
        let wt = |k: i64, c: i64| (Tensor::randn([k, c, 3, 3], opts) / (3.0 * (c as f64).sqrt())).to_kind(kind);
        let b = |k: i64| Tensor::zeros([k], (kind, Device::Cpu));
        let mut rows: Vec<(String, f64)> = Vec::new();
        let image = Tensor::rand([1, 3, side, side], opts);
        rows.push(("input to kind + channels-last".into(), ms(&|| cl(&image.to_kind(kind)))));
        // Stride-1 convs through the project's dispatch (Winograd from 64 channels, else oneDNN
        // with the ReLU fused; the pad is inside these figures).
        for (name, c, k, s, relu, up) in [
            ("conv_in 3→16 (pad + conv + ReLU)", 3, 16, side, true, false),
            ("res conv 64→64 ×4", 64, 64, side / 4, true, false),
            ("up1 64→32 (upsample + pad + conv + ReLU)", 64, 32, side / 2, true, true),
            ("up2 32→16 (upsample + pad + conv + ReLU)", 32, 16, side, true, true),
            ("conv_out 16→3 (last-conv kernel, float32 out)", 16, 3, side, false, false),
        ] {
            let (w, bb, cache) = (wt(k, c), b(k), FilterCache::default());
            let t = if up {
                let x = act(c, s / 2);
                ms(&|| winograd::conv3x3_reflect_up(&x, &w, Some(&bb), &cache, relu))
            } else if k <= winograd::THIN_MAX_CHANNELS {
                let x = act(c, s);
                rows.push((
                    format!("  (before: oneDNN's, {c}→{k})"),
                    ms(&|| winograd::conv3x3_reflect(&x, &w, Some(&bb), &cache, relu)),
                ));
                ms(&|| winograd::conv3x3_reflect_out(&x, &w, Some(&bb), relu))
            } else {
                let x = act(c, s);
                ms(&|| winograd::conv3x3_reflect(&x, &w, Some(&bb), &cache, relu))
            };
            let reps = if name.contains("×4") { 4.0 } else { 1.0 };
            rows.push((name.into(), t * reps));
            let x = act(c, s);
            if !winograd::applies(&x, &w) && k > winograd::THIN_MAX_CHANNELS {
                let p = x.reflection_pad2d([1, 1, 1, 1]);
                rows.push((format!("  of which the pad ({c} ch @ {s})"), ms(&|| x.reflection_pad2d([1, 1, 1, 1]))));
                rows.push((
                    "  the conv alone (no ReLU)".into(),
                    ms(&|| p.conv2d(&w, Some(&bb), [1, 1], [0, 0], [1, 1], 1)),
                ));
            }
        }
        for (name, c, k, s) in
            [("down1 16→32 s2 (pad + conv + ReLU)", 16, 32, side), ("down2 32→64 s2", 32, 64, side / 2)]
        {
            let (x, w, bb) = (act(c, s), wt(k, c), b(k));
            rows.push((name.into(), ms(&|| winograd::conv3x3_reflect_stride2_relu(&x, &w, Some(&bb)))));
        }
        let f = act(64, side / 4);
        rows.push(("residual add 64 @ 1/4 ×2".into(), 2.0 * ms(&|| &f + &f)));
        let y = act(3, side);
        rows.push(("output to float32".into(), ms(&|| y.to_kind(Kind::Float))));
        // The whole frame path of the shipped network through the library, as `adain bench`
        // times it, and its three steps.
        let precision = if kind == Kind::Float { Precision::F32 } else { Precision::Bf16 };
        let net = NetworkSpec { family: Family::Lite, precision, ..Default::default() }.load().expect("models/lite");
        let c = Tensor::rand([1, 3, side, side], opts);
        let code = net.style_code(&Tensor::rand([1, 3, side, side], opts)).expect("style");
        let f = net.features(&c).expect("features");
        let t = net.target(&f, &code, 1.0).expect("target");
        rows.push(("the shipped network: features".into(), ms(&|| net.features(&c).unwrap())));
        rows.push(("  target (AdaIN)".into(), ms(&|| net.target(&f, &code, 1.0).unwrap())));
        rows.push(("  decode".into(), ms(&|| net.decode(&t, &code, 1.0).unwrap())));
        rows.push((
            "  the whole frame".into(),
            ms(&|| {
                let f = net.features(&net.pad(&c).unwrap()).unwrap();
                net.decode(&net.target(&f, &code, 1.0).unwrap(), &code, 1.0).unwrap()
            }),
        ));
        println!("{kind:?}, {side}²:");
        for (name, t) in rows {
            println!("  {name:<44} {t:7.2} ms");
        }
    }
}

//! Per-layer time of the 3×3 convolutions of a 512² stylization (the encoder's and decoder's
//! shapes), direct against Winograd F(4×4, 3×3), alternating in one process, in float32 or
//! bfloat16, with each Winograd output's relative error against the float32 direct
//! convolution of the same input (and, in bfloat16, the direct bfloat16 convolution's):
//! `cargo run --release --example winograd_layers [THREADS] [f32|bf16] [lite]` (BENCHMARKS.md,
//! "Winograd").
use adain::model::winograd::{self, FilterCache};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Median of `n` timed calls after one untimed one, ms.
fn median_ms(n: usize, f: &dyn Fn() -> Tensor) -> f64 {
    let _ = f();
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let _ = f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[n / 2]
}

fn main() {
    let threads: i32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let kind = match std::env::args().nth(2).as_deref() {
        None | Some("f32") => Kind::Float,
        Some("bf16") => Kind::BFloat16,
        Some(other) => panic!("precision {other:?}: f32 or bf16"),
    };
    adain::allocator::reuse_large_blocks();
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let _g = tch::no_grad_guard();
    // `conv3x3_reflect` is the direct convolution from here on; the Winograd side calls the
    // kernel itself.
    winograd::set_enabled(false);
    println!(
        "{threads} thread(s), {kind:?}; median of 5 calls; in → out channels @ side: direct ms, Winograd ms, ratio, \
         relative error of direct and Winograd against float32 direct"
    );
    let (mut total_d, mut total_w) = (0.0, 0.0);
    let lite = std::env::args().nth(3).as_deref() == Some("lite");
    // (in, out, side, how many such convs in encoder + decoder at 512²)
    let vgg: &[(i64, i64, i64, usize)] = &[
        (64, 64, 512, 2),
        (64, 128, 256, 1),
        (128, 64, 256, 1),
        (128, 128, 256, 2),
        (128, 256, 128, 1),
        (256, 128, 128, 1),
        (256, 256, 128, 5),
        (256, 512, 64, 1),
        (512, 256, 64, 1),
    ];
    // The lite network's stride-1 convs with the style cached (content encoder + decoder).
    let lite_shapes: &[(i64, i64, i64, usize)] = &[(64, 64, 128, 4), (64, 32, 256, 1), (32, 16, 512, 1)];
    for &(c, k, s, count) in if lite { lite_shapes } else { vgg } {
        let x = Tensor::rand([1, c, s, s], (Kind::Float, Device::Cpu)).to_kind(kind);
        let x = x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
        let w32 = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
        let w = w32.to_kind(kind);
        let b = Tensor::zeros([k], (kind, Device::Cpu));
        let cache = FilterCache::default();
        let direct = || winograd::conv3x3_reflect(&x, &w, Some(&b), &cache, true);
        // The Winograd side transforms the float32 weights, as the decoder's master weights are.
        let wino = || winograd::conv3x3_winograd(&x, &w32, Some(&b), &cache, true).expect("winograd kernel");
        let exact = x
            .to_kind(Kind::Float)
            .reflection_pad2d([1, 1, 1, 1])
            .conv2d(&w32, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1)
            .relu();
        let err =
            |y: Tensor| (y.to_kind(Kind::Float) - &exact).norm().double_value(&[]) / exact.norm().double_value(&[]);
        let (e_direct, e_wino) = (err(direct()), err(wino()));
        let (mut d, mut wg) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            d.push(median_ms(5, &direct));
            wg.push(median_ms(5, &wino));
        }
        let (d, wg) = (d.iter().sum::<f64>() / 2.0, wg.iter().sum::<f64>() / 2.0);
        total_d += d * count as f64;
        total_w += wg * count as f64;
        println!("{c:>4} → {k:<4} @ {s:>3} (×{count}): {d:7.1} {wg:7.1}  {:.2}x   {e_direct:.1e} {e_wino:.1e}", d / wg);
    }
    println!(
        "the 3×3 convs with ≥ 64 channels of a 512² forward: direct {total_d:.0} ms, Winograd everywhere {total_w:.0} ms, {:.2}x (adain uses it from {} channels on)",
        total_d / total_w,
        winograd::MIN_CHANNELS
    );
}

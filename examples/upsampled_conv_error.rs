//! How close the upsampled convolution comes to the exact result, float32 against float64, on
//! the VGG and lite decoders' upsampled layers (random weights and ReLU'd inputs): the kernel's
//! phase filters on the small map ([`winograd::conv3x3_reflect_up`]), the Winograd kernel on
//! the upsampled map, and oneDNN's direct convolution of it.
//! `cargo run --release --example upsampled_conv_error`.
use adain::model::winograd::{self, FilterCache};
use tch::{Device, Kind, Tensor};

fn main() {
    tch::manual_seed(0);
    let _g = tch::no_grad_guard();
    println!("layer (C→K at the small side): relative error of phases / Winograd of the upsampled map / direct");
    for &(c, k, side) in &[(512i64, 256i64, 24i64), (256, 128, 48), (128, 64, 96), (64, 32, 64), (32, 16, 128)] {
        let x = Tensor::randn([1, c, side, side], (Kind::Float, Device::Cpu)).relu();
        let w = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
        let up = x.upsample_nearest2d([2 * side, 2 * side], 2.0, 2.0);
        let conv = |x: &Tensor, w: &Tensor| {
            x.reflection_pad2d([1, 1, 1, 1]).conv2d(w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1)
        };
        let exact = conv(&up.to_kind(Kind::Double), &w.to_kind(Kind::Double));
        let err =
            |y: &Tensor| (y.to_kind(Kind::Double) - &exact).norm().double_value(&[]) / exact.norm().double_value(&[]);
        let phases = winograd::conv3x3_reflect_up(&x, &w, None, &FilterCache::default(), false);
        let upsampled = winograd::conv3x3_winograd(&up, &w, None, &FilterCache::default(), false).expect("winograd");
        println!("{c}→{k} at {side}²: {:.2e} / {:.2e} / {:.2e}", err(&phases), err(&upsampled), err(&conv(&up, &w)));
    }
}

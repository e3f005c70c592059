use std::time::Instant;
use tch::{Kind, Tensor, Device};
use tch::nn::Module;
fn cl(t: &Tensor) -> Tensor { t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]) }
fn main() {
    tch::set_num_threads(2);
    let mut enc = adain::weights::load_encoder(&adain::weights::fetch::default_encoder_path(), Device::Cpu).unwrap();
    let mut dec = adain::weights::load_decoder(std::path::Path::new("models/decoder-vgg16.safetensors"), enc.encoder.config(), Device::Cpu).unwrap();
    let _g = tch::no_grad_guard();
    let x = adain::data::image::to_tensor(&adain::data::image::resize_exact(&adain::data::image::open(std::path::Path::new("assets/astronaut.jpg")).unwrap(), 512, 512));
    let net = adain::model::StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    let st = net.style_stats(&x.flip([3]));
    let run = |x: &Tensor, st: &adain::model::Stats, n: usize| { let mut o = None; let t = Instant::now(); for _ in 0..n { o = Some(net.stylize(x, st, 1.0)); } (t.elapsed().as_secs_f64() * 1e3 / n as f64, o.unwrap()) };
    run(&x, &st, 1);
    let (t32, y32) = run(&x, &st, 3);
    println!("f32 {t32:.1} ms");
    let (tcl, ycl) = run(&cl(&x), &st, 3);
    println!("f32 channels-last input {tcl:.1} ms diff {}", (&ycl - &y32).abs().max().double_value(&[]));
    drop(net);
    enc.vs.bfloat16(); dec.vs.bfloat16();
    let net = adain::model::StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    let xb = x.to_kind(Kind::BFloat16);
    let stb = adain::model::Stats { mean: st.mean.to_kind(Kind::BFloat16), std: st.std.to_kind(Kind::BFloat16) };
    let runb = |x: &Tensor, n: usize| { let mut o = None; let t = Instant::now(); for _ in 0..n { o = Some(net.stylize(x, &stb, 1.0)); } (t.elapsed().as_secs_f64() * 1e3 / n as f64, o.unwrap()) };
    runb(&xb, 1);
    let (tb, yb) = runb(&xb, 3);
    let mse = (yb.to_kind(Kind::Float).clamp(0.0, 1.0) - y32.clamp(0.0, 1.0)).square().mean(Kind::Float).double_value(&[]);
    println!("bf16 {tb:.1} ms PSNR {:.1} dB", -10.0 * mse.log10());
    runb(&cl(&xb), 1);
    let (tbc, ybc) = runb(&cl(&xb), 3);
    let mse = (ybc.to_kind(Kind::Float).clamp(0.0, 1.0) - y32.clamp(0.0, 1.0)).square().mean(Kind::Float).double_value(&[]);
    println!("bf16 channels-last {tbc:.1} ms PSNR {:.1} dB", -10.0 * mse.log10());
}

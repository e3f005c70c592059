//! How close each inference precision and convolution algorithm comes to the exact result:
//! the shipped decoder on the committed photos × `starry_night.jpg`, PSNR (dB, pixels in
//! [0, 1]) of each configuration's output against float32 with direct convolutions:
//! `cargo run --release --example precision_psnr [SIZE…]` (default 256 512; BENCHMARKS.md,
//! "Winograd").
use adain::data::image as img;
use adain::model::{Precision, StyleTransfer, winograd};
use adain::weights;
use std::path::Path;
use tch::{Device, Tensor};

fn main() -> anyhow::Result<()> {
    let sizes: Vec<u32> = std::env::args().skip(1).map(|s| s.parse()).collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![256, 512] } else { sizes };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let enc_path = weights::fetch::ensure(None, true)?;
    let dec_path = root.join("models/decoder-vgg16.safetensors");
    let load = |precision: Precision| -> anyhow::Result<_> {
        let mut enc = weights::load_encoder(&enc_path, Device::Cpu)?;
        let mut dec = weights::load_decoder(&dec_path, enc.encoder.config(), Device::Cpu)?;
        precision.apply(&mut enc.vs);
        precision.apply(&mut dec.vs);
        Ok((enc, dec))
    };
    let f32 = load(Precision::F32)?;
    let bf16 = load(Precision::Bf16)?;
    println!("bf16 Winograd kernel on this CPU: {}; PSNR against float32 direct, dB", winograd::bf16_supported());
    println!("{:<14} {:>5} {:>14} {:>12} {:>15}", "content", "side", "f32 Winograd", "bf16 direct", "bf16 Winograd");
    let style_img = img::open(&root.join("assets/starry_night.jpg"))?;
    for &size in &sizes {
        for name in ["astronaut.jpg", "chelsea.jpg", "coffee.jpg"] {
            let content = img::to_tensor(&img::resize_shorter(&img::open(&root.join("assets").join(name))?, size));
            let style = img::to_tensor(&img::resize_shorter(&style_img, size));
            let run = |(enc, dec): &(weights::LoadedEncoder, weights::LoadedDecoder)| -> Tensor {
                let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
                tch::no_grad(|| net.stylize(&content, &net.style_stats(&style), 1.0)).clamp(0.0, 1.0)
            };
            let exact = winograd::direct(|| run(&f32));
            let psnr = |y: Tensor| -10.0 * (y - &exact).square().mean(tch::Kind::Float).double_value(&[]).log10();
            let f32_wino = psnr(run(&f32));
            let bf16_direct = psnr(winograd::direct(|| run(&bf16)));
            let bf16_wino = psnr(run(&bf16));
            println!("{name:<14} {size:>5} {f32_wino:>14.1} {bf16_direct:>12.1} {bf16_wino:>15.1}");
        }
    }
    Ok(())
}

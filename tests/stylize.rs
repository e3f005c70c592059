//! Library-level stylization semantics: cached style statistics, interpolation weights, masks.

mod common;

use adain::data::image as img;
use adain::infer::stylize::{self, StyleInput, StylizeOptions};
use adain::model::StyleTransfer;
use adain::weights;
use common::*;
use tch::Device;

fn mean_diff(a: &image::Rgb32FImage, b: &image::Rgb32FImage) -> f32 {
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.as_raw().len() as f32
}

fn max_diff(a: &image::Rgb32FImage, b: &image::Rgb32FImage) -> f32 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The default encoder and the shipped decoder (`models/decoder-vgg16.safetensors`), float32.
fn shipped() -> (weights::LoadedEncoder, weights::LoadedDecoder) {
    let enc = weights::load_encoder(&vgg16(), Device::Cpu).unwrap();
    let file = root().join("models").join("decoder-vgg16.safetensors");
    let dec = weights::load_decoder(&file, enc.encoder.config(), Device::Cpu).unwrap();
    (enc, dec)
}

#[test]
fn cached_stats_weights_and_masks_mean_what_they_say() {
    // The shipped decoder: deterministic (no RNG shared with parallel tests) and, being
    // trained, spatially local enough for the mask check below.
    let (enc, dec) = shipped();
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    let load = |n: &str, s: u32| stylize::load(&asset(n), s, false).unwrap();
    let content = load("chelsea.jpg", 40);
    let (s1, s2) = (load("starry_night.jpg", 48), load("coffee.jpg", 48));
    let opts = StylizeOptions { alpha: 0.8, ..Default::default() };
    let one = |im: &image::Rgb32FImage, w: f64| StyleInput { image: im.clone(), weight: w };

    // Statistics computed once and reused give the same image as computing them per call.
    let direct = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s1, 1.0)], &opts).unwrap();
    let stats = stylize::style_stats(&net, Device::Cpu, &[one(&s1, 1.0)], None);
    let cached = stylize::stylize_with_stats(&net, Device::Cpu, &content, &stats, opts.alpha, stylize::Tile::Off);
    assert_eq!(max_diff(&direct, &cached), 0.0);

    // Weights 1:0 are the first style alone; 1:1 differs from both.
    let w10 = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s1, 1.0), one(&s2, 0.0)], &opts).unwrap();
    assert!(max_diff(&w10, &direct) < 1e-5);
    let w11 = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s1, 1.0), one(&s2, 1.0)], &opts).unwrap();
    assert!(max_diff(&w11, &direct) > 1e-3);

    // An all-white mask is the first style alone; an all-black one the second.
    let (w, h) = content.dimensions();
    let white = image::Rgb32FImage::from_pixel(w, h, image::Rgb([1.0, 1.0, 1.0]));
    let black = image::Rgb32FImage::from_pixel(w, h, image::Rgb([0.0, 0.0, 0.0]));
    let m1 = stylize::stylize_masked(&net, Device::Cpu, &content, &s1, &s2, &white, &opts);
    assert!(max_diff(&m1, &direct) < 1e-5, "{}", max_diff(&m1, &direct));
    let only2 = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s2, 1.0)], &opts).unwrap();
    let m2 = stylize::stylize_masked(&net, Device::Cpu, &content, &s1, &s2, &black, &opts);
    assert!(max_diff(&m2, &only2) < 1e-5);
    // A half mask: the left half is far closer to style 1's result than to style 2's.
    let half = image::Rgb32FImage::from_fn(w, h, |x, _| if x < w / 2 { image::Rgb([1.0; 3]) } else { image::Rgb([0.0; 3]) });
    let mh = stylize::stylize_masked(&net, Device::Cpu, &content, &s1, &s2, &half, &opts);
    let left = |im: &image::Rgb32FImage| image::imageops::crop_imm(im, 0, 0, w / 2 - 8, h).to_image();
    let (d1, d2) = (mean_diff(&left(&mh), &left(&direct)), mean_diff(&left(&mh), &left(&only2)));
    eprintln!("left half: {d1} from style 1 alone, {d2} from style 2 alone");
    assert!(d1 < 0.75 * d2, "left half: {d1} from style 1 alone, {d2} from style 2 alone");
    // Alpha 0 reconstructs the content features: the result does not depend on the style.
    let a0 = StylizeOptions { alpha: 0.0, ..Default::default() };
    let r1 = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s1, 1.0)], &a0).unwrap();
    let r2 = stylize::stylize(Some(&net), Device::Cpu, &content, &[one(&s2, 1.0)], &a0).unwrap();
    assert!(max_diff(&r1, &r2) < 1e-5);
    let _ = img::to_tensor(&r1);
}

#[test]
fn tiled_stylization_equals_untiled() {
    let enc = weights::load_encoder(&vgg16(), Device::Cpu).unwrap();
    let dec = weights::new_decoder_seeded(enc.encoder.config(), Device::Cpu, 4);
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    // 203 × 266: not a multiple of 8 nor of the tile; tiles of 64 give a 4 × 5 grid.
    let content = img::to_tensor(&img::resize_exact(&img::open(&asset("astronaut.jpg")).unwrap(), 266, 203));
    let style = net.style_stats(&photo("starry_night.jpg", 64));
    let whole = tch::no_grad(|| net.stylize(&content, &style, 0.9));
    for tile in [64, 96, 512] {
        let tiled = adain::infer::tile::stylize_tiled(&net, Device::Cpu, &content, &style, 0.9, tile);
        let e = rel_err(&tiled, &whole);
        assert!(e < 1e-4, "tile {tile}: relative error {e}");
    }
}

#[test]
fn bfloat16_inference_stays_above_40_db() {
    let (mut enc, mut dec) = shipped();
    let content = photo("astronaut.jpg", 128);
    let style = photo("starry_night.jpg", 128);
    let run = |enc: &weights::LoadedEncoder, dec: &weights::LoadedDecoder| {
        let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
        tch::no_grad(|| net.stylize(&content, &net.style_stats(&style), 1.0)).clamp(0.0, 1.0)
    };
    let full = run(&enc, &dec);
    adain::model::Precision::Bf16.apply(&mut enc.vs);
    adain::model::Precision::Bf16.apply(&mut dec.vs);
    assert_eq!(enc.encoder.kind(), tch::Kind::BFloat16);
    let half = run(&enc, &dec);
    assert_eq!(half.kind(), tch::Kind::Float);
    let mse = (&half - &full).square().mean(tch::Kind::Float).double_value(&[]);
    let psnr = -10.0 * mse.log10();
    assert!(psnr >= 40.0, "bfloat16 vs float32: PSNR {psnr:.1} dB");
    eprintln!("bfloat16 vs float32: PSNR {psnr:.1} dB");
}

/// The shipped decoder does what it is shipped for, on the committed public images: a style
/// loss under half the colour-transfer baseline's (which matches only colour statistics) with
/// the content still there (content loss under twice that of the unchanged photo). Measured
/// when it was shipped: 0.44 and 1.58; the previous decoder (0.53, 2.16) and a random one
/// (12, 5.9) fail.
#[test]
fn shipped_decoder_transfers_style_and_keeps_content() {
    use adain::infer::evaluate;
    use adain::infer::stylize::Method;
    let (enc, dec) = shipped();
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    let mut sums = [[0.0f64; 2]; 3];
    for c in ["astronaut.jpg", "chelsea.jpg", "coffee.jpg"] {
        let ci = stylize::load(&asset(c), 128, false).unwrap();
        let si = stylize::load(&asset("starry_night.jpg"), 128, false).unwrap();
        let (ct, st) = (img::to_tensor(&ci), img::to_tensor(&si));
        let style = [StyleInput { image: si.clone(), weight: 1.0 }];
        for (k, method) in [Method::Adain, Method::ColorTransfer].into_iter().enumerate() {
            let opts = StylizeOptions { content_size: 128, style_size: 128, method, ..Default::default() };
            let out = stylize::stylize(Some(&net), Device::Cpu, &ci, &style, &opts).unwrap();
            let s = evaluate::score(&enc.encoder, &img::to_tensor(&out), &ct, &st);
            sums[k][0] += s.style;
            sums[k][1] += s.content;
        }
        let s = evaluate::score(&enc.encoder, &ct, &ct, &st);
        sums[2][0] += s.style;
        sums[2][1] += s.content;
    }
    let [adain, baseline, unchanged] = sums;
    eprintln!("style / content loss: adain {adain:?}, colour transfer {baseline:?}, unchanged {unchanged:?}");
    assert!(adain[0] < 0.5 * baseline[0], "style loss: adain {} vs colour transfer {}", adain[0], baseline[0]);
    assert!(adain[1] < 2.0 * unchanged[1], "content loss: adain {} vs unchanged photo {}", adain[1], unchanged[1]);
}

//! Where a live-mode frame's server time goes, step by step, on the light build's API (both
//! builds): decoding a 640×480 camera JPEG, resizing it to 256 px, the network (cached style,
//! temporal smoothing, palette matching), encoding the JPEG answer. Median of N frames (default
//! 50) after 5 warm-up frames, in ms. `cargo run --release --no-default-features --target-dir
//! target/light --example live_frame_parts`.
use adain::data::image as img;
use adain::infer::Family;
use adain::infer::light::{Method, NetworkSpec, StyleSpec, Stylizer, Temporal};
use adain::infer::settings::Settings;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let photo = image::open(assets.join("chelsea.jpg")).unwrap().to_rgb8();
    let camera = image::imageops::resize(&photo, 640, 480, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(camera)
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let net = NetworkSpec::default().load().unwrap();
    let mp: f64 = std::env::var("MP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(Settings::for_family(Family::Lite).match_palette);
    let settings = Settings { temporal: 0.5, match_palette: mp, ..Settings::for_family(Family::Lite) };
    let stylizer = Stylizer::new(Method::Network(&net), settings.clone()).unwrap();
    let style = stylizer
        .prepare(StyleSpec::Single(img::load_sized(&assets.join("starry_night.jpg"), 512, false).unwrap()))
        .unwrap();
    let mut temporal = Temporal::new(0.5);
    let (mut dec, mut res, mut sty, mut enc, mut all) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n + 5 {
        let t0 = Instant::now();
        let im = img::decode(&jpeg, 100_000_000).unwrap();
        let t1 = Instant::now();
        let im = img::resize_shorter(&im, settings.live_size);
        let t2 = Instant::now();
        let out = stylizer.stylize_frame(&im, &style, Some(&mut temporal)).unwrap();
        let t3 = Instant::now();
        let rgb = image::DynamicImage::ImageRgb32F(out).to_rgb8();
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(rgb)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
            .unwrap();
        let t4 = Instant::now();
        if i >= 5 {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            dec.push(ms(t0, t1));
            res.push(ms(t1, t2));
            sty.push(ms(t2, t3));
            enc.push(ms(t3, t4));
            all.push(ms(t0, t4));
        }
    }
    println!(
        "decode {:.1} ms, resize {:.1} ms, stylize {:.1} ms, encode {:.1} ms; frame {:.1} ms ({:.1} frames/s)",
        median(dec),
        median(res),
        median(sty),
        median(enc),
        median(all.clone()),
        1e3 / median(all)
    );
}

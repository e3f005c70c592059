//! Frame time of the lite network: the light build's kernels ([`adain::infer::light`]) and,
//! in the full build, libtorch's lite path in float32 and bfloat16, alternating round by
//! round in one run, at 256² and 512², the style encoded once (video and live mode), no
//! palette matching. Prints each round's median of 6 frames (after 2 warm-up frames) and,
//! per case, the median over rounds with the spread.
//!
//! ```sh
//! cargo run --release --example light_frame -- 3                                   # full build: all three
//! cargo run --release --no-default-features --target-dir target/light --example light_frame -- 3
//! ```
use adain::data::image as img;
use adain::infer::{Family, Settings, Tile, light};
use image::Rgb32FImage;
use std::time::Instant;

/// Median of 6 timed frames after 2 warm-up frames, in milliseconds.
fn time(frame: &mut dyn FnMut()) -> f64 {
    frame();
    frame();
    let mut t: Vec<f64> = (0..6)
        .map(|_| {
            let s = Instant::now();
            frame();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[2] + t[3]) / 2.0
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(3);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let photo = img::open(&root.join("chelsea.jpg"))?;
    let style = img::resize_shorter(&img::open(&root.join("starry_night.jpg"))?, 512);
    let settings = Settings { match_palette: 0.0, tile: Tile::Off, ..Settings::for_family(Family::Lite) };
    let net = light::NetworkSpec::default().load()?;
    let l = light::Stylizer::new(light::Method::Network(&net), settings.clone())?;
    let l_style = l.prepare(light::StyleSpec::Single(style.clone()))?;
    #[cfg(feature = "torch")]
    let torch: Vec<adain::infer::Network> = [adain::model::Precision::F32, adain::model::Precision::Bf16]
        .into_iter()
        .map(|precision| adain::infer::NetworkSpec { family: Family::Lite, precision, ..Default::default() }.load())
        .collect::<adain::Result<_>>()?;
    type Case<'a> = (String, Box<dyn FnMut(&Rgb32FImage) + 'a>);
    let mut cases: Vec<Case> = vec![(
        "light kernels, f32".into(),
        Box::new(|c: &Rgb32FImage| {
            l.stylize(c, &l_style).expect("stylize");
        }),
    )];
    #[cfg(feature = "torch")]
    for n in &torch {
        use adain::infer::{Method, StyleSpec, Stylizer};
        let s = Stylizer::new(Method::Network(n), settings.clone())?;
        let p = s.prepare(StyleSpec::Single(style.clone()))?;
        cases.push((
            format!("libtorch, {}", n.precision()),
            Box::new(move |c: &Rgb32FImage| {
                s.stylize(c, &p).expect("stylize");
            }),
        ));
    }
    for side in [256u32, 512] {
        let content = img::resize_exact(&photo, side, side);
        let mut medians = vec![Vec::new(); cases.len()];
        for round in 0..rounds {
            for (k, (name, frame)) in cases.iter_mut().enumerate() {
                let ms = time(&mut || frame(&content));
                println!("{side}², round {round}: {name}: {ms:.1} ms");
                medians[k].push(ms);
            }
        }
        for ((name, _), m) in cases.iter().zip(&mut medians) {
            m.sort_by(f64::total_cmp);
            println!(
                "{side}²: {name}: median {:.1} ms ({:.1}–{:.1}) over {rounds} rounds",
                m[m.len() / 2],
                m[0],
                m[m.len() - 1]
            );
        }
    }
    Ok(())
}

//! Hostile input for every reader: seeded mutations of real files (bit flips, interesting
//! bytes, huge declared sizes, truncation, deletion, splices, repeated chunks, deep nesting)
//! fed to the pickle VM, `.pth` (zip and legacy), safetensors, numpy checkpoints, the lpips
//! checkpoint reader, TOML training configs and image decoding in every accepted format.
//!
//! Properties, per input: no panic, bounded time, and no allocation driven by a declared size
//! (the process would abort; its peak memory is checked at the end). Files in
//! `tests/fuzz/regressions/<target>/` (inputs that once failed, minimised) are replayed first.
//!
//! The test run is short (`ADAIN_FUZZ_INPUTS`, default 150 per target); `research/fuzz.sh`
//! runs it long and prints the table of RELIABILITY.md. The light build (no libtorch) runs
//! the readers it has: its safetensors reader with the lite network, and image decoding.

mod common;

#[cfg(feature = "torch")]
use adain::weights;
use common::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::path::Path;
#[cfg(feature = "torch")]
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Slowest acceptable input.
const SLOW: Duration = Duration::from_secs(5);

#[cfg(feature = "torch")]
fn seeds_dir() -> PathBuf {
    root().join("tests").join("fuzz").join("seeds")
}

/// Uniform in `0..n` (n > 0).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One to four random mutations of `data`, with material from `other` for splices.
fn mutate(rng: &mut ChaCha8Rng, data: &[u8], other: &[u8], nesting: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + below(rng, 4) {
        if d.is_empty() {
            d.push(0);
        }
        let at = below(rng, d.len());
        match below(rng, 9) {
            0 => {
                for _ in 0..1 + below(rng, 8) {
                    let i = below(rng, d.len());
                    d[i] ^= 1 << below(rng, 8);
                }
            }
            1 => d[at] = [0u8, 1, 0x7f, 0x80, 0xff][below(rng, 5)],
            2 => {
                // A huge declared size: a 4- or 8-byte field overwritten.
                let v: [u8; 8] = match below(rng, 5) {
                    0 => u64::MAX.to_le_bytes(),
                    1 => (u32::MAX as u64).to_le_bytes(),
                    2 => (1u64 << 40).to_le_bytes(),
                    3 => (i64::MAX as u64).to_le_bytes(),
                    _ => (1u64 << 31).to_be_bytes(),
                };
                let n = if below(rng, 2) == 0 { 4 } else { 8 };
                for (k, b) in v.iter().take(n).enumerate() {
                    if at + k < d.len() {
                        d[at + k] = *b;
                    }
                }
            }
            3 => d.truncate(at),
            4 => {
                let end = (at + 1 + below(rng, 64)).min(d.len());
                d.drain(at..end);
            }
            5 if !other.is_empty() => {
                let from = below(rng, other.len());
                let len = below(rng, 256).min(other.len() - from);
                d.splice(at..at, other[from..from + len].iter().copied());
            }
            6 => {
                let end = (at + 1 + below(rng, 16)).min(d.len());
                let chunk = d[at..end].to_vec();
                for _ in 0..below(rng, 2000) {
                    d.splice(at..at, chunk.iter().copied());
                }
            }
            7 if !nesting.is_empty() => {
                let n = 1000 + below(rng, 50_000);
                d.splice(at..at, nesting.iter().cycle().take(n).copied());
            }
            _ => {
                let n = 1 + below(rng, 32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u32() as u8).collect();
                d.splice(at..at, bytes);
            }
        }
    }
    d
}

/// What happened to the inputs of one target.
#[derive(Debug, Default)]
struct Tally {
    inputs: usize,
    accepted: usize,
    errors: usize,
    slowest: Duration,
    failures: Vec<String>,
}

/// Runs `read` on every regression file of `target`, then on `count` mutations of `seeds`.
fn fuzz(
    target: &str,
    seeds: &[Vec<u8>],
    nesting: &[u8],
    count: usize,
    read: &dyn Fn(&[u8]) -> Result<(), String>,
) -> Tally {
    let mut t = Tally::default();
    let mut one = |input: &[u8], label: &str| {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(input)));
        let took = t0.elapsed();
        t.inputs += 1;
        t.slowest = t.slowest.max(took);
        match r {
            Ok(Ok(())) => t.accepted += 1,
            Ok(Err(_)) => t.errors += 1,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                t.failures.push(format!("{label}: panic: {msg}"));
                let dir = std::env::temp_dir().join("adain-fuzz-failures").join(target);
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(format!("{}.bin", t.inputs)), input);
            }
        }
        if took > SLOW {
            t.failures.push(format!("{label}: took {took:?}"));
        }
    };
    let reg = root().join("tests").join("fuzz").join("regressions").join(target);
    if let Ok(entries) = std::fs::read_dir(&reg) {
        for e in entries.flatten() {
            one(&std::fs::read(e.path()).unwrap(), &e.path().display().to_string());
        }
    }
    for s in seeds {
        one(s, "seed");
    }
    let mut rng =
        ChaCha8Rng::seed_from_u64(std::env::var("ADAIN_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1));
    for i in 0..count {
        let (a, b) = (&seeds[i % seeds.len()], &seeds[(i / seeds.len() + 1) % seeds.len()]);
        let input = mutate(&mut rng, a, b, nesting);
        one(&input, &format!("input {i}"));
    }
    t
}

#[cfg(feature = "torch")]
fn seed_files(ext: &[&str]) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = std::fs::read_dir(seeds_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| ext.contains(&e.to_str().unwrap())))
        .collect();
    v.sort();
    v.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Writes `data` to a file with this extension and reads it as a state dict.
#[cfg(feature = "torch")]
fn read_as_file(dir: &Path, ext: &str, data: &[u8]) -> Result<(), String> {
    let p = dir.join(format!("input.{ext}"));
    std::fs::write(&p, data).unwrap();
    weights::read_state_dict(&p).map(|_| ()).map_err(|e| e.to_string())
}

/// Small images of every accepted format, made from a committed photo.
fn image_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let im = image::open(asset("coffee.jpg")).unwrap().resize(48, 40, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    for (name, fmt) in [
        ("png", image::ImageFormat::Png),
        ("jpeg", image::ImageFormat::Jpeg),
        ("webp", image::ImageFormat::WebP),
        ("bmp", image::ImageFormat::Bmp),
        ("tiff", image::ImageFormat::Tiff),
    ] {
        let mut c = std::io::Cursor::new(Vec::new());
        let im =
            if fmt == image::ImageFormat::Jpeg { image::DynamicImage::ImageRgb8(im.to_rgb8()) } else { im.clone() };
        im.write_to(&mut c, fmt).unwrap();
        out.push((name, c.into_inner()));
    }
    out
}

fn peak_rss_mib() -> f64 {
    adain::io::peak_rss_mib().unwrap_or(0.0)
}

#[test]
fn every_reader_survives_hostile_input() {
    let count: usize = std::env::var("ADAIN_FUZZ_INPUTS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let images = image_seeds();
    let mut rows: Vec<(String, Tally)> = Vec::new();
    let mut run = |name: &str, seeds: &[Vec<u8>], nesting: &[u8], read: &dyn Fn(&[u8]) -> Result<(), String>| {
        rows.push((name.to_owned(), fuzz(name, seeds, nesting, count, read)));
    };
    #[cfg(feature = "torch")]
    {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pickles = seed_files(&["pkl", "ckpt"]);
        let zips = seed_files(&["pth"]).into_iter().filter(|b| b.starts_with(b"PK")).collect::<Vec<_>>();
        let legacy = seed_files(&["pth"]).into_iter().filter(|b| !b.starts_with(b"PK")).collect::<Vec<_>>();
        let safetensors = seed_files(&["safetensors"]);
        let tomls: Vec<Vec<u8>> = vec![
            std::fs::read(root().join("models").join("decoder-vgg16.config.toml")).unwrap(),
            adain::train::TrainConfig::default().to_toml().into_bytes(),
        ];
        run("pickle", &pickles, b"]", &|b| weights::pickle::read(b).map(|_| ()).map_err(|e| e.to_string()));
        run("pth-zip", &zips, b"", &|b| read_as_file(d, "pth", b));
        run("pth-legacy", &legacy, b"(", &|b| read_as_file(d, "pth", b));
        run("safetensors", &safetensors, b"{", &|b| read_as_file(d, "safetensors", b));
        run("numpy-ckpt", &pickles, b"}", &|b| read_as_file(d, "ckpt", b));
        run("lpips-alexnet", &pickles, b"]", &|b| {
            weights::lpips::parse_alexnet(Path::new("alexnet.ckpt"), b).map(|_| ()).map_err(|e| e.to_string())
        });
        run("toml-config", &tomls, b"[", &|b| {
            let text = String::from_utf8_lossy(b);
            adain::train::TrainConfig::from_toml_str(&text, "fuzz.toml").map(|_| ()).map_err(|e| e.to_string())
        });
    }
    // The light build's reader (the safetensors crate, float16/bfloat16/float32) and the lite
    // network built from what it read, seeded with the shipped float16 file.
    let lite = vec![std::fs::read(root().join("models").join("lite.safetensors")).unwrap()];
    run("light-weights", &lite, b"{", &|b| {
        adain::weights::plain::lite_from_bytes(b, Path::new("fuzz.safetensors")).map(|_| ()).map_err(|e| e.to_string())
    });
    for (name, seed) in &images {
        run(&format!("image-{name}"), std::slice::from_ref(seed), b"", &|b| {
            adain::data::image::decode(b, 4_000_000).map(|_| ()).map_err(|e| e.to_string())
        });
    }
    println!(
        "{:<16} {:>8} {:>9} {:>8} {:>9} {:>12}",
        "reader", "inputs", "accepted", "errors", "failures", "slowest ms"
    );
    let mut failures = Vec::new();
    for (name, t) in &rows {
        println!(
            "{name:<16} {:>8} {:>9} {:>8} {:>9} {:>12.1}",
            t.inputs,
            t.accepted,
            t.errors,
            t.failures.len(),
            t.slowest.as_secs_f64() * 1e3
        );
        failures.extend(t.failures.iter().map(|f| format!("{name}: {f}")));
    }
    let peak = peak_rss_mib();
    println!("peak memory of the fuzzing process: {peak:.0} MiB");
    assert!(
        failures.is_empty(),
        "{} failures (inputs kept in {}):\n{}",
        failures.len(),
        std::env::temp_dir().join("adain-fuzz-failures").display(),
        failures.join("\n")
    );
    assert!(peak < 3000.0, "peak memory {peak} MiB: some input drove a large allocation");
}

/// The three declared-size attacks of the issue, refused quickly and without allocating.
#[test]
fn declared_sizes_are_checked_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // A safetensors header claiming a 1 TB tensor.
    let header = br#"{"w":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}"#;
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(header);
    st.extend_from_slice(&[0u8; 64]);
    let p = dir.path().join("huge.safetensors");
    std::fs::write(&p, &st).unwrap();
    let t0 = Instant::now();
    // The light build's reader.
    let e = adain::weights::plain::read_store(&p).unwrap_err().to_string();
    assert!(e.contains("huge.safetensors"), "{e}");
    #[cfg(feature = "torch")]
    legacy_sizes(dir.path(), &p);
    // A PNG header declaring 100 000 × 100 000 pixels.
    let e = adain::data::image::decode(&common::server::png_header_only(100_000, 100_000), 100_000_000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("100000×100000"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(peak_rss_mib() < 3000.0);
}

/// The full build's readers: the same safetensors file, and a legacy `.pth` whose storage
/// declares 2^40 elements.
#[cfg(feature = "torch")]
fn legacy_sizes(dir: &Path, huge_safetensors: &Path) {
    let e = weights::read_state_dict(huge_safetensors).unwrap_err().to_string();
    assert!(e.contains("huge.safetensors"), "{e}");
    let seed = std::fs::read(seeds_dir().join("tiny-legacy.pth")).unwrap();
    let legacy_huge = {
        // The storage sizes follow the pickles as 8-byte counts: make the first one 2^40.
        let (_, a) = weights::pickle::read(&seed).unwrap();
        let mut pos = a;
        for _ in 0..4 {
            pos += weights::pickle::read(&seed[pos..]).unwrap().1;
        }
        let mut d = seed.clone();
        d[pos..pos + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        d
    };
    let p = dir.join("huge.pth");
    std::fs::write(&p, &legacy_huge).unwrap();
    let e = weights::read_state_dict(&p).unwrap_err().to_string();
    assert!(e.contains("huge.pth"), "{e}");
}

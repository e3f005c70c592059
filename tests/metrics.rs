//! The quality metrics of `adain eval` against the PyTorch reference on the same weights and
//! images (scripts/reference.py metrics), and their basic properties.
#![cfg(feature = "torch")]

mod common;

use adain::metrics::{self, Lpips};
use adain::weights::fetch;
use common::*;
use tch::{Device, Tensor};

#[test]
fn metrics_match_the_pytorch_reference() {
    let dir = tempfile::tempdir().unwrap();
    let lpips = Lpips::fetch(Device::Cpu, true).unwrap();
    let content = photo("chelsea.jpg", 72).narrow(3, 0, 100);
    let style = photo("starry_night.jpg", 64);
    // A stand-in for a stylized result: the content recoloured and blurred a little.
    let output = (content.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None::<i64>) * 0.8 + 0.15).clamp(0.0, 1.0);
    // Over 65 536 pixels: the colour distance subsamples it on a stride.
    let style_big = photo("starry_night.jpg", 300);
    let sdist = fetch::ensure_sdist(true).unwrap();
    let inputs = [("output", &output), ("content", &content), ("style", &style), ("style_big", &style_big)];
    let theirs = reference_io(dir.path(), &["metrics", "--sdist", s(&sdist)], &inputs);
    let ours_lpips = lpips.distance(&content, &output);
    let e = rel_err(&ours_lpips, &theirs["lpips"]);
    assert!(e < 1e-4, "LPIPS relative error {e}");
    assert!(ours_lpips.double_value(&[0]) > 0.05, "a changed image has a clear LPIPS distance");
    assert_eq!(lpips.distance(&content, &content).double_value(&[0]), 0.0, "LPIPS(x, x) = 0");
    assert_eq!(theirs["lpips_self"].double_value(&[0]), 0.0);
    let color = Tensor::from_slice(&[metrics::color::distance(&output, &style) as f32]);
    let e = rel_err(&color, &theirs["color"]);
    assert!(e < 1e-4, "colour distance relative error {e}");
    let big = Tensor::from_slice(&[metrics::color::distance(&output, &style_big) as f32]);
    let e = rel_err(&big, &theirs["color_big"]);
    assert!(e < 1e-4, "colour distance (subsampled) relative error {e}");
    let alex = Tensor::from_slice(&[metrics::style::alexnet_style_distance(&lpips, &output, &style) as f32]);
    let e = rel_err(&alex, &theirs["alexnet_style"]);
    assert!(e < 1e-4, "AlexNet style distance relative error {e}");
}

#[test]
fn colour_distance_prefers_the_paintings_palette() {
    // The painting itself (another crop of it) is much closer in colour than a photo.
    let starry = photo("starry_night.jpg", 96);
    let (left, right) = (starry.narrow(3, 0, 60), starry.narrow(3, 60, 60));
    let photo = photo("coffee.jpg", 96);
    let same = metrics::color::distance(&left, &right);
    let other = metrics::color::distance(&photo, &right);
    assert!(same * 3.0 < other, "same painting {same}, a photo {other}");
}

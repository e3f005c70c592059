//! What a page needs to stylize in the visitor's browser: onnxruntime-web's WebAssembly
//! runtime (npm `onnxruntime-web`, pinned; `scripts/setup.sh` fetches it into the cache dir and
//! checks its sha512) and the lite network as its two ONNX halves: the style graph
//! (`style` → `style_code`, run once per style) and the frame graph (`content`, `style_code`,
//! `alpha` → `stylized`, run per photo or camera frame); see [`super::onnx_lite`].

use super::{onnx, onnx_lite};
use crate::error::Result;
use crate::weights::fetch;
use crate::weights::lite::LoadedLite;
use std::path::PathBuf;

/// The onnxruntime-web release the page is written for.
pub const ORT_VERSION: &str = "1.31.1";

/// The runtime files the page loads: the ES module, its WebAssembly glue and the SIMD
/// (multi-threaded when the page is cross-origin isolated) WebAssembly build.
pub const RUNTIME_FILES: [&str; 3] = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

/// Where `scripts/setup.sh` puts the runtime: `<cache dir>/onnxruntime-web-VERSION/`.
pub fn runtime_dir() -> PathBuf {
    fetch::home().join(format!("onnxruntime-web-{ORT_VERSION}"))
}

/// The runtime's folder, when every file of it is there.
pub fn runtime() -> Option<PathBuf> {
    let dir = runtime_dir();
    RUNTIME_FILES.iter().all(|f| dir.join(f).is_file()).then_some(dir)
}

/// The content type of a runtime file.
pub fn content_type(file: &str) -> &'static str {
    if file.ends_with(".wasm") { "application/wasm" } else { "text/javascript; charset=utf-8" }
}

/// The graphs the page runs, by file name (`lite-style.onnx`, `lite-frame.onnx`).
pub const GRAPH_FILES: [&str; 2] = ["lite-style.onnx", "lite-frame.onnx"];

/// The lite network's two halves as the page runs them, in the order of [`GRAPH_FILES`];
/// float16 weights and arithmetic with `half` (inputs and outputs float32).
pub fn lite_graphs(lite: &LoadedLite, half: bool) -> Result<[Vec<u8>; 2]> {
    Ok([onnx::encode(&onnx_lite::build_style(lite, half)?), onnx::encode(&onnx_lite::build_frame(lite, half)?)])
}

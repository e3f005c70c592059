//! What a page needs to stylize in the visitor's browser: onnxruntime-web's WebAssembly (and
//! WebGPU) runtime (npm `onnxruntime-web`, pinned; `scripts/setup.sh` fetches it into the cache dir and
//! checks its sha512) and the lite network as its two ONNX halves: the style graph
//! (`style` → `style_code`, run once per style) and the frame graph (`content`, `style_code`,
//! `alpha` → `stylized`, run per photo or camera frame); see [`super::onnx_lite`].

use super::{graph, onnx_lite};
use crate::error::Result;
use crate::model::light::Store;
use crate::weights::shipped;
use std::path::PathBuf;

/// The onnxruntime-web release the page is written for.
pub const ORT_VERSION: &str = "1.31.1";

/// The runtime files the page loads: the ES module, its WebAssembly glue and the SIMD
/// (multi-threaded when the page is cross-origin isolated) WebAssembly build.
pub const RUNTIME_FILES: [&str; 3] = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

/// Where `scripts/setup.sh` puts the runtime: `<cache dir>/onnxruntime-web-VERSION/`.
pub fn runtime_dir() -> PathBuf {
    shipped::home().join(format!("onnxruntime-web-{ORT_VERSION}"))
}

/// The WebGPU build, which the page loads instead when the browser offers a WebGPU adapter:
/// its ES module (with the WebAssembly backend inside, for what WebGPU does not run) and its
/// asyncify WebAssembly build. Optional: without it the page runs WebAssembly everywhere.
pub const WEBGPU_FILES: [&str; 3] =
    ["ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"];

/// The runtime's folder, when every file of [`RUNTIME_FILES`] is there.
pub fn runtime() -> Option<PathBuf> {
    let dir = runtime_dir();
    RUNTIME_FILES.iter().all(|f| dir.join(f).is_file()).then_some(dir)
}

/// The runtime files in `dir` to serve: [`RUNTIME_FILES`], then the [`WEBGPU_FILES`] when all
/// of them are there.
pub fn runtime_files(dir: &std::path::Path) -> Vec<&'static str> {
    let gpu = WEBGPU_FILES.iter().all(|f| dir.join(f).is_file());
    RUNTIME_FILES.into_iter().chain(WEBGPU_FILES.into_iter().filter(|_| gpu)).collect()
}

/// The content type of a runtime file.
pub fn content_type(file: &str) -> &'static str {
    if file.ends_with(".wasm") { "application/wasm" } else { "text/javascript; charset=utf-8" }
}

/// The graphs the page runs, by file name: the two halves with float16 weights and arithmetic
/// (WebAssembly, and WebGPU where the adapter has `shader-f16`), then the same in float32
/// (WebGPU adapters without `shader-f16`, such as SwiftShader's). Inputs and outputs are
/// float32 in all four.
pub const GRAPH_FILES: [&str; 4] = ["lite-style.onnx", "lite-frame.onnx", "lite-style-f32.onnx", "lite-frame-f32.onnx"];

/// The lite network's halves as the page runs them, in the order of [`GRAPH_FILES`].
/// `lite` holds the network's tensors (`NetworkSpec::lite_store`).
pub fn lite_graphs(lite: &Store) -> Result<[Vec<u8>; 4]> {
    let half = |half: bool| -> Result<[Vec<u8>; 2]> {
        Ok([graph::encode(&onnx_lite::build_style(lite, half)?), graph::encode(&onnx_lite::build_frame(lite, half)?)])
    };
    let ([s16, f16], [s32, f32]) = (half(true)?, half(false)?);
    Ok([s16, f16, s32, f32])
}

//! Winograd F(4×4, 3×3) convolution for inference on the CPU, float32 and bfloat16.
//!
//! Every conv of the encoder and decoder is 3×3, stride 1, behind a 1-pixel reflection pad.
//! The direct convolution runs at the machine's GEMM rate (BENCHMARKS.md), so the only way to
//! be faster is fewer multiplications: Winograd's F(4×4, 3×3) needs 36 per 4×4 output tile
//! instead of 144. The transforms (with the reflection padding, bias and ReLU fused into them)
//! and the bfloat16 GEMM are in `csrc/winograd.cpp`; the float32 GEMMs are ATen's.
//!
//! - float32: matches the direct convolution to about 1e-6 relative error
//!   (`winograd_matches_the_direct_convolution`).
//! - bfloat16 (CPUs with AVX-512 BF16 and no AMX, see [`bf16_supported`]): 8e-3 to 9e-3
//!   relative error per layer against the exact convolution, where the direct bfloat16 one has
//!   2.4e-3 (`bf16_winograd_is_close_to_the_exact_convolution`); through the whole network
//!   0.7–3.7 dB lower PSNR than the direct bfloat16 path, which itself is 36–45 dB from float32
//!   (`cargo run --release --example precision_psnr`).
//!
//! Layer by layer speed: `cargo run --release --example winograd_layers [THREADS] [f32|bf16]`.
//! Used where it applies (`applies`): on the CPU, no gradient wanted (inference, validation),
//! layers with at least [`MIN_CHANNELS`] input and output channels. Training and CUDA keep the
//! direct convolution. [`set_enabled`] turns it off process-wide (`adain bench --direct`,
//! `ADAIN_WINOGRAD=0`).

use crate::error::{Error, Result};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tch::{Device, Kind, Tensor};

unsafe extern "C" {
    fn adain_winograd_conv(
        x: *const c_void,
        u: *const c_void,
        bias: *const c_void,
        relu: c_int,
        up: c_int,
        out: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_tensor_version(t: *const c_void) -> i64;
    fn adain_conv_relu(
        x: *const c_void,
        w: *const c_void,
        bias: *const c_void,
        stride: i64,
        out: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_thin_conv(
        x: *const c_void,
        w: *const c_void,
        bias: *const c_void,
        relu: c_int,
        out: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_thin_conv_supported(bf16: c_int) -> c_int;
    fn adain_grad_enabled() -> c_int;
    fn adain_winograd_bf16_supported() -> c_int;
}

/// Layers with fewer input or output channels than this keep the direct convolution: the
/// first (3 → 64, 3 → 16) and last (64 → 3, 16 → 3) of a stylization. From 64 channels on every
/// layer gains (`cargo run --release --example winograd_layers`: 2–3× in bfloat16, 1.8–2.8× in
/// float32), and so do the lite decoder's thinner ones (`winograd_layers 2 f32 lite`: 64 → 32
/// at 256² 1.8–1.9×, 32 → 16 at 512² 1.35× against the direct convolution with its pad).
pub const MIN_CHANNELS: i64 = 16;

static ENABLED: AtomicBool = AtomicBool::new(true);

thread_local! {
    static DIRECT_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Turns the Winograd path on or off for the whole process (on by default).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether the Winograd path may be used on this thread (see [`set_enabled`], [`direct`]).
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed) && !DIRECT_HERE.with(Cell::get)
}

/// Runs `f` with the direct convolution on this thread only, e.g. to compare with another
/// implementation that computes the same way.
pub fn direct<T>(f: impl FnOnce() -> T) -> T {
    let before = DIRECT_HERE.with(|d| d.replace(true));
    let out = f();
    DIRECT_HERE.with(|d| d.set(before));
    out
}

/// Filter transform U = G g Gᵀ: `[K, C, 3, 3]` → `[36, C, K]` (float32), position ξ = 6a + e of
/// the 6×6 transform domain first, laid out for the batched GEMM `V[ξ] · U[ξ]`. Interpolation
/// points 0, ±1, ±2 (the float32 kernel's).
pub(crate) fn transform_filters(w: &Tensor) -> Tensor {
    const G: [[f64; 3]; 6] = [
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];
    transform(w, &G).to_kind(Kind::Float).contiguous()
}

/// Filter transform for the bfloat16 kernel: interpolation points 0, ±1, ½, −2 (better
/// balanced in bfloat16, see `csrc/winograd.cpp`), computed in float64 from `w` `[K, C, 3, 3]`
/// of any type (float32 master weights give the most exact U) and rounded once to bfloat16,
/// packed for the kernel's GEMM as `[36, K/W, C/2, W, 2]`: per position ξ, panels of W = 32
/// output channels (W = 16 where K is not a multiple of 32), each a row of W pairs of input
/// channels (VNNI order).
pub(crate) fn transform_filters_bf16(w: &Tensor) -> Tensor {
    const G: [[f64; 3]; 6] = [
        [1.0, 0.0, 0.0],
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        [-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0],
        [-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0],
        [1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0],
        [0.0, 0.0, 1.0],
    ];
    let (k, c) = (w.size()[0], w.size()[1]);
    let width = if k % 32 == 0 { 32 } else { 16 };
    transform(w, &G)
        .view([36, c / 2, 2, k / width, width])
        .permute([0, 3, 1, 4, 2])
        .to_kind(Kind::BFloat16)
        .contiguous()
}

/// G g Gᵀ in float64: `[K, C, 3, 3]` → `[36, C, K]`.
fn transform(w: &Tensor, g: &[[f64; 3]; 6]) -> Tensor {
    let g = Tensor::from_slice(g.as_flattened()).view([6, 3]).to_device(w.device());
    let (k, c) = (w.size()[0], w.size()[1]);
    Tensor::einsum("ai,kcij,ej->aeck", &[&g, &w.to_kind(Kind::Double), &g], None::<i64>).reshape([36, c, k])
}

/// The filters that convolve `x` `[N, C, h, w]` to give what `w` `[K, C, 3, 3]` gives on `x`
/// upsampled 2× (nearest) with a reflection pad: `[4K, C, 3, 3]` (float64), phase
/// (p, q) = (output row mod 2, output column mod 2) at `K·(2p + q)`, for `x` behind a
/// replication pad. Output row 2y + p reads upsampled rows 2y + p − 1 … 2y + p + 1, which are
/// `x`'s rows y − 1, y, y (p = 0) or y, y, y + 1 (p = 1): the filter rows that read the same
/// row of `x` are summed, and likewise the columns. At the borders the upsampled map's
/// reflection reads the edge row of `x` again, which is what the replication pad gives.
pub fn phase_filters(w: &Tensor) -> Tensor {
    // Row a of a phase's filter (offsets −1, 0, +1 on x) as a sum of the 3×3 filter's rows.
    const ROWS: [[[f64; 3]; 3]; 2] =
        [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0; 3]], [[0.0; 3], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]];
    let m = |p: usize| Tensor::from_slice(ROWS[p].as_flattened()).view([3, 3]).to_device(w.device());
    let w = w.to_kind(Kind::Double);
    let phases: Vec<Tensor> = (0..4)
        .map(|phase| Tensor::einsum("ai,kcij,bj->kcab", &[&m(phase / 2), &w, &m(phase % 2)], None::<i64>))
        .collect();
    Tensor::cat(&phases, 0)
}

/// A conv's transformed filters, kept until its weights change (an optimiser step bumps their
/// autograd version, so a decoder validated during training is never stale), the input's
/// type does (float32 and bfloat16 use different transforms) or the conv is called for the
/// other of plain and upsampled input (which take different filters, see [`phase_filters`]).
#[derive(Debug, Default)]
pub struct FilterCache {
    /// What U was made for, and U.
    entry: Mutex<Option<(FiltersFor, Tensor)>>,
}

/// The weights' data address and version, the input type, and whether the input is
/// upsampled inside the kernel.
type FiltersFor = (usize, i64, Kind, bool);

impl FilterCache {
    /// U for `w` and inputs of type `kind` (upsampled 2× inside the kernel when `up`),
    /// transformed anew only when any of them changed since the last call.
    pub(crate) fn filters(&self, w: &Tensor, kind: Kind, up: bool) -> Tensor {
        let (ptr, version) = weights_key(w);
        let key = (ptr, version, kind, up);
        let mut entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        match &*entry {
            Some((k, u)) if *k == key => u.shallow_clone(),
            _ => {
                let transform = if kind == Kind::BFloat16 { transform_filters_bf16 } else { transform_filters };
                let u = tch::no_grad(|| if up { transform(&phase_filters(w)) } else { transform(w) });
                *entry = Some((key, u.shallow_clone()));
                u
            }
        }
    }
}

/// Whether this CPU has the bfloat16 Winograd kernel and it pays: AVX-512 BF16 without AMX
/// (with AMX, oneDNN's direct bfloat16 convolution is faster).
pub fn bf16_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    // SAFETY: a CPU-feature query without arguments or shared state.
    *SUPPORTED.get_or_init(|| unsafe { adain_winograd_bf16_supported() } != 0)
}

/// Whether [`conv3x3_reflect`] takes the Winograd path for input `x` `[N, C, H, W]` and
/// weights `w` `[K, C, 3, 3]`.
pub fn applies(x: &Tensor, w: &Tensor) -> bool {
    let size = x.size();
    let ws = w.size();
    let shapes = ws.len() == 4
        && ws[2] == 3
        && ws[3] == 3
        && ws[0] >= MIN_CHANNELS
        && ws[1] >= MIN_CHANNELS
        && size.len() == 4
        && size[2] >= 2
        && size[3] >= 2;
    let kinds = match x.kind() {
        Kind::Float => w.kind() == Kind::Float,
        Kind::BFloat16 => {
            matches!(w.kind(), Kind::Float | Kind::BFloat16) && ws[0] % 16 == 0 && ws[1] % 2 == 0 && bf16_supported()
        }
        _ => false,
    };
    shapes && kinds && inference_here(x, w)
}

/// The identity of weights `w` for caches of tensors made from them: their storage and their
/// autograd version (bumped by every in-place change, e.g. an optimiser step).
pub(crate) fn weights_key(w: &Tensor) -> (usize, i64) {
    // SAFETY: `w` is a live tensor for the whole call; the shim only reads its version counter.
    (w.data_ptr() as usize, unsafe { adain_tensor_version(w.as_ptr() as *const c_void) })
}

/// Whether autograd would record an op on `w` here (grad mode on and `w` wants a gradient):
/// then nothing made from `w` may be cached.
pub(crate) fn records_grad(w: &Tensor) -> bool {
    // SAFETY: reads libtorch's thread-local grad mode; no arguments.
    w.requires_grad() && unsafe { adain_grad_enabled() } != 0
}

/// The inference kernels may run: on, on the CPU, and no gradient wanted for `x` or `w`.
fn inference_here(x: &Tensor, w: &Tensor) -> bool {
    enabled()
        && x.device() == Device::Cpu
        // SAFETY: reads libtorch's thread-local grad mode; no arguments.
        && (unsafe { adain_grad_enabled() } == 0 || !(x.requires_grad() || w.requires_grad()))
}

/// 3×3 convolution of `x` `[N, C, H, W]` behind a 1-pixel reflection pad (output the same
/// size, channels-last), then ReLU when `relu`; Winograd where `applies`, else the direct
/// convolution (also when the kernel reports an error, after a warning).
pub fn conv3x3_reflect(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cache: &FilterCache, relu: bool) -> Tensor {
    conv3x3(x, w, b, cache, relu, false)
}

/// [`conv3x3_reflect`] of `x` upsampled 2× (nearest): `[N, C, H, W]` → `[N, K, 2H, 2W]`, the
/// decoders' upsampling and the conv after it. On the Winograd path the upsampled map is never
/// made: the kernel convolves `x` itself with one filter per phase of the output
/// ([`phase_filters`]), so it transforms a quarter of the tiles and saves a pass over the
/// largest map of the layer.
pub fn conv3x3_reflect_up(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cache: &FilterCache, relu: bool) -> Tensor {
    conv3x3(x, w, b, cache, relu, true)
}

/// Nearest 2× upsampling of `[N, C, H, W]` (what [`conv3x3_reflect_up`] reads without writing).
pub(crate) fn upsample2(x: &Tensor) -> Tensor {
    let s = x.size();
    x.upsample_nearest2d([2 * s[2], 2 * s[3]], 2.0, 2.0)
}

fn conv3x3(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cache: &FilterCache, relu: bool, up: bool) -> Tensor {
    if applies(x, w) {
        match winograd_call(x, w, b, cache, relu, up) {
            Ok(y) => return y,
            Err(e) => tracing::warn!("winograd convolution failed, using the direct one: {e}"),
        }
    }
    if up {
        return conv3x3(&upsample2(x), w, b, cache, relu, false);
    }
    let (w, b) = if w.kind() == x.kind() {
        (w.shallow_clone(), b.map(Tensor::shallow_clone))
    } else {
        (w.to_kind(x.kind()), b.map(|b| b.to_kind(x.kind())))
    };
    let padded = x.reflection_pad2d([1, 1, 1, 1]);
    if relu && fused_relu_applies(&padded, &w) {
        match conv_relu(&padded, &w, b.as_ref()) {
            Ok(y) => return y,
            Err(e) => tracing::warn!("fused convolution + ReLU failed, using the separate ones: {e}"),
        }
    }
    let mut y = padded.conv2d(&w, b.as_ref(), [1, 1], [0, 0], [1, 1], 1);
    if relu { y.relu_() } else { y }
}

/// Most output channels of [`conv3x3_reflect_out`]'s kernel: the RGB of a decoder's last conv.
pub const THIN_MAX_CHANNELS: i64 = 4;

/// A decoder's last conv: [`conv3x3_reflect`] of `x` `[N, C, H, W]` with `w` `[K, C, 3, 3]`,
/// **float32 out** (`[N, K, H, W]`, contiguous) whatever `x`'s type, then ReLU when `relu`.
/// Where it applies (inference on the CPU, K ≤ [`THIN_MAX_CHANNELS`], C a multiple of 16,
/// float32 on a CPU with AVX-512, bfloat16 with AVX-512 BF16) a kernel of `csrc/winograd.cpp`
/// computes it: it turns each input row into planes in cache and vectorises over 16 output
/// pixels, where oneDNN vectorises over the three output channels and idles 13 of 16 lanes, and
/// it writes float32 NCHW directly (bfloat16 products summed in float32, not rounded to
/// bfloat16). Elsewhere the direct convolution, converted to float32.
pub fn conv3x3_reflect_out(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool) -> Tensor {
    if thin_applies(x, w) {
        let bias = b.map(|b| b.to_kind(Kind::Float));
        let pb = bias.as_ref().map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
        // SAFETY: the handles are live tensors for the duration of the call.
        let y = shim_tensor(|out, err| unsafe {
            let (x, w) = (x.as_ptr() as *const c_void, w.as_ptr() as *const c_void);
            adain_thin_conv(x, w, pb, relu as c_int, out, err)
        });
        match y {
            Ok(y) => return y,
            Err(e) => tracing::warn!("thin convolution failed, using the direct one: {e}"),
        }
    }
    conv3x3_reflect(x, w, b, &FilterCache::default(), relu).to_kind(Kind::Float).contiguous()
}

/// Whether [`conv3x3_reflect_out`] takes its kernel for `x` and `w`.
fn thin_applies(x: &Tensor, w: &Tensor) -> bool {
    let (size, ws) = (x.size(), w.size());
    let shapes = ws.len() == 4
        && ws[0] <= THIN_MAX_CHANNELS
        && ws[2] == 3
        && ws[3] == 3
        && size.len() == 4
        && size[1] == ws[1]
        && size[1] % 16 == 0
        && size[2] >= 2
        && size[3] >= 2;
    let bf16 = match x.kind() {
        Kind::Float => 0,
        Kind::BFloat16 => 1,
        _ => return false,
    };
    // SAFETY: a CPU-feature query.
    shapes && inference_here(x, w) && unsafe { adain_thin_conv_supported(bf16) } != 0
}

/// Whether the direct convolution of padded `x` takes oneDNN's fused ReLU: CPU, float32 or
/// bfloat16, no gradient wanted, and the fused path on ([`set_enabled`] and [`direct`] turn
/// it off with the Winograd one, so that `--direct` times ATen's plain convolution).
fn fused_relu_applies(x: &Tensor, w: &Tensor) -> bool {
    matches!(x.kind(), Kind::Float | Kind::BFloat16) && w.kind() == x.kind() && inference_here(x, w)
}

/// `relu(conv2d(x, w, b))`, stride 1, no padding, in one oneDNN call (`csrc/winograd.cpp`).
fn conv_relu(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    conv_relu_strided(x, w, b, 1)
}

fn conv_relu_strided(x: &Tensor, w: &Tensor, b: Option<&Tensor>, stride: i64) -> Result<Tensor> {
    let bias = b.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
    // SAFETY: the handles are live tensors for the duration of the call.
    shim_tensor(|out, err| unsafe {
        adain_conv_relu(x.as_ptr() as *const c_void, w.as_ptr() as *const c_void, bias, stride, out, err)
    })
}

/// `relu(conv2d(pad(x), w, b))` with stride 2 behind a 1-pixel reflection pad (the encoders'
/// downsampling convs), the ReLU fused into oneDNN's convolution where it may be (as in
/// [`conv3x3_reflect`]), else the separate ops; `w` and `b` are cast to `x`'s type.
pub fn conv3x3_reflect_stride2_relu(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    let (w, b) = if w.kind() == x.kind() {
        (w.shallow_clone(), b.map(Tensor::shallow_clone))
    } else {
        (w.to_kind(x.kind()), b.map(|b| b.to_kind(x.kind())))
    };
    let padded = x.reflection_pad2d([1, 1, 1, 1]);
    if fused_relu_applies(&padded, &w) {
        match conv_relu_strided(&padded, &w, b.as_ref(), 2) {
            Ok(y) => return y,
            Err(e) => tracing::warn!("fused convolution + ReLU failed, using the separate ones: {e}"),
        }
    }
    padded.conv2d(&w, b.as_ref(), [2, 2], [0, 0], [1, 1], 1).relu()
}

/// Runs a shim function that returns 0 and a new tensor handle in `out`, or non-zero and a
/// message in `err` (libtorch's, or the kernel's: [`Error::Torch`]); the tensor is owned by the
/// result.
fn shim_tensor(call: impl FnOnce(*mut *mut c_void, *mut *mut c_char) -> c_int) -> Result<Tensor> {
    let mut out: *mut c_void = std::ptr::null_mut();
    let mut err: *mut c_char = std::ptr::null_mut();
    if call(&mut out, &mut err) != 0 {
        // SAFETY: on failure the shim set `err` to a message allocated for the Rust side.
        return Err(Error::Torch(tch::TchError::Torch(unsafe { crate::ffi::take_message(err) })));
    }
    // SAFETY: on success the shim set `out` to a new tensor handle that nothing else owns.
    Ok(unsafe { Tensor::from_ptr(out.cast()) })
}

/// The Winograd kernel of `csrc/winograd.cpp` on float32 or bfloat16 `x` `[N, C, H, W]`
/// (H, W ≥ 2) and weights `w` `[K, C, 3, 3]` of any floating type, whatever `applies` says
/// (for measurements; bfloat16 needs [`bf16_supported`], else the kernel reports an error).
pub fn conv3x3_winograd(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cache: &FilterCache, relu: bool) -> Result<Tensor> {
    winograd_call(x, w, b, cache, relu, false)
}

/// [`conv3x3_winograd`], of `x` upsampled 2× when `up`.
fn winograd_call(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    cache: &FilterCache,
    relu: bool,
    up: bool,
) -> Result<Tensor> {
    let u = cache.filters(w, x.kind(), up);
    let bias = b.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
    // SAFETY: the handles are live tensors for the duration of the call.
    shim_tensor(|out, err| unsafe {
        let (x, u) = (x.as_ptr() as *const c_void, u.as_ptr() as *const c_void);
        adain_winograd_conv(x, u, bias, relu as c_int, up as c_int, out, err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Tensor {
        let y = x.reflection_pad2d([1, 1, 1, 1]).conv2d(w, Some(b), [1, 1], [0, 0], [1, 1], 1);
        if relu { y.relu() } else { y }
    }

    fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
        let d: f64 = (a - b).norm().double_value(&[]);
        d / b.norm().double_value(&[])
    }

    #[test]
    fn winograd_matches_the_direct_convolution() {
        tch::manual_seed(3);
        // Sizes that are and are not multiples of the 4×4 tile (down to the 2-pixel minimum),
        // two images, channels that are and are not multiples of the transforms' 64-channel
        // blocks.
        for &(n, c, k, h, w) in &[(2, 128, 128, 16, 16), (1, 136, 130, 13, 7), (1, 128, 200, 2, 5), (1, 32, 16, 9, 14)]
        {
            let x = Tensor::randn([n, c, h, w], (Kind::Float, Device::Cpu));
            let wt = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
            let b = Tensor::randn([k], (Kind::Float, Device::Cpu));
            let cache = FilterCache::default();
            for relu in [false, true] {
                let want = direct(&x, &wt, &b, relu);
                let got = tch::no_grad(|| {
                    assert!(applies(&x, &wt));
                    conv3x3_reflect(&x, &wt, Some(&b), &cache, relu)
                });
                assert_eq!(got.size(), want.size());
                let e = rel_err(&got, &want);
                assert!(e < 1e-5, "{n}×{c}→{k} at {h}×{w}, relu {relu}: relative error {e}");
            }
        }
    }

    /// The phase filters on `x` give what the filters give on `x` upsampled (float64, every
    /// filter and input exactly): the identity behind [`conv3x3_reflect_up`].
    #[test]
    fn phase_filters_convolve_as_the_upsampled_map() {
        tch::manual_seed(11);
        let opts = (Kind::Double, Device::Cpu);
        let (x, w) = (Tensor::randn([2, 5, 4, 7], opts), Tensor::randn([3, 5, 3, 3], opts));
        let want = upsample2(&x).reflection_pad2d([1, 1, 1, 1]).conv2d(&w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
        let all =
            x.replication_pad2d([1, 1, 1, 1]).conv2d(&phase_filters(&w), None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
        // [N, 4·K, h, w] (phase-major) → [N, K, 2h, 2w].
        let got = all.view([2, 2, 2, 3, 4, 7]).permute([0, 3, 4, 1, 5, 2]).reshape([2, 3, 8, 14]);
        let e = rel_err(&got, &want);
        assert!(e < 1e-12, "relative error {e}");
    }

    /// The upsampled convolution of the kernel gives the direct convolution of the upsampled
    /// map, float32 and (where the CPU has it) bfloat16, on sides that are and are not
    /// multiples of the tile, down to one pixel; where Winograd does not apply (3 output
    /// channels) the fallback upsamples itself.
    #[test]
    fn upsampling_inside_the_kernel_matches_upsampling_first() {
        tch::manual_seed(13);
        let mut kinds = vec![Kind::Float];
        if bf16_supported() {
            kinds.push(Kind::BFloat16);
        }
        for kind in kinds {
            for &(c, k, h, w) in &[(64, 32, 7, 10), (32, 16, 8, 8), (16, 3, 5, 6), (32, 16, 1, 3), (16, 16, 9, 1)] {
                let x = Tensor::randn([1, c, h, w], (Kind::Float, Device::Cpu)).relu().to_kind(kind);
                let wt = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
                let b = Tensor::randn([k], (Kind::Float, Device::Cpu)) * 0.1;
                let cache = FilterCache::default();
                let got = tch::no_grad(|| conv3x3_reflect_up(&x, &wt, Some(&b), &cache, true));
                let want = direct(&upsample2(&x.to_kind(Kind::Float)), &wt, &b, true);
                assert_eq!(got.size(), vec![1, k, 2 * h, 2 * w]);
                assert_eq!(got.kind(), kind);
                // The Winograd kernel's own bounds (see the tests above); a phase or a pixel
                // out of place would be of order 1.
                let e = rel_err(&got.to_kind(Kind::Float), &want);
                let bound = if kind == Kind::Float { 1e-5 } else { 2e-2 };
                assert!(e < bound, "{kind:?} {c}→{k} at {h}×{w} upsampled: relative error {e}");
            }
        }
    }

    /// The last conv's function gives the direct convolution's result in float32, through the
    /// kernel (float32 where the CPU has AVX-512, bfloat16 where it has AVX-512 BF16) or
    /// oneDNN: 1 to 4 output channels, 16 to 64 input channels, sides down to 2, a batch of
    /// two, with and without bias and ReLU; rows wider than the kernel's strips of 256 columns
    /// and taller than its bands of 32 rows, and runs of 32 pixels and more, which take its
    /// vector transpose.
    #[test]
    fn the_thin_kernel_matches_the_direct_convolution() {
        tch::manual_seed(17);
        for kind in [Kind::Float, Kind::BFloat16] {
            for &(n, c, k, h, w, relu, bias) in &[
                (1, 16, 3, 19, 23, false, true),
                (2, 64, 4, 6, 5, true, true),
                (1, 16, 1, 2, 2, false, false),
                (1, 32, 3, 9, 2, true, false),
                (1, 16, 3, 37, 300, false, true),
                (1, 64, 2, 5, 67, true, true),
            ] {
                let x = crate::model::style_transfer::channels_last(
                    &Tensor::randn([n, c, h, w], (Kind::Float, Device::Cpu)).relu().to_kind(kind),
                );
                let wt = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
                let b = Tensor::randn([k], (Kind::Float, Device::Cpu));
                let b = bias.then_some(&b);
                let (x32, w32) = (x.to_kind(Kind::Float), wt.to_kind(kind).to_kind(Kind::Float));
                let y = x32.reflection_pad2d([1, 1, 1, 1]).conv2d(&w32, b, [1, 1], [0, 0], [1, 1], 1);
                let want = if relu { y.relu() } else { y };
                let got = tch::no_grad(|| conv3x3_reflect_out(&x, &wt, b, relu));
                assert_eq!((got.kind(), got.size()), (Kind::Float, want.size()));
                assert!(got.is_contiguous());
                // The kernel: the same products summed in another order (bfloat16 ones too,
                // summed in float32). oneDNN's bfloat16 convolution, where the kernel does not
                // run, rounds its output to bfloat16 (2⁻⁹ relative at most).
                let e = rel_err(&got, &want);
                let bound = if tch::no_grad(|| thin_applies(&x, &wt)) { 1e-5 } else { 4e-3 };
                assert!(e < bound, "{kind:?} {n}×{c}→{k} at {h}×{w}: relative error {e}");
            }
        }
        let x = Tensor::randn([1, 16, 4, 4], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([3, 16, 3, 3], (Kind::Float, Device::Cpu));
        // SAFETY: CPU-feature queries.
        let (f32_here, bf16_here) = unsafe { (adain_thin_conv_supported(0) != 0, adain_thin_conv_supported(1) != 0) };
        assert_eq!(tch::no_grad(|| thin_applies(&x, &w)), f32_here, "float32 wherever the CPU has AVX-512");
        let xb = x.to_kind(Kind::BFloat16);
        assert_eq!(tch::no_grad(|| thin_applies(&xb, &w)), bf16_here, "bfloat16 wherever it has AVX-512 BF16");
        assert!(!thin_applies(&x, &w.set_requires_grad(true)), "not where a gradient is wanted");
    }

    /// Layers below the Winograd threshold take oneDNN's convolution with the ReLU fused in:
    /// the same result as the convolution then the ReLU (float32 and bfloat16, channels-last
    /// and not), and the separate ops where a gradient is wanted.
    #[test]
    fn the_fused_relu_matches_the_separate_one() {
        tch::manual_seed(7);
        for kind in [Kind::Float, Kind::BFloat16] {
            for (c, k, channels_last) in [(3, 16, false), (8, 32, true), (32, 3, true)] {
                let x = Tensor::randn([1, c, 19, 12], (Kind::Float, Device::Cpu)).to_kind(kind);
                let x = if channels_last { crate::model::style_transfer::channels_last(&x) } else { x };
                let wt =
                    (Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt())).to_kind(kind);
                let b = Tensor::randn([k], (Kind::Float, Device::Cpu)).to_kind(kind);
                let padded = x.reflection_pad2d([1, 1, 1, 1]);
                let fused = tch::no_grad(|| {
                    assert!(fused_relu_applies(&padded, &wt) && !applies(&x, &wt));
                    conv_relu(&padded, &wt, Some(&b)).unwrap()
                });
                let want = direct(&x, &wt, &b, true);
                assert_eq!(fused.size(), want.size());
                let e = rel_err(&fused.to_kind(Kind::Float), &want.to_kind(Kind::Float));
                let bound = if kind == Kind::Float { 1e-6 } else { 1e-2 };
                assert!(e < bound, "{kind:?} {c}→{k}: relative error {e}");
                assert!(fused.min().double_value(&[]) >= 0.0);
                let through = tch::no_grad(|| conv3x3_reflect(&x, &wt, Some(&b), &FilterCache::default(), true));
                assert!(rel_err(&through.to_kind(Kind::Float), &fused.to_kind(Kind::Float)) < 1e-6);
                let strided = tch::no_grad(|| conv3x3_reflect_stride2_relu(&x, &wt, Some(&b)));
                let want = padded.conv2d(&wt, Some(&b), [2, 2], [0, 0], [1, 1], 1).relu();
                assert_eq!(strided.size(), want.size());
                let e = rel_err(&strided.to_kind(Kind::Float), &want.to_kind(Kind::Float));
                assert!(e < bound, "{kind:?} {c}→{k} stride 2: relative error {e}");
            }
        }
        let w = Tensor::randn([8, 3, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        assert!(!fused_relu_applies(&Tensor::zeros([1, 3, 6, 6], (Kind::Float, Device::Cpu)), &w));
    }

    #[test]
    fn bf16_winograd_is_close_to_the_exact_convolution() {
        if !bf16_supported() {
            eprintln!("skipped: this CPU has no AVX-512 BF16, or has AMX (the bfloat16 Winograd kernel is off)");
            return;
        }
        tch::manual_seed(5);
        // Post-ReLU activations as the encoder and decoder see them; odd sizes and images
        // smaller than a tile; 64-channel GEMMs and channels beyond one 64-channel block.
        // The lite decoder's 32 → 16 takes panels of 16 output channels, 64 → 48 one of each.
        for &(n, c, k, h, w) in
            &[(2, 128, 128, 16, 16), (1, 192, 96, 13, 7), (1, 64, 64, 2, 5), (1, 32, 16, 21, 19), (1, 64, 48, 9, 12)]
        {
            let x = Tensor::randn([n, c, h, w], (Kind::Float, Device::Cpu)).relu().to_kind(Kind::BFloat16);
            let wt = Tensor::randn([k, c, 3, 3], (Kind::Float, Device::Cpu)) / (3.0 * (c as f64).sqrt());
            let b = Tensor::randn([k], (Kind::Float, Device::Cpu)) * 0.1;
            let cache = FilterCache::default();
            let exact = direct(&x.to_kind(Kind::Float), &wt, &b, true);
            let got = tch::no_grad(|| {
                assert!(applies(&x, &wt));
                conv3x3_reflect(&x, &wt, Some(&b), &cache, true)
            });
            assert_eq!((got.kind(), got.size()), (Kind::BFloat16, exact.size()));
            let bf16_direct = direct(&x, &wt.to_kind(Kind::BFloat16), &b.to_kind(Kind::BFloat16), true);
            let (e, e_direct) =
                (rel_err(&got.to_kind(Kind::Float), &exact), rel_err(&bf16_direct.to_kind(Kind::Float), &exact));
            // Measured on these small maps: 5.8e-3 to 1.4e-2 (8e-3 to 9e-3 at 512²) against the
            // direct bfloat16 convolution's 2.3e-3 to 2.4e-3, alike for panels of 32 and 16
            // output channels; a wrong transform or packing gives errors of order 1.
            assert!(e < 2e-2 && e < 8.0 * e_direct, "{n}×{c}→{k} at {h}×{w}: {e:.1e} (direct bfloat16 {e_direct:.1e})");
        }
    }

    #[test]
    fn cached_filters_follow_weight_updates() {
        let x = Tensor::randn([1, 128, 8, 8], (Kind::Float, Device::Cpu));
        let mut w = Tensor::randn([128, 128, 3, 3], (Kind::Float, Device::Cpu)) / 34.0;
        let b = Tensor::zeros([128], (Kind::Float, Device::Cpu));
        let cache = FilterCache::default();
        tch::no_grad(|| {
            assert!(applies(&x, &w));
            let _ = conv3x3_reflect(&x, &w, Some(&b), &cache, false);
            // In place, as an optimiser step changes weights: same storage, new version.
            let _ = w.g_mul_scalar_(-2.0);
            let got = conv3x3_reflect(&x, &w, Some(&b), &cache, false);
            assert!(rel_err(&got, &direct(&x, &w, &b, false)) < 1e-5);
        });
    }

    #[test]
    fn training_keeps_the_direct_convolution() {
        let x = Tensor::randn([1, 128, 8, 8], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([128, 128, 3, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        assert!(!applies(&x, &w), "weights that want gradients");
        assert!(tch::no_grad(|| applies(&x, &w)), "the same weights under no_grad");
        assert_eq!(
            applies(&x.to_kind(Kind::BFloat16), &w.to_kind(Kind::BFloat16).detach()),
            bf16_supported(),
            "bfloat16 where the CPU has the kernel"
        );
        assert!(!tch::no_grad(|| super::direct(|| applies(&x, &w.detach()))), "inside `direct`");
        assert!(tch::no_grad(|| applies(&x, &w.detach())), "after `direct`");
        let thin = Tensor::randn([3, 128, 3, 3], (Kind::Float, Device::Cpu));
        assert!(!tch::no_grad(|| applies(&x, &thin)), "3 output channels");
    }
}

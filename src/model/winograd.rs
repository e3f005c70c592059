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
        out: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_tensor_version(t: *const c_void) -> i64;
    fn adain_conv_relu(
        x: *const c_void,
        w: *const c_void,
        bias: *const c_void,
        out: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    fn adain_grad_enabled() -> c_int;
    fn adain_winograd_bf16_supported() -> c_int;
}

/// Layers with fewer input or output channels than this keep the direct convolution: the
/// first (3 → 64) and last (64 → 3) of a stylization. From 64 channels on every layer gains
/// (`cargo run --release --example winograd_layers`: 2–3× in bfloat16, 1.8–2.8× in float32).
pub const MIN_CHANNELS: i64 = 64;

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
/// packed for the kernel's GEMM as `[36, K/32, C/2, 32, 2]`: per position ξ, panels of 32
/// output channels, each a row of 32 pairs of input channels (VNNI order).
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
    transform(w, &G).view([36, c / 2, 2, k / 32, 32]).permute([0, 3, 1, 4, 2]).to_kind(Kind::BFloat16).contiguous()
}

/// G g Gᵀ in float64: `[K, C, 3, 3]` → `[36, C, K]`.
fn transform(w: &Tensor, g: &[[f64; 3]; 6]) -> Tensor {
    let g = Tensor::from_slice(g.as_flattened()).view([6, 3]).to_device(w.device());
    let (k, c) = (w.size()[0], w.size()[1]);
    Tensor::einsum("ai,kcij,ej->aeck", &[&g, &w.to_kind(Kind::Double), &g], None::<i64>).reshape([36, c, k])
}

/// A conv's transformed filters, kept until its weights change (an optimiser step bumps their
/// autograd version, so a decoder validated during training is never stale) or the input's
/// type does (float32 and bfloat16 use different transforms).
#[derive(Debug, Default)]
pub struct FilterCache {
    /// (data address, version, input type, U) of the weights the transform was made from.
    entry: Mutex<Option<(usize, i64, Kind, Tensor)>>,
}

impl FilterCache {
    /// U for `w` and inputs of type `kind`, transformed anew only when either changed since
    /// the last call.
    pub(crate) fn filters(&self, w: &Tensor, kind: Kind) -> Tensor {
        // SAFETY: `w` is a live tensor for the whole call, and the shim only reads its
        // version counter through the handle.
        let key = (w.data_ptr() as usize, unsafe { adain_tensor_version(w.as_ptr() as *const c_void) }, kind);
        let mut entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        match &*entry {
            Some((ptr, version, k, u)) if (*ptr, *version, *k) == key => u.shallow_clone(),
            _ => {
                let transform = if kind == Kind::BFloat16 { transform_filters_bf16 } else { transform_filters };
                let u = tch::no_grad(|| transform(w));
                *entry = Some((key.0, key.1, key.2, u.shallow_clone()));
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
pub(crate) fn applies(x: &Tensor, w: &Tensor) -> bool {
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
            matches!(w.kind(), Kind::Float | Kind::BFloat16) && ws[0] % 32 == 0 && ws[1] % 2 == 0 && bf16_supported()
        }
        _ => false,
    };
    shapes && kinds && inference_here(x, w)
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
    if applies(x, w) {
        match conv3x3_winograd(x, w, b, cache, relu) {
            Ok(y) => return y,
            Err(e) => tracing::warn!("winograd convolution failed, using the direct one: {e}"),
        }
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

/// Whether the direct convolution of padded `x` takes oneDNN's fused ReLU: CPU, float32 or
/// bfloat16, no gradient wanted, and the fused path on ([`set_enabled`] and [`direct`] turn
/// it off with the Winograd one, so that `--direct` times ATen's plain convolution).
fn fused_relu_applies(x: &Tensor, w: &Tensor) -> bool {
    matches!(x.kind(), Kind::Float | Kind::BFloat16) && w.kind() == x.kind() && inference_here(x, w)
}

/// `relu(conv2d(x, w, b))`, stride 1, no padding, in one oneDNN call (`csrc/winograd.cpp`).
fn conv_relu(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let bias = b.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
    // SAFETY: the handles are live tensors for the duration of the call.
    shim_tensor(|out, err| unsafe {
        adain_conv_relu(x.as_ptr() as *const c_void, w.as_ptr() as *const c_void, bias, out, err)
    })
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
    let u = cache.filters(w, x.kind());
    let bias = b.map_or(std::ptr::null(), |b| b.as_ptr() as *const c_void);
    // SAFETY: the handles are live tensors for the duration of the call.
    shim_tensor(|out, err| unsafe {
        adain_winograd_conv(x.as_ptr() as *const c_void, u.as_ptr() as *const c_void, bias, relu as c_int, out, err)
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
        for &(n, c, k, h, w) in &[(2, 128, 128, 16, 16), (1, 136, 130, 13, 7), (1, 128, 200, 2, 5)] {
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

    /// Layers below the Winograd threshold take oneDNN's convolution with the ReLU fused in:
    /// the same result as the convolution then the ReLU (float32 and bfloat16, channels-last
    /// and not), and the separate ops where a gradient is wanted.
    #[test]
    fn the_fused_relu_matches_the_separate_one() {
        tch::manual_seed(7);
        for kind in [Kind::Float, Kind::BFloat16] {
            for (c, k, channels_last) in [(3, 16, false), (16, 32, true), (32, 3, true)] {
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
        for &(n, c, k, h, w) in &[(2, 128, 128, 16, 16), (1, 192, 96, 13, 7), (1, 64, 64, 2, 5)] {
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
            // Measured: 8e-3 to 9e-3 against the direct bfloat16 convolution's 2.4e-3; a wrong
            // transform or packing gives errors of order 1.
            assert!(
                e < 1.5e-2 && e < 6.0 * e_direct,
                "{n}×{c}→{k} at {h}×{w}: {e:.1e} (direct bfloat16 {e_direct:.1e})"
            );
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

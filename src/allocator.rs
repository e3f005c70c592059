//! The process allocator's policy for frame-sized buffers.
//!
//! glibc's `malloc` serves every block above 32 MiB with a fresh `mmap` and returns it to the
//! kernel on `free`, whatever it has learnt: at 512² a float32 map of 32 channels behind a
//! 1-pixel pad (`[1, 32, 514, 514]`, 33.8 MB) is such a block, and the lite network makes two
//! of them per frame (the upsampled map and its pad). Each is faulted in page by page on
//! first touch, every frame again: 10–12 ms per buffer on this project's machine, against
//! 1.4–2 ms for the same op on memory that is reused (`cargo run --release --example
//! lite_ops`). libtorch's CPU tensors and the light kernels' maps both come from `malloc`,
//! so one setting serves both runtimes.

/// Blocks up to this size are carved from the heap and reused after `free` (glibc: mmap
/// threshold, default 128 KiB rising to 32 MiB as blocks are freed).
pub const REUSE_UP_TO: usize = 1 << 30;

/// Freed memory at the top of the heap kept for the next frame instead of given back to the
/// kernel (glibc: trim threshold).
pub const KEEP_FREE: usize = 256 << 20;

/// Lets `malloc` reuse blocks of up to [`REUSE_UP_TO`] and keep up to [`KEEP_FREE`] of freed
/// memory, so that a frame's large buffers are recycled instead of mapped afresh each frame.
/// The cost is resident memory that stays at its peak between frames. A front end calls it
/// once at start (the `adain` binary does); elsewhere than glibc it does nothing. The same
/// policy for any process, including PyTorch's: `MALLOC_MMAP_THRESHOLD_=1073741824
/// MALLOC_TRIM_THRESHOLD_=268435456`. Returns whether the allocator took both settings.
pub fn reuse_large_blocks() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of glibc's allocator parameters; it is safe to call at
    // any time, and a value it refuses leaves the parameter as it was.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, REUSE_UP_TO as libc::c_int) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_FREE as libc::c_int) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// The same policy for another process through glibc's environment variables (read when it
/// starts): what `adain bench` gives the PyTorch and onnxruntime processes it times, so that
/// they recycle their buffers as adain does.
pub fn environment() -> [(&'static str, String); 2] {
    [("MALLOC_MMAP_THRESHOLD_", REUSE_UP_TO.to_string()), ("MALLOC_TRIM_THRESHOLD_", KEEP_FREE.to_string())]
}

#[cfg(test)]
mod tests {
    /// glibc takes both settings (it refuses an mmap threshold it deems too large, which
    /// would leave frames faulting their buffers in again).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::reuse_large_blocks());
    }
}

//! In the full build (feature `torch`, the default) three jobs; the light build
//! (`--no-default-features`) has no libtorch and nothing to do here:
//! - records where libtorch is in the binaries (an absolute rpath), so that an `adain` copied
//!   out of `target/` (e.g. by `cargo install --path .`) still finds the libtorch of the
//!   checkout's `.venv` that it was built against. `.cargo/config.toml` sets `LIBTORCH`
//!   (absolute, resolved relative to the checkout) and also adds `$ORIGIN`-relative rpaths for
//!   `target/*/`;
//! - compiles `csrc/dist.cpp`, the C interface to libtorch's torch.distributed process groups
//!   (src/dist/), against the headers of that same libtorch, the way `torch-sys` compiles its
//!   own wrapper. Gloo (CPU) always; NCCL (CUDA) too when the CUDA headers are installed next
//!   to torch (scripts/requirements.txt installs them);
//! - compiles `csrc/winograd.cpp`, the Winograd convolution of the inference path
//!   (src/model/winograd.rs), optimised even in debug builds (its loops are the point), with
//!   OpenMP against libtorch's own libgomp.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    println!("cargo:rerun-if-changed=csrc");
    let dir = PathBuf::from(std::env::var("LIBTORCH").expect(
        "LIBTORCH is not set: build from the checkout (its .cargo/config.toml points it at .venv/libtorch; run scripts/setup.sh first)",
    ));
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.join("lib").display());
    compile_dist_shim(&dir);
    compile_winograd(&dir);
}

/// Builds `libadain_winograd.a` from `csrc/winograd.cpp` (ATen only, no distributed headers),
/// with OpenMP: `at::parallel_for` is a header template that runs its range serially unless
/// the caller is compiled with `-fopenmp`, so without it the kernel's transforms use one core.
/// It links the libgomp that libtorch itself loads (one OpenMP runtime in the process); a
/// libtorch without one gets a serial kernel and a build warning.
fn compile_winograd(libtorch: &Path) {
    let include = libtorch.join("include");
    let gomp = std::fs::read_dir(libtorch.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("libgomp") && n.contains(".so"));
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("csrc/winograd.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .opt_level(3)
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .warnings(false);
    if gomp.is_some() {
        build.flag("-fopenmp");
    } else {
        println!("cargo:warning=no libgomp next to libtorch: the Winograd kernel runs on one thread");
    }
    build.compile("adain_winograd");
    if let Some(name) = gomp {
        println!("cargo:rustc-link-search=native={}", libtorch.join("lib").display());
        println!("cargo:rustc-link-lib=dylib:+verbatim={name}");
    }
}

/// Builds `libadain_dist.a` from `csrc/dist.cpp`.
fn compile_dist_shim(libtorch: &Path) {
    let include = libtorch.join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("csrc/dist.cpp")
        .include("csrc/gloo-opaque")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .define("USE_DISTRIBUTED", None)
        .define("USE_C10D", None)
        .define("USE_C10D_GLOO", None)
        .warnings(false);
    if let Some(cuda_includes) = nccl_includes(libtorch) {
        for d in cuda_includes {
            build.include(d);
        }
        build.define("USE_CUDA", None).define("USE_C10D_NCCL", None).define("ADAIN_WITH_NCCL", None);
    } else {
        println!("cargo:warning=adain: building the distributed shim without NCCL (no CUDA headers next to libtorch)");
    }
    build.compile("adain_dist");
}

/// The include folders the NCCL process group needs, when all are present: nccl.h, the CUDA
/// runtime headers (with their `crt/`) and CCCL's `nv/target`, from the `nvidia-*` wheels
/// beside torch; and libtorch_cuda, which holds ProcessGroupNCCL.
fn nccl_includes(libtorch: &Path) -> Option<Vec<PathBuf>> {
    let torch = libtorch.canonicalize().ok()?;
    let nvidia = torch.parent()?.join("nvidia");
    let cuda = std::fs::read_dir(&nvidia)
        .ok()?
        .flatten()
        .map(|e| e.path().join("include"))
        .find(|p| p.join("cuda_runtime_api.h").exists())?;
    let dirs = vec![nvidia.join("nccl/include"), cuda.clone(), cuda.join("cccl")];
    let present = torch.join("lib/libtorch_cuda.so").exists()
        && dirs[0].join("nccl.h").exists()
        && cuda.join("crt/host_config.h").exists()
        && dirs[2].join("nv/target").exists();
    present.then_some(dirs)
}

//! Records where libtorch is in the binaries (an absolute rpath), so that an `adain` copied
//! out of `target/` (e.g. by `cargo install --path .`) still finds the libtorch of the checkout's
//! `.venv` that it was built against. `.cargo/config.toml` sets `LIBTORCH` (absolute, resolved
//! relative to the checkout) and also adds `$ORIGIN`-relative rpaths for `target/*/`.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&dir).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}

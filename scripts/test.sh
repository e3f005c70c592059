#!/usr/bin/env bash
# Runs the whole test suite: creates the venv (libtorch + the PyTorch reference) if needed,
# checks formatting, lints and the library's docs, then `cargo test` of the full build and of
# the light build (`--no-default-features`, no libtorch; its own target folder, target/light,
# so that neither build's binary replaces the other's). Extra arguments go to both cargo tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
# A fresh clone compiles everything once: incremental caches would only take disk.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
# The library's documentation: no broken or private links (what a library user reads).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --quiet
cargo test "$@"
# The light build: lints, then its tests (the light binary: no libtorch linked, stylize, video,
# export, refusals; the server, the page and the fuzzed readers with the same tests as the full
# build). Its pictures are checked against libtorch's in the full build's tests/light.rs.
cargo clippy --no-default-features --all-targets --target-dir target/light --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-default-features --target-dir target/light --no-deps --lib --quiet
# The light binary for aarch64 (Debian's cross linker); tests/light.rs runs it under
# qemu-aarch64-static and compares its picture with the x86_64 binary's.
cargo build --no-default-features --target aarch64-unknown-linux-gnu --target-dir target/light --quiet
cargo test --no-default-features --target-dir target/light "$@"

#!/usr/bin/env bash
# Runs the whole test suite: creates the venv (libtorch + the PyTorch reference) if needed,
# checks formatting, lints and the library's docs, then `cargo test`. Extra arguments go to cargo test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
# The library's documentation: no broken or private links (what a library user reads).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --quiet
cargo test "$@"

#!/usr/bin/env bash
# Runs the whole test suite: creates the venv (libtorch + the PyTorch reference) if needed,
# checks formatting and lints, then `cargo test`. Extra arguments go to cargo test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test "$@"

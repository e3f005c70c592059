#!/usr/bin/env bash
# Runs the whole test suite: creates the venv (libtorch + the PyTorch reference) if needed,
# checks formatting and lints, then `cargo test`. Extra arguments go to cargo test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test "$@"

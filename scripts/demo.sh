#!/usr/bin/env bash
# Sets everything up (venv with libtorch, release build, encoder weights) and stylizes the
# committed sample photo with the committed painting: writes output/demo.png.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
cargo build --release --quiet
target/release/adain weights fetch
target/release/adain stylize --content assets/chelsea.jpg --style assets/starry_night.jpg \
  --output output/demo.png "$@"
echo "demo: wrote $root/output/demo.png"

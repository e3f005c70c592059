#!/usr/bin/env bash
# Regenerates the README's images from the committed assets and the shipped decoder:
# docs/grid.jpg (styles × contents) and docs/training-loss.png (copied from the recipe's run).
# Only public assets go into committed images (../shared data never does).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${BIN:-target/release/adain}"
run="${RUN:-runs/default}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/c" "$tmp/s"
cp assets/astronaut.jpg assets/chelsea.jpg assets/coffee.jpg "$tmp/c/"
cp assets/coffee.jpg assets/starry_night.jpg "$tmp/s/"
"$bin" eval -c "$tmp/c" -s "$tmp/s" --size 256 --grid docs/grid.jpg --decoder models/decoder-vgg16.safetensors
if [ -f "$run/adain/loss.png" ]; then
  cp "$run/adain/loss.png" docs/training-loss.png
fi

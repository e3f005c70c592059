#!/usr/bin/env bash
# Live mode through `adain serve` on the lite network (issue 37's target: ≥ 30 frames/s at
# 256² on 2 cores): the light build's server against the full build's (libtorch, float32 and
# bfloat16), both release binaries, alternating, RUNS times (default 3). One client streams
# 640×480 camera JPEGs over the WebSocket, one frame in flight, as the page does
# (tests/serve.rs, live_mode_streams_at_a_measured_rate). Pause anything else running first.
#   ADAIN_LIVE_SECONDS=20 ADAIN_LIVE_SIZE=256 RUNS=3 research/live-light.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
scripts/setup.sh
export ADAIN_LIVE_SECONDS="${ADAIN_LIVE_SECONDS:-20}" ADAIN_LIVE_SIZE="${ADAIN_LIVE_SIZE:-256}"
export ADAIN_LOAD_MODEL=lite ADAIN_LOAD_DECODER="$root/models/lite.safetensors"
cargo build --release --quiet
cargo build --release --quiet --no-default-features --target-dir target/light
cargo test --test serve --no-run --quiet
full="$root/target/release/adain" light="$root/target/light/release/adain"
live() { # label, binary, precision
  local line
  line=$(ADAIN_TEST_BIN="$2" ADAIN_LIVE_PRECISION="$3" cargo test --quiet --test serve \
    live_mode_streams_at_a_measured_rate -- --nocapture 2>&1 | grep -E "^live:")
  echo "$1: ${line#live: }"
}
for run in $(seq "${RUNS:-3}"); do
  echo "run $run"
  live "light build (own kernels, f32)" "$light" f32
  live "full build (libtorch, f32)    " "$full" f32
  live "full build (libtorch, bf16)   " "$full" bf16
done

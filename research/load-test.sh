#!/usr/bin/env bash
# Load test of `adain serve` on loopback (the numbers of BENCHMARKS.md): N clients send
# stylization requests back to back for a fixed time; prints requests/s, p50/p95 latency,
# errors, 503s and the server's peak memory; then live mode's frames/s over the WebSocket.
# Runs the bounded tests of tests/serve.rs longer:
#   ADAIN_LOAD_SECONDS=60 ADAIN_LOAD_CLIENTS=4 ADAIN_LOAD_SIZE=256 research/load-test.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
scripts/setup.sh
export ADAIN_LOAD_SECONDS="${ADAIN_LOAD_SECONDS:-60}" ADAIN_LOAD_CLIENTS="${ADAIN_LOAD_CLIENTS:-4}"
export ADAIN_LOAD_SIZE="${ADAIN_LOAD_SIZE:-256}" ADAIN_LOAD_WORKERS="${ADAIN_LOAD_WORKERS:-1}"
# ADAIN_LOAD_MODEL=lite ADAIN_LOAD_DECODER=models/lite.safetensors: the same with the lite network.
export ADAIN_LOAD_DECODER="${ADAIN_LOAD_DECODER:-$root/models/decoder-vgg16.safetensors}"
export ADAIN_LIVE_SECONDS="${ADAIN_LIVE_SECONDS:-20}" ADAIN_LIVE_SIZE="${ADAIN_LIVE_SIZE:-256}"
# One test at a time: the two would share the CPU.
cargo test --test serve load_test_serves_without_errors -- --nocapture 2>&1 | grep -E "^load:|test result"
cargo test --test serve live_mode_streams_at_a_measured_rate -- --nocapture 2>&1 | grep -E "^live:|test result"

#!/usr/bin/env bash
# The benchmark runs behind BENCHMARKS.md: adain against PyTorch eager, channels-last and
# torch.compile (inductor), float32 and bfloat16, each case in fresh processes, alternating.
# Then the warm-up check: the headline case again with 10 warm-up iterations instead of 3.
# Stop other work on the machine first (its speed is shared).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
threads="${THREADS:-2}"
# bfloat16 and float32 (Winograd convolutions), also against adain's own direct convolution
# (--direct).
"$bin" bench --cases stylize-256-cached-bf16 stylize-512-cached-bf16 stylize-1024-cached-bf16 stylize-512-bf16 --direct \
  --iters 5 --warmup 3 --rounds 2 --threads "$threads" --device cpu
"$bin" bench --cases stylize-256-cached stylize-512-cached stylize-1024-cached stylize-512 --direct \
  --iters 5 --warmup 3 --rounds 2 --threads "$threads" --device cpu
# Training steps take seconds each (and torch.compile of the training graph a minute): fewer.
"$bin" bench --cases train-256-b8-bf16 train-256-b8 --iters 3 --warmup 2 --rounds 1 --threads "$threads" --device cpu
# The Winograd convolution layer by layer, and how exact it is in float32 and bfloat16.
cargo run --release --quiet --example winograd_layers -- "$threads" f32
cargo run --release --quiet --example winograd_layers -- "$threads" bf16
.venv/bin/python research/winograd_probe.py
cargo run --release --quiet --example precision_psnr -- 256 512
for warmup in 3 10; do
  "$bin" bench --cases stylize-512-cached-bf16 --iters 5 --warmup "$warmup" --rounds 1 --threads "$threads" --device cpu
done
.venv/bin/python - <<'PY'
import time, torch
torch.set_num_threads(2)
for dt in (torch.float32, torch.bfloat16):
    a, b = torch.randn(4096, 4096).to(dt), torch.randn(4096, 4096).to(dt)
    for _ in range(2):
        a @ b
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
    print(f"peak reference: {dt} GEMM 4096³, 2 threads: {2 * 4096**3 / sorted(ts)[2] / 1e9:.0f} GFLOP/s")
PY

#!/usr/bin/env bash
# Data-parallel step times: `adain train` as 1 process with the global batch, and as N ranks
# (--nproc N, torch.distributed Gloo over loopback) with 1/N of it each, alternating, in one
# run. Prints the median step time and throughput of each, the all-reduce time per step (what
# the ranks spend averaging gradients), and the bytes all-reduced per step.
#   research/bench-dp.sh                       # 1 vs 2 ranks, global batch 8, 256² crops
#   NPROC="1 2 4" BATCH=16 STEPS=12 ROUNDS=3 research/bench-dp.sh
# Data: ../shared/data when present, else the committed assets.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
nprocs=(${NPROC:-1 2})
batch="${BATCH:-8}"
steps="${STEPS:-10}"
rounds="${ROUNDS:-2}"
crop="${CROP:-256}"
precision="${PRECISION:-auto}"
device="${DEVICE:-cpu}"   # cuda: rank k on GPU k (NCCL), so N ranks need N GPUs
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
data="${DATA:-../shared/data}"
if [ ! -d "$data/content" ]; then
  data="$work/data"
  mkdir -p "$data/content" "$data/style"
  cp assets/*.jpg "$data/content/" && cp assets/*.jpg "$data/style/"
fi
for n in "${nprocs[@]}"; do
  [ $((batch % n)) = 0 ] || { echo "global batch $batch is not a multiple of $n ranks" >&2; exit 1; }
done
for r in $(seq 1 "$rounds"); do
  for n in "${nprocs[@]}"; do
    args=(train --run-dir "$work/r$r-n$n" --content "$data/content" --style "$data/style" --steps "$steps"
          --batch-size $((batch / n)) --crop-size "$crop" --load-size "$crop" --val-count 0 --image-every 0
          --checkpoint-every 100000 --log-every 1 --precision "$precision" --quiet --device "$device")
    [ "$n" -gt 1 ] && args+=(--nproc "$n")
    echo "round $r: $n rank(s)" >&2
    "$bin" "${args[@]}" > /dev/null
  done
done
"$root/.venv/bin/python" - "$work" "$batch" "$steps" "$rounds" "$(nproc)" "${nprocs[@]}" <<'PY'
import csv, math, statistics, sys
from safetensors import safe_open
work, batch, steps, rounds, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
nprocs = [int(n) for n in sys.argv[6:]]
with safe_open("models/decoder-vgg16.safetensors", "np") as f:
    params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
print(f"global batch {batch}, {steps} steps per run (the first 2 left out), {rounds} rounds alternating, {cores} cores")
print(f"decoder: {params:,} parameters: {params * 4 / 2**20:.1f} MiB of float32 gradients all-reduced per step\n")
print("| ranks | batch per rank | step time (s) | images/s | all-reduce per step (s) | speed-up |")
print("|---:|---:|---:|---:|---:|---:|")
base = None
for n in nprocs:
    ips, ar = [], []
    for r in range(1, rounds + 1):
        rows = list(csv.DictReader(open(f"{work}/r{r}-n{n}/metrics.csv")))[2:]
        ips += [float(x["images_per_s"]) for x in rows]
        ar += [float(x["allreduce_s"]) for x in rows]
    m = statistics.median(ips)
    base = base or m
    print(f"| {n} | {batch // n} | {batch / m:.3f} | {m:.2f} | {statistics.median(ar):.4f} | {m / base:.2f}× |")
PY

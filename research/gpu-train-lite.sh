#!/usr/bin/env bash
# Continues the lite network's `adain train` run on a lent GPU machine (one CUDA device, its own
# PyTorch 2.11 install, no network), with the same binary and recipe as the CPU run.
#
#   research/gpu-train-lite.sh pack RUN_DIR   # here: fills gpu/ (ignored) with what travels
#   research/gpu-train-lite.sh run SECONDS    # there: trains for SECONDS, leaves results in $OUT
#
# What travels (the device tool carries at most 64 MiB with the checkout):
# - gpu/adain.xz: the release binary (its rpath finds libtorch at ../.venv/libtorch/lib, which
#   `run` links to the machine's own torch package, the same 2.11.0+cu130 wheel as ours);
# - gpu/home/vgg16.safetensors: the torchvision VGG-16 weights cut to the convolutions up to
#   relu4_1 (all the loss network uses), 12 MB instead of 59;
# - gpu/data/{content,style}: the training folders resized once to the run's load_size
#   (shorter side 256, JPEG quality 80): the trainer's first step does that resize anyway, so
#   the crops differ only by the re-encoding;
# - gpu/run: the run folder's config.toml, tap-scales and newest checkpoint.
# The held-out pairs are left out by file name, as in the CPU run.
# Prepared and checked on the CPU (pack, and the packed binary training from gpu/ here) on
# 2026-12-05; not yet run on a GPU: no machine was lent that session.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?pack RUN_DIR | run SECONDS}

if [ "$mode" = pack ]; then
    run=${2:?run dir}
    grep -qx '/gpu/' .git/info/exclude || echo /gpu/ >>.git/info/exclude
    rm -rf gpu && mkdir -p gpu/home gpu/run/checkpoints gpu/data
    cargo build --release --quiet
    strip -o gpu/adain target/release/adain && xz -6 -T2 gpu/adain
    ckpt=$(ls -d "$run"/checkpoints/step-* | tail -1)
    cp -r "$ckpt" gpu/run/checkpoints/
    cp "$run"/config.toml "$run"/tap-scales.safetensors "$run"/metrics.csv gpu/run/
    .venv/bin/python - "${ADAIN_HOME:-$HOME/.cache/adain}/vgg16.safetensors" gpu/home/vgg16.safetensors <<'EOF'
import json, struct, sys
src, dst = sys.argv[1:]
with open(src, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    head = json.loads(f.read(n))
    body = f.read()
keep = {k: v for k, v in head.items() if k != "__metadata__" and int(k.split(".")[1]) <= 17}
out, blobs, off = {}, [], 0
for k in sorted(keep):
    a, b = keep[k]["data_offsets"]
    blobs.append(body[a:b])
    out[k] = dict(keep[k], data_offsets=[off, off + b - a])
    off += b - a
h = json.dumps(out).encode()
h += b" " * (-len(h) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
EOF
    .venv/bin/python - ../shared/data gpu/data <<'EOF'
import os, sys
from concurrent.futures import ProcessPoolExecutor
from PIL import Image
src, dst = sys.argv[1:]
def one(job):
    a, b = job
    im = Image.open(a).convert("RGB")
    s = 256 / min(im.size)
    if s < 1:
        im = im.resize((round(im.width * s), round(im.height * s)), Image.BICUBIC)
    im.save(b, quality=80)
jobs = []
for d in ("content", "style"):
    os.makedirs(os.path.join(dst, d), exist_ok=True)
    for n in sorted(os.listdir(os.path.join(src, d))):
        jobs.append((os.path.join(src, d, n), os.path.join(dst, d, n)))
with ProcessPoolExecutor(2) as ex:
    list(ex.map(one, jobs, chunksize=16))
EOF
    du -sh gpu gpu/*
    exit 0
fi

# On the GPU machine.
secs=${2:?seconds}
sp=$(python3 -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))')
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
rm -rf .venv && mkdir .venv && ln -s "$sp/torch" .venv/libtorch
xz -dc gpu/adain.xz >gpu/adain && chmod +x gpu/adain
mkdir -p gpu/bin && mv gpu/adain gpu/bin/adain
export ADAIN_HOME=$PWD/gpu/home
out=${OUT:-/tmp/out}
mkdir -p "$out"
timeout -s INT "$secs" gpu/bin/adain train --run-dir gpu/run --resume --quiet --device cuda \
    --content-dir gpu/data/content --style-dir gpu/data/style --threads 8 --steps 100000 \
    2>&1 | tail -40 || true
tail -3 gpu/run/metrics.csv
cp gpu/run/metrics.csv "$out"/
last=$(ls -d gpu/run/checkpoints/step-* | tail -1)
tar -C gpu/run/checkpoints -cf "$out"/last.tar "$(basename "$last")"
# Every 2500th step's weights, for the selection protocol.
(cd gpu/run/checkpoints && for d in step-*; do
    [ $((10#${d#step-} % 2500)) = 0 ] && echo "$d/lite.safetensors"; done | xargs -r tar -cf "$out"/snapshots.tar)
ls -la "$out"

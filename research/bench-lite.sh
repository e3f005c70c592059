#!/usr/bin/env bash
# The lite network's speed table (BENCHMARKS.md): adain's lite network against PyTorch running
# the same network (eager, channels-last, torch.compile) and against MicroAST's ONNX graph
# (its released weights) in onnxruntime, alternating in one run per case; then the VGG model's
# 512² cases for the lite/VGG ratio at the same precision. Pause any training first.
#   MICROAST=/path/to/MicroAST/models ROUNDS=3 research/bench-lite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
rounds="${ROUNDS:-3}"
work="${WORK:-$(mktemp -d)}"
onnx=()
if [ -n "${MICROAST:-}" ]; then
  [ -f "$work/microast.onnx" ] || .venv/bin/python scripts/reference.py microast-onnx --weights "$MICROAST" --out "$work/microast.onnx"
  onnx=(--onnx "microast=$work/microast.onnx")
fi
"$bin" bench --model lite --rounds "$rounds" "${onnx[@]}" ${LITE_CASES:+--cases $LITE_CASES}
"$bin" bench --model vgg --rounds "$rounds" --torch compile \
  --cases ${VGG_CASES:-stylize-512 stylize-512-cached stylize-512-cached-bf16 stylize-256-cached-bf16}

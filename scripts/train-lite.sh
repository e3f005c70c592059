#!/usr/bin/env bash
# The lite network's training, by `adain train` (the recipe: models/lite-train.toml; the
# objective in models/README.md), on ../shared/data. It goes on from the committed training
# state, models/lite-run/ (the AdaIN stage's newest checkpoint with Adam's moments, the tap
# scales, the loss log), so a fresh machine continues where the last session stopped.
# Resumable: run it again with the same RUN (STEPS to go further than the config's 40000).
#   RUN=runs/lite-adain scripts/train-lite.sh
# STATE=models/lite-steady-run continues the steadiness fine-tune instead (its own config.toml:
# the recipe with steadiness_weight 100, started from step 17750 of models/lite-run; from step
# 21500 on 384-px images (--load-size 384), from step 23500 on 512-px ones, as its config says),
# which produced the shipped models/lite.safetensors (step 24750, `adain weights convert --half`).
#   STATE=models/lite-steady-run RUN=runs/lite-steady scripts/train-lite.sh
#
# History: steps 1–14200 (400 reconstruction steps, then the AdaIN stage) ran in PyTorch
# (scripts/train-lite.py, removed in session 18; its objective is scripts/reference.py's
# lite_training_terms, which the test lite_losses_match_the_pytorch_recipe compares with
# adain's); scripts/lite-run-to-adain.py converted that state for `adain train`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
need_bin
run="${RUN:-runs/lite-adain}"
if [ ! -d "$run/checkpoints" ]; then
  state="${STATE:-models/lite-run}"
  step="$(sed -n 's/^step = //p' "$state/checkpoint/state.toml")"
  mkdir -p "$run/checkpoints/step-$(printf %08d "$step")"
  cp "$state"/checkpoint/* "$run/checkpoints/step-$(printf %08d "$step")/"
  if [ -f "$state/config.toml" ]; then cp "$state/config.toml" "$run/config.toml"; else cp models/lite-train.toml "$run/config.toml"; fi
  # The tap scales were measured once, at the start of the AdaIN stage; every run keeps them.
  cp models/lite-run/tap-scales.safetensors "$run/"
  cp "$state/metrics.csv" "$run/metrics.csv"
fi
"$bin" train --run-dir "$run" --resume ${STEPS:+--steps "$STEPS"}

#!/usr/bin/env bash
# The recipe of the shipped decoder (models/decoder-vgg16.safetensors), on ../shared/data.
# Stage 1 teaches the decoder to invert the encoder; stage 2 is AdaIN training started from it.
# Resumable: run it again with the same RUN to continue where it stopped.
#   RUN=runs/default RECON_STEPS=300 ADAIN_STEPS=4000 CROP=128 scripts/train-default.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
run="${RUN:-runs/default}"
data="${DATA:-../shared/data}"
crop="${CROP:-128}"
load="${LOAD:-256}"
batch="${BATCH:-8}"
device="${DEVICE:-auto}"
bin="${BIN:-target/release/adain}"
[ -x "$bin" ] || cargo build --release
common=(--content "$data/content" --style "$data/style" --crop-size "$crop" --load-size "$load"
        --batch-size "$batch" --device "$device" --seed 1 --quiet)

resume_or_start() {  # $1 = run dir, rest = flags
  local dir="$1"; shift
  if [ -f "$dir/config.toml" ] && ls "$dir"/checkpoints/step-* >/dev/null 2>&1; then
    "$bin" train --run-dir "$dir" --resume --steps "$STEPS" --quiet --device "$device" ${PRECISION:+--precision "$PRECISION"}
  else
    "$bin" train --run-dir "$dir" "$@" --steps "$STEPS"
  fi
}

STEPS="${RECON_STEPS:-300}" resume_or_start "$run/reconstruct" --stage reconstruct "${common[@]}" \
  --lr 1e-4 --schedule constant --checkpoint-every 100 --log-every 10
STEPS="${ADAIN_STEPS:-4000}" resume_or_start "$run/adain" --stage adain "${common[@]}" \
  --init-decoder "$run/reconstruct/decoder.safetensors" --lr 4e-4 --schedule inverse-decay --lr-decay 5e-5 \
  --style-weight 10 --style-reduce mean --checkpoint-every 100 --log-every 10
echo "decoder: $run/adain/decoder.safetensors"

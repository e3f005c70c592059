#!/usr/bin/env bash
# The recipe of the shipped decoder (models/decoder-vgg16.safetensors), on ../shared/data.
# Stage 1 teaches the decoder to invert the encoder; stage 2 is AdaIN training started from it,
# in three phases of one run (each phase resumes the run with its own settings):
#   2a  λ = 10, lr 4e-4, 128² crops of images resized to 256
#   2b  λ = 3,  lr 1.5e-4, same crops (content kept better at the same style loss)
#   2c  λ = 3,  lr 1.5e-4, 256² crops of images resized to 512 (the scale `adain stylize` uses)
# Phases 2b/2c use bfloat16 mixed precision where the CPU has it (2.3x faster here).
# Resumable: run it again with the same RUN to continue where it stopped.
#   RUN=runs/default scripts/train-default.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
run="${RUN:-runs/default}"
data="${DATA:-../shared/data}"
device="${DEVICE:-auto}"
bin="${BIN:-target/release/adain}"
recon_steps="${RECON_STEPS:-300}"
steps_a="${STEPS_A:-2600}"
steps_b="${STEPS_B:-9000}"
steps_c="${STEPS_C:-9700}"
[ -x "$bin" ] || cargo build --release
common=(--content "$data/content" --style "$data/style" --batch-size 8 --device "$device" --seed 1 --quiet
        --checkpoint-every 100 --log-every 10)

# phase DIR STEPS FLAGS...: continue DIR up to STEPS with FLAGS (a fresh run when DIR has no
# checkpoint yet; flags given on a resume override the run's saved settings).
phase() {
  local dir="$1" steps="$2"; shift 2
  if ls "$dir"/checkpoints/step-* >/dev/null 2>&1; then
    "$bin" train --run-dir "$dir" --resume --steps "$steps" "$@"
  else
    "$bin" train --run-dir "$dir" --steps "$steps" "$@"
  fi
}

phase "$run/reconstruct" "$recon_steps" --stage reconstruct "${common[@]}" --crop-size 128 --load-size 256 \
  --lr 1e-4 --schedule constant
adain=(--stage adain "${common[@]}" --init-decoder "$run/reconstruct/decoder.safetensors"
       --schedule inverse-decay --lr-decay 5e-5 --style-reduce mean)
phase "$run/adain" "$steps_a" "${adain[@]}" --crop-size 128 --load-size 256 --style-weight 10 --lr 4e-4
phase "$run/adain" "$steps_b" "${adain[@]}" --crop-size 128 --load-size 256 --style-weight 3 --lr 1.5e-4 --precision auto
phase "$run/adain" "$steps_c" "${adain[@]}" --crop-size 256 --load-size 512 --style-weight 3 --lr 1.5e-4 --precision auto
echo "decoder: $run/adain/decoder.safetensors"

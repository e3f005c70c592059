#!/usr/bin/env bash
# The recipe of the shipped decoder (models/decoder-vgg16.safetensors), on ../shared/data.
#
# Version 1 (commit 79af532, its scripts/train-default.sh): a reconstruction stage and 9 700
# AdaIN steps with the raw VGG style loss, zero-padded encoder, upright crops. Version 2 (this
# script) fine-tunes that decoder for the palette and against streaks:
#   - the encoder pads by reflection (flat areas stay flat up to the borders);
#   - the style loss is normalised per channel (every tap counts alike, relu1_1 included) and
#     has the image itself as a fifth tap (RGB mean and std, weight 4), λ = 30;
#   - crops are rotated by quarter turns as well as flipped (no preferred stroke direction);
#   - phase A at 128² crops of 256-px images (steps 1–1000), phase B at 256² crops of 512-px
#     images (the scale `adain stylize` works at; to step 1300); bfloat16 mixed precision
#     where the CPU has it. Version 2 was phase B's step 1200.
# Version 3 (shipped) adds the frame-bias penalty against streaks, in a second run ($RUN/fb)
# that starts from phase B's decoder with a fresh Adam and seed 5: phase C, 1 100 steps at
# 128² crops of 256-px images with --frame-bias-weight 500; phase D, to step 1500 at 256²
# crops of 512-px images with weight 200. The shipped file is phase D's step 1500.
# Resumable: run it again with the same RUN (and larger STEPS_*) to continue.
#   RUN=runs/default scripts/train-default.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_bin
run="${RUN:-runs/default}"
data="${DATA:-../shared/data}"
device="${DEVICE:-auto}"
steps_a="${STEPS_A:-1000}"
steps_b="${STEPS_B:-1300}"
steps_c="${STEPS_C:-1100}"
steps_d="${STEPS_D:-1500}"
mkdir -p "$run"
# The version-1 decoder this fine-tunes (from git, so that the script works after the shipped
# file was replaced).
base="$run/decoder-v1.safetensors"
[ -f "$base" ] || git show 79af532:models/decoder-vgg16.safetensors > "$base"

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

common=(--stage adain --content "$data/content" --style "$data/style" --init-decoder "$base" --batch-size 8
        --device "$device" --seed 1 --quiet --checkpoint-every 100 --log-every 10 --val-every 100 --image-every 500
        --precision auto --lr 1e-4 --schedule inverse-decay --lr-decay 2e-4
        --style-weight 30 --style-normalize true --pixel-style-weight 4 --rotate true)
phase "$run/adain" "$steps_a" "${common[@]}" --crop-size 128 --load-size 256
phase "$run/adain" "$steps_b" "${common[@]}" --crop-size 256 --load-size 512
# Phases C and D (version 3): the frame-bias penalty, from phase B's decoder, with the same
# style-loss scales.
mkdir -p "$run/fb"
[ -f "$run/fb/tap-scales.safetensors" ] || cp "$run/adain/tap-scales.safetensors" "$run/fb/"
[ -f "$run/fb-init.safetensors" ] || cp "$run/adain/decoder.safetensors" "$run/fb-init.safetensors"
fb=(--stage adain --content "$data/content" --style "$data/style" --init-decoder "$run/fb-init.safetensors"
    --batch-size 8 --device "$device" --seed 5 --quiet --checkpoint-every 100 --log-every 10 --val-every 100
    --image-every 500 --precision auto --lr 1e-4 --schedule inverse-decay --lr-decay 2e-4 --style-weight 30
    --style-normalize true --pixel-style-weight 4 --rotate true)
phase "$run/fb" "$steps_c" "${fb[@]}" --crop-size 128 --load-size 256 --frame-bias-weight 500
phase "$run/fb" "$steps_d" "${fb[@]}" --crop-size 256 --load-size 512 --frame-bias-weight 200 --checkpoint-every 50
echo "decoder: $run/fb/decoder.safetensors"

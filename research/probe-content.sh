#!/usr/bin/env bash
# Short fine-tuning probes from decoder version 3 aimed at the content distance (LPIPS) of
# issue 10, and the α curve they are compared with (models/README.md, "After version 3").
# Each probe is a run of its own under $RUN/probe-NAME, seed 5 as version 3's last phases (so
# models/validation-pairs-fb.tsv stays held out), scored at 512 px on those pairs.
#   research/probe-content.sh            # every probe, then the table
#   PROBES="S3" research/probe-content.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
run="${RUN:-runs}"
data="${DATA:-../shared/data}"
pairs=models/validation-pairs-fb.tsv
# Version 3's own run (phases C–D of scripts/train-default.sh), when this machine has it: its
# style-loss scales, and its last checkpoints for the noise floor below.
v3run="${V3_RUN:-runs/default/fb}"
mkdir -p "$run"
# Version 3 (float16 as shipped; the probes of the notes started from its float32 checkpoint).
base="$run/decoder-v3.safetensors"
[ -f "$base" ] || git show 337dafa:models/decoder-vgg16.safetensors > "$base"

# probe NAME STEPS CROP LOAD λ FRAME_BIAS FLAGS...
probe() {
  local name="$1" steps="$2" crop="$3" load="$4" sw="$5" fbw="$6"; shift 6
  local dir="$run/probe-$name" resume=()
  mkdir -p "$dir"
  # Version 3's style-loss scales, when this machine has them (measured anew otherwise).
  [ -f "$dir/tap-scales.safetensors" ] || [ ! -f "$v3run/tap-scales.safetensors" ] ||
    cp "$v3run/tap-scales.safetensors" "$dir/"
  ls "$dir"/checkpoints/step-* >/dev/null 2>&1 && resume=(--resume)
  "$bin" train --run-dir "$dir" "${resume[@]}" --steps "$steps" --stage adain --content "$data/content" \
    --style "$data/style" --init-decoder "$base" --device "${DEVICE:-auto}" --batch-size 8 --seed 5 --quiet --checkpoint-every 50 \
    --log-every 10 --val-every 50 --image-every 1000 --precision auto --lr 1e-4 --schedule inverse-decay \
    --lr-decay 2e-4 --style-weight "$sw" --style-normalize true --pixel-style-weight 4 --rotate true \
    --crop-size "$crop" --load-size "$load" --frame-bias-weight "$fbw" "$@"
}

for p in ${PROBES:-S1 S2 S3}; do
  case "$p" in
    # Structure term at relu2_1 and relu3_1 (weight 8 each), 250 steps at 128².
    S1) probe S1 250 128 256 30 500 --structure-weights "[0,8,8,0]" ;;
    # Identity term (weight 500), 250 steps at 128².
    S2) probe S2 250 128 256 30 500 --identity-weight 500 ;;
    # λ 10 instead of 30, at 256² crops of 512-px images: to step 300 (decoder kept), then 600.
    S3) probe S3 300 256 512 10 200
        cp "$run/probe-S3/decoder.safetensors" "$run/probe-S3/decoder-300.safetensors"
        probe S3 600 256 512 10 200 ;;
  esac
done

decoders=(--decoder "$base")
for p in ${PROBES:-S1 S2 S3}; do
  [ "$p" = S3 ] && decoders+=(--decoder "$run/probe-S3/decoder-300.safetensors")
  decoders+=(--decoder "$run/probe-$p/decoder.safetensors")
done
"$bin" eval --pairs "$pairs" --size 512 --precision f32 "${decoders[@]}"
# The α curve of version 3 on the 8 validation pairs (palette matching scales with α).
for a in 0 0.6 0.8 1; do
  echo "== alpha $a"
  "$bin" eval --pairs models/validation-pairs.tsv --size 512 --precision f32 --decoder "$base" --alpha "$a"
done
# How far apart neighbouring checkpoints of version 3's own run score (the noise floor of an
# 8-pair comparison): phase D's last checkpoints.
if [ -d "$v3run/checkpoints/step-00001400" ]; then
  "$bin" eval --pairs "$pairs" --size 512 --precision f32 \
    --decoder "$v3run/checkpoints/step-00001400/decoder.safetensors" \
    --decoder "$v3run/checkpoints/step-00001450/decoder.safetensors"
fi
# Versions 2 and 3 and Magenta on all 64 combinations of the fb pairs' photos and paintings at
# 384 px (8 times the pairs of the tables above; version 2 trained on these images, version 3's
# last phases did not).
v2="$run/decoder-v2.safetensors"
[ -f "$v2" ] || git show 337dafa~1:models/decoder-vgg16.safetensors > "$v2"
mag="$run/magenta-fb-384"
[ -d "$mag" ] || research/peer-magenta.sh "$pairs" 384 "$mag" --all-combinations
"$bin" eval --pairs "$pairs" --all-combinations --size 384 --precision f32 --decoder "$v2" --decoder "$base" \
  --compare "magenta=$mag"

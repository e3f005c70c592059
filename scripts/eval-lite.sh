#!/usr/bin/env bash
# The lite network's quality table (models/README.md): lite, the VGG model, MicroAST (its
# released weights, run by our own code of its architecture in scripts/reference.py) and
# Magenta (scripts/peer-magenta.sh) on the held-out pairs (models/validation-pairs.tsv, never
# trained on by either of our networks) at 384 and 512 px, as `adain stylize` runs by default;
# then LPIPS of every method at lower α (the content/style trade-off; lite at α = 0 must give
# the photo back).
#   MICROAST=/path/to/MicroAST/models scripts/eval-lite.sh [LITE_WEIGHTS]
# MICROAST: a folder with MicroAST's four *_iter_160000.pth.tar (from its repository; nothing
# of it is committed here). Without it the MicroAST column is left out.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
lite="${1:-models/lite.safetensors}"
pairs="${PAIRS:-models/validation-pairs.tsv}"
[ -d ../shared/data ] || { echo "needs ../shared/data (the held-out pairs are taken from it)" >&2; exit 1; }
work="${WORK:-$(mktemp -d)}"
for size in ${SIZES:-384 512}; do
  compare=()
  peer="$work/magenta-$size"
  [ -d "$peer" ] || scripts/peer-magenta.sh "$pairs" "$size" "$peer"
  compare+=(--compare "magenta=$peer")
  if [ -n "${MICROAST:-}" ]; then
    for alpha in ${ALPHAS:-1.0}; do
      m="$work/microast-$size-$alpha"
      [ -d "$m" ] || .venv/bin/python scripts/reference.py microast --weights "$MICROAST" --pairs "$pairs" \
        --size "$size" --alpha "$alpha" --out-dir "$m"
      compare+=(--compare "microast-a$alpha=$m")
    done
  fi
  for alpha in ${ALPHAS:-1.0}; do
    echo "== $size px, α $alpha"
    "$bin" eval --pairs "$pairs" --size "$size" --precision f32 --alpha "$alpha" \
      --model vgg --weights "$lite" "${compare[@]}"
  done
done

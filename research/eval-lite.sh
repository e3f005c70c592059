#!/usr/bin/env bash
# The lite network's quality table (models/README.md): lite, the VGG model, MicroAST (its
# released weights, run by our own code of its architecture in scripts/reference.py) and
# Magenta (research/peer-magenta.sh) on the held-out pairs (models/validation-pairs.tsv, never
# trained on by either of our networks) at 384 and 512 px, as `adain stylize` runs by default;
# then LPIPS of every method at lower α (the content/style trade-off; lite at α = 0 must give
# the photo back).
#   MICROAST=/path/to/MicroAST/models research/eval-lite.sh [LITE_WEIGHTS]
# INT8=1 adds the lite network as ONNX in onnxruntime, float32 and INT8 (onnxruntime's static
# quantizer, calibrated on 32 training pairs: reference.py lite-int8), and prints the INT8
# results' PSNR against the float32 ONNX's. Both are the raw network: `adain stylize`'s
# palette matching is not in the graph, so compare them with each other.
# GRID=docs/lite-grid.jpg writes the comparison image of models/README.md: the committed
# photos × Starry Night (assets/, public domain), lite | VGG | MicroAST | Magenta at 384 px.
# MICROAST: a folder with MicroAST's four *_iter_160000.pth.tar (from its repository; nothing
# of it is committed here). Without it the MicroAST column is left out.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
lite="${1:-models/lite.safetensors}"
pairs="${PAIRS:-models/validation-pairs.tsv}"
work="${WORK:-$(mktemp -d)}"
if [ -n "${GRID:-}" ]; then
  g="$work/grid"
  mkdir -p "$g/lite" "$g/vgg"
  for photo in assets/chelsea.jpg assets/coffee.jpg assets/astronaut.jpg; do
    printf '%s\t%s\n' "$photo" assets/starry_night.jpg
  done > "$g/pairs.tsv"
  columns=()
  while IFS=$'\t' read -r c s; do
    name="$(basename "${c%.*}")_stylized_$(basename "${s%.*}").png"
    "$bin" stylize --model lite --weights "$lite" -c "$c" -s "$s" --content-size 384 --style-size 384 -o "$g/lite/$name"
    "$bin" stylize -c "$c" -s "$s" --content-size 384 --style-size 384 -o "$g/vgg/$name"
  done < "$g/pairs.tsv"
  columns+=(--column "lite=$g/lite" --column "VGG=$g/vgg")
  if [ -n "${MICROAST:-}" ]; then
    .venv/bin/python scripts/reference.py microast --weights "$MICROAST" --pairs "$g/pairs.tsv" --size 384 --out-dir "$g/microast"
    columns+=(--column "MicroAST=$g/microast")
  fi
  research/peer-magenta.sh "$g/pairs.tsv" 384 "$g/magenta"
  columns+=(--column "Magenta=$g/magenta")
  .venv/bin/python scripts/reference.py compare-grid --pairs "$g/pairs.tsv" "${columns[@]}" --height 256 --out "$GRID"
  [ -n "${GRID_ONLY:-}" ] && exit 0
fi
[ -d ../shared/data ] || { echo "needs ../shared/data (the held-out pairs are taken from it)" >&2; exit 1; }
if [ -n "${INT8:-}" ]; then
  "$bin" export --model lite --weights "$lite" -o "$work/lite-f32.onnx"
  .venv/bin/python scripts/reference.py lite-int8 --model "$work/lite-f32.onnx" --out "$work/lite-int8.onnx" \
    --data ../shared/data --exclude "$pairs"
fi
for size in ${SIZES:-384 512}; do
  compare=()
  peer="$work/magenta-$size"
  [ -d "$peer" ] || research/peer-magenta.sh "$pairs" "$size" "$peer"
  compare+=(--compare "magenta=$peer")
  if [ -n "${MICROAST:-}" ]; then
    for alpha in ${ALPHAS:-1.0}; do
      m="$work/microast-$size-$alpha"
      [ -d "$m" ] || .venv/bin/python scripts/reference.py microast --weights "$MICROAST" --pairs "$pairs" \
        --size "$size" --alpha "$alpha" --out-dir "$m"
      compare+=(--compare "microast-a$alpha=$m")
    done
  fi
  if [ -n "${INT8:-}" ]; then
    .venv/bin/python scripts/reference.py onnx-pairs --model "$work/lite-f32.onnx" --pairs "$pairs" --size "$size" \
      --out-dir "$work/onnx-f32-$size"
    .venv/bin/python scripts/reference.py onnx-pairs --model "$work/lite-int8.onnx" --pairs "$pairs" --size "$size" \
      --out-dir "$work/onnx-int8-$size" --psnr-against "$work/onnx-f32-$size"
    compare+=(--compare "lite-onnx-f32=$work/onnx-f32-$size" --compare "lite-onnx-int8=$work/onnx-int8-$size")
  fi
  for alpha in ${ALPHAS:-1.0}; do
    echo "== $size px, α $alpha"
    "$bin" eval --pairs "$pairs" --size "$size" --precision f32 --alpha "$alpha" \
      --model vgg --weights "$lite" "${compare[@]}"
  done
done

#!/usr/bin/env bash
# What the training objective itself gives, with no decoder in the way (issue 10's LPIPS
# target; models/README.md, "What the objective itself allows"): the results' pixels optimised
# directly on content + 10 × VGG style (research/objective-frontier.py), from the
# colour-transfer baseline's result and from the photo, snapshots along the way scored by
# `adain eval --compare` next to the shipped decoder, the colour-transfer baseline and Magenta
# on the validation pairs at 512 px. Then docs/objective-frontier.png (the table as a figure,
# research/frontier-figure.py) and docs/objective-frontier.jpg (the same optimisation on a
# committed photo and painting at 256 px, next to the decoder: committed assets only).
# About an hour on 2 cores. Usage: research/objective-frontier.sh   (PAIRS=tsv, OUT=dir,
#   RUNS="colour:2,5,10,20,40,80,160,240 adain:2,5,10,20": variant:snapshot steps)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
pairs="${PAIRS:-models/validation-pairs.tsv}"
out="${OUT:-runs/objective-frontier}"
runs="${RUNS:-colour:2,5,10,20,40,80,160,240 adain:2,5,10,20}"
mkdir -p "$out/color-transfer"
while IFS=$'\t' read -r c s; do
  name="$(basename "${c%.*}")_stylized_$(basename "${s%.*}").png"
  [ -f "$out/color-transfer/$name" ] || "$bin" stylize "$c" "$s" -o "$out/color-transfer/$name" \
    --method color-transfer --content-size 512 --style-size 512 >/dev/null
done <"$pairs"
compare=()
for run in $runs; do
  variant="${run%%:*}" steps="${run#*:}"
  .venv/bin/python research/objective-frontier.py "$pairs" "$out" --size 512 --steps "$steps" \
    --variants "$variant" --init "$out/color-transfer"
  for n in ${steps//,/ }; do compare+=(--compare "$variant-$n=$out/$variant-$n"); done
done
[ -d "$out/magenta" ] || research/peer-magenta.sh "$pairs" 512 "$out/magenta"
"$bin" eval --pairs "$pairs" --size 512 --precision f32 --compare "magenta=$out/magenta" "${compare[@]}" \
  | tee "$out/table.txt"
.venv/bin/python research/frontier-figure.py "$out/table.txt" docs/objective-frontier.png

# The picture: the committed astronaut and Starry Night at 256 px.
a="$out/assets"
mkdir -p "$a/decoder" "$a/color-transfer"
printf 'assets/astronaut.jpg\tassets/starry_night.jpg\n' >"$a/pairs.tsv"
name=astronaut_stylized_starry_night.png
"$bin" stylize assets/astronaut.jpg assets/starry_night.jpg -o "$a/decoder/$name" --content-size 256 --style-size 256 --precision f32 >/dev/null
"$bin" stylize assets/astronaut.jpg assets/starry_night.jpg -o "$a/color-transfer/$name" --method color-transfer --content-size 256 --style-size 256 >/dev/null
.venv/bin/python research/objective-frontier.py "$a/pairs.tsv" "$a" --size 256 --steps 5,240 --variants colour --init "$a/color-transfer"
"$bin" eval --pairs "$a/pairs.tsv" --size 256 --precision f32 --compare "colour-5=$a/colour-5" --compare "colour-240=$a/colour-240"
.venv/bin/python - "$a" "$name" <<'PY'
import sys
from PIL import Image
a, name = sys.argv[1], sys.argv[2]
ims = [Image.open(f"{a}/{d}/{name}").convert("RGB") for d in ("color-transfer", "decoder", "colour-5", "colour-240")]
w, h = ims[0].size
out = Image.new("RGB", (4 * w, h), "white")
for k, im in enumerate(ims):
    out.paste(im.resize((w, h)), (k * w, 0))
out.save("docs/objective-frontier.jpg", quality=90)
PY

#!/usr/bin/env bash
# Regenerates the README's and models/README.md's images from the committed assets only
# (../shared data never goes into committed images):
#   docs/grid.jpg          styles × contents with the shipped decoder (256 px)
#   docs/before-after.jpg  the same grid for decoder version 1 (commit 79af532), the raw
#                          shipped decoder, and it as `adain stylize` runs it (palette matched)
#   docs/training-loss.png copied from the recipe's run, when it is there
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
run="${RUN:-runs/default}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/c" "$tmp/s"
cp assets/astronaut.jpg assets/chelsea.jpg assets/coffee.jpg "$tmp/c/"
cp assets/coffee.jpg assets/starry_night.jpg "$tmp/s/"
grid() { "$bin" eval -c "$tmp/c" -s "$tmp/s" --size 256 --grid "$1" --decoder "$2" --match-palette "$3" >/dev/null; }
grid docs/grid.jpg models/decoder-vgg16.safetensors 1
git show 79af532:models/decoder-vgg16.safetensors > "$tmp/v1.safetensors"
grid "$tmp/a.png" "$tmp/v1.safetensors" 0
grid "$tmp/b.png" models/decoder-vgg16.safetensors 0
grid "$tmp/c.png" models/decoder-vgg16.safetensors 1
.venv/bin/python - "$tmp" <<'PY'
import sys
from PIL import Image, ImageDraw
tmp = sys.argv[1]
labels = ["version 1 (before)", "version 3, raw decoder", "version 3 + palette matching (default)"]
ims = [Image.open(f"{tmp}/{k}.png").convert("RGB") for k in "abc"]
w, h = ims[0].size
out = Image.new("RGB", (w, (h + 24) * 3), "white")
for i, (im, label) in enumerate(zip(ims, labels)):
    ImageDraw.Draw(out).text((6, i * (h + 24) + 6), label, fill="black")
    out.paste(im, (0, i * (h + 24) + 24))
out.save("docs/before-after.jpg", quality=90)
PY
if [ -f "$run/fb/loss.png" ]; then
  cp "$run/fb/loss.png" docs/training-loss.png
fi
echo "docs/grid.jpg docs/before-after.jpg docs/training-loss.png"

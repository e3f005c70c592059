#!/usr/bin/env bash
# Stylizes a 3840×2160 image at full resolution (tiled automatically) and reports the peak
# memory (max RSS) and time: the high-resolution check of BENCHMARKS.md.
#   research/highres.sh [WIDTH HEIGHT]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
w="${1:-3840}"; h="${2:-2160}"
out="${OUT:-output/highres}"
mkdir -p "$out"
.venv/bin/python - "$w" "$h" "$out/content-${w}x${h}.png" <<'PY'
import sys
from PIL import Image
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
Image.open("assets/astronaut.jpg").convert("RGB").resize((w, h), Image.BICUBIC).save(path)
PY
[ -x "$bin" ] || cargo build --release
/usr/bin/time -f "peak RSS %M KiB, %e s wall" "$bin" stylize --content "$out/content-${w}x${h}.png" \
  --style assets/starry_night.jpg --content-size 0 --style-size 512 --tile auto --device "${DEVICE:-cpu}" \
  --output "$out/stylized-${w}x${h}.png"

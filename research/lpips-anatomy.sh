#!/usr/bin/env bash
# Where the content distance (LPIPS) of issue 10 comes from, on the 8 validation pairs at
# 512 px (models/README.md, "After version 3"): the shipped decoder's results changed after the
# fact, each change isolating one part, all scored by `adain eval --compare` next to adain as
# it runs by default:
#   blur-1, blur-2       the result blurred (Gaussian σ 1 and 2 px): is it fine texture?
#   photo-detail-2       the result's σ-2 low-pass plus the photo's high-pass: every detail
#                        finer than σ 2 px given back by the photo
#   colour-only          the photo itself, moved to the result's per-channel mean and std: what
#                        the change of palette alone costs
#   at-1024              stylized at 1024 px (content and style), then resized to 512 px: the
#                        decoder's bottleneck twice as fine relative to the image
# Usage: research/lpips-anatomy.sh   (OUT=dir to keep the images elsewhere)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
pairs="${PAIRS:-models/validation-pairs.tsv}"
out="${OUT:-runs/lpips-anatomy}"
mkdir -p "$out/adain" "$out/at-1024"
while IFS=$'\t' read -r c s; do
  name="$(basename "${c%.*}")_stylized_$(basename "${s%.*}").png"
  [ -f "$out/adain/$name" ] || "$bin" stylize "$c" "$s" -o "$out/adain/$name" --content-size 512 --style-size 512 --precision f32 >/dev/null
  [ -f "$out/at-1024/big-$name" ] || "$bin" stylize "$c" "$s" -o "$out/at-1024/big-$name" --content-size 1024 --style-size 1024 --precision f32 >/dev/null
done <"$pairs"
.venv/bin/python - "$pairs" "$out" <<'PY'
import os, sys
import numpy as np
import torch
from PIL import Image

pairs, out = sys.argv[1], sys.argv[2]

def load(path, size=None):
    img = Image.open(path).convert("RGB")
    if size is not None and img.size != size:
        img = img.resize(size, Image.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]

def save(x, path):
    arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(path)

def blur(x, sigma):
    k = int(4 * sigma) | 1
    r = torch.arange(k, dtype=torch.float32) - k // 2
    g = torch.exp(-r**2 / (2 * sigma * sigma))
    g = g / g.sum()
    x = torch.nn.functional.pad(x, (k // 2,) * 4, mode="reflect")
    x = torch.nn.functional.conv2d(x, g.view(1, 1, 1, k).repeat(3, 1, 1, 1), groups=3)
    return torch.nn.functional.conv2d(x, g.view(1, 1, k, 1).repeat(3, 1, 1, 1), groups=3)

for d in ("blur-1", "blur-2", "photo-detail-2", "colour-only"):
    os.makedirs(f"{out}/{d}", exist_ok=True)
for line in open(pairs):
    c, s = line.rstrip("\n").split("\t")
    name = f"{os.path.splitext(os.path.basename(c))[0]}_stylized_{os.path.splitext(os.path.basename(s))[0]}.png"
    res = Image.open(f"{out}/adain/{name}")
    x = load(f"{out}/adain/{name}")
    photo = load(c, res.size)
    save(blur(x, 1.0), f"{out}/blur-1/{name}")
    save(blur(x, 2.0), f"{out}/blur-2/{name}")
    save(blur(x, 2.0) + photo - blur(photo, 2.0), f"{out}/photo-detail-2/{name}")
    pm, ps = photo.mean((2, 3), keepdim=True), photo.std((2, 3), keepdim=True)
    xm, xs = x.mean((2, 3), keepdim=True), x.std((2, 3), keepdim=True)
    save((photo - pm) / ps * xs + xm, f"{out}/colour-only/{name}")
    Image.open(f"{out}/at-1024/big-{name}").convert("RGB").resize(res.size, Image.LANCZOS).save(f"{out}/at-1024/{name}")
PY
"$bin" eval --pairs "$pairs" --size 512 --precision f32 \
  --compare "blur-1=$out/blur-1" --compare "blur-2=$out/blur-2" --compare "photo-detail-2=$out/photo-detail-2" \
  --compare "colour-only=$out/colour-only" --compare "at-1024=$out/at-1024"

"""What the training objective itself allows, without a decoder (issue 10, LPIPS target).

For each validation pair, the result's pixels are optimised directly (Adam, pixels kept in
[0, 1]) on the objective every decoder of this project is trained with: content loss at
relu4_1 + lam * the VGG style loss (per-channel mean/std squared distances at relu1_1..relu4_1,
averaged over channels, summed over taps: `adain eval`'s "VGG style"). Snapshots along the way
are written as PNGs named as `adain stylize` names its results, so that `adain eval --compare`
scores them with exactly the metrics of the decoders. Each snapshot is a per-image solution of
the same objective with no decoder in the way; comparing its LPIPS with a decoder's at the same
AlexNet style distance separates what the objective allows from what the decoder achieves
(models/README.md, "What the objective itself allows").

Variants (content term, start):
  adain   MSE(relu4_1(x), t), t = AdaIN(relu4_1(photo), relu4_1(painting)) (the training
          loss), from the photo
  photo   MSE(relu4_1(x), relu4_1(photo)) (Gatys-style, the content kept as features), from
          the photo
  colour  the training loss, from the colour-transfer baseline's result (--init DIR: the
          results of `adain stylize --method color-transfer`, same names)

Usage: .venv/bin/python research/objective-frontier.py PAIRS.tsv OUT_DIR [--size 512]
         [--steps 10,20,40,80,160] [--lam 10] [--lr 0.01] [--variants adain,photo,colour]
         [--init DIR]
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import Encoder, adain, calc_mean_std, load_shorter, read_pairs, result_name  # noqa: E402


def to_tensor(img):
    """A PIL RGB image as [1, 3, H, W] in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def load(path, size):
    """RGB in [0,1] as [1,3,H,W], shorter side resized to `size` (as `adain eval --size`)."""
    return to_tensor(load_shorter(path, size, Image.BILINEAR))


def save(x, path):
    arr = (x[0].detach().clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    tmp = path + ".tmp.png"
    Image.fromarray(arr).save(tmp)
    os.replace(tmp, path)


def style_loss(feats, style_stats):
    total = 0
    for f, (sm, ss) in zip(feats, style_stats):
        m, s = calc_mean_std(f)
        total = total + (m - sm).pow(2).mean() + (s - ss).pow(2).mean()
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", default="10,20,40,80,160")
    ap.add_argument("--lam", type=float, default=10.0)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--variants", default="adain,photo,colour")
    ap.add_argument("--init", help="the colour-transfer results (variant colour)")
    ap.add_argument("--weights", default=os.path.expanduser("~/.cache/adain/vgg16.safetensors"))
    a = ap.parse_args()
    if "colour" in a.variants.split(",") and a.init is None:
        ap.error("variant colour starts from --init DIR (the colour-transfer results)")
    steps = sorted(int(s) for s in a.steps.split(","))
    enc = Encoder("vgg16", {k: v.float() for k, v in load_file(a.weights).items()})
    for p in enc.parameters():
        p.requires_grad_(False)
    pairs = read_pairs(a.pairs)
    for variant in a.variants.split(","):
        for c_path, s_path in pairs:
            name = result_name(c_path, s_path)
            outs = {n: os.path.join(a.out, f"{variant}-{n}", name) for n in steps}
            if all(os.path.exists(p) for p in outs.values()):
                continue
            photo, paint = load(c_path, a.size), load(s_path, a.size)
            with torch.no_grad():
                sf = enc(paint)
                stats = [calc_mean_std(f) for f in sf]
                cf = enc(photo)[-1]
                target = cf if variant == "photo" else adain(cf, sf[-1])
            start = photo
            if variant == "colour":
                img = Image.open(os.path.join(a.init, name)).convert("RGB")
                start = to_tensor(img.resize(tuple(photo.shape[:1:-1]), Image.BILINEAR))
            x = start.clone().requires_grad_(True)
            opt = torch.optim.Adam([x], lr=a.lr)
            t0 = time.time()
            for it in range(1, steps[-1] + 1):
                opt.zero_grad()
                feats = enc(x)
                content = torch.nn.functional.mse_loss(feats[-1], target)
                style = style_loss(feats, stats)
                (content + a.lam * style).backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
                if it in outs:
                    os.makedirs(os.path.dirname(outs[it]), exist_ok=True)
                    save(x, outs[it])
                    print(f"{variant} {name} step {it}: content {content.item():.3f} style {style.item():.3f} "
                          f"({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

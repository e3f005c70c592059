#!/usr/bin/env python3
"""Trains the lite network (scripts/reference.py LiteNet; src/model/lite.rs runs it) on folders
of photos and paintings, with the objective that made the VGG model.

Stages:
  recon   the content encoder and the decoder as an auto-encoder of photos and paintings
          (pixel MSE, no modulation): cheap steps that give both encoders meaningful features;
          the style encoder starts as a copy of the content encoder when the adain stage begins.
  adain   content loss = MSE(VGG(out).relu4_1, t), t = AdaIN(VGG(c).relu4_1, VGG(s).relu4_1)
          (the VGG model's own target), plus λ × the normalised style loss at relu1_1..relu4_1
          and the RGB tap (as the shipped VGG decoder: λ 30, pixel weight 4), plus an identity
          term (α = 0 must give the photo back: w × pixel MSE of the unmodulated auto-encoder)
          and optionally the VGG model's own output as a teacher (w × pixel MSE).

Resumable (the newest checkpoint in RUN/ckpt.pt, written through a temp file and a rename;
the data order is a function of (seed, step)); bfloat16 autocast on CPUs that have it.
RUN/lite.safetensors holds the weights under PyTorch state-dict names, RUN/metrics.csv the
loss terms every --log-every steps.

  .venv/bin/python scripts/train-lite.py --run runs/lite --stage recon --steps 400
  .venv/bin/python scripts/train-lite.py --run runs/lite --stage adain --steps 5000
"""
import argparse
import csv
import os
import sys
import time

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as R  # noqa: E402

EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def held_out(pairs_files):
    out = set()
    for p in pairs_files:
        if os.path.exists(p):
            for c, s in R.read_pairs(p):
                out.add(os.path.basename(c))
                out.add(os.path.basename(s))
    return out


def load_folder(d, size, exclude):
    """Every image of `d` (not in `exclude`), shorter side resized to `size`, as uint8 [3, H, W]."""
    imgs = []
    for name in sorted(os.listdir(d)):
        if not name.lower().endswith(EXTS) or name in exclude:
            continue
        try:
            im = R.load_shorter(os.path.join(d, name), size, Image.BICUBIC)
        except Exception as e:  # noqa: BLE001
            print(f"skipping {name}: {e}", file=sys.stderr)
            continue
        imgs.append(torch.from_numpy(__import__("numpy").asarray(im).copy()).permute(2, 0, 1).contiguous())
    return imgs


def crops(imgs, n, size, g, rotate):
    """n random crops [n, 3, size, size] in [0, 1], flipped and (with rotate) turned by quarter turns."""
    out = []
    idx = torch.randint(len(imgs), (n,), generator=g)
    for i in idx.tolist():
        im = imgs[i]
        _, h, w = im.shape
        y = int(torch.randint(h - size + 1, (1,), generator=g))
        x = int(torch.randint(w - size + 1, (1,), generator=g))
        c = im[:, y : y + size, x : x + size]
        if bool(torch.randint(2, (1,), generator=g)):
            c = c.flip(2)
        k = int(torch.randint(4, (1,), generator=g)) if rotate else 0
        out.append(torch.rot90(c, k, (1, 2)))
    return torch.stack(out).float() / 255.0


def tap_scales(vgg, photos):
    """Per-channel std over all positions of photos (pixels and relu1_1..relu4_1), floored at 1e-3
    (as adain's TapScales::measure)."""
    with torch.no_grad():
        taps = [photos] + vgg(photos)

    def scale(x):
        c = x.shape[1]
        return x.float().transpose(0, 1).reshape(c, -1).std(dim=1, unbiased=False).clamp_min(1e-3).view(1, c, 1, 1)

    return [scale(t) for t in taps]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True)
    p.add_argument("--stage", choices=["recon", "adain"], required=True)
    p.add_argument("--steps", type=int, required=True, help="train up to this step of the stage")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--vgg", default=os.path.expanduser("~/.cache/adain/vgg16.safetensors"), help="VGG-16 weights (torchvision names; adain fetches them on first use)")
    p.add_argument("--teacher", default="models/decoder-vgg16.safetensors")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--load", type=int, default=256)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-decay", type=float, default=2e-4)
    p.add_argument("--style-weight", type=float, default=30.0)
    p.add_argument("--pixel-weight", type=float, default=4.0)
    p.add_argument("--identity-weight", type=float, default=50.0)
    p.add_argument("--identity-perceptual", type=float, default=0.0,
                   help="weight of the identity term's VGG relu1_1 + relu2_1 distance (channels divided by their scales)")
    p.add_argument("--teacher-weight", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--precision", choices=["bf16", "f32"], default="bf16")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    stage_dir = os.path.join(a.run, a.stage)
    os.makedirs(stage_dir, exist_ok=True)

    exclude = held_out(["models/validation-pairs.tsv", "models/validation-pairs-fb.tsv"])
    t0 = time.time()
    photos = load_folder(os.path.join(a.data, "content"), a.load, exclude)
    paintings = load_folder(os.path.join(a.data, "style"), a.load, exclude)
    print(f"{len(photos)} photos, {len(paintings)} paintings ({len(exclude)} held out) in {time.time() - t0:.0f} s", flush=True)

    net = R.LiteNet()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    ckpt_path = os.path.join(stage_dir, "ckpt.pt")
    step = 0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=True)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        print(f"resumed {a.stage} at step {step}", flush=True)
    elif a.stage == "adain":
        recon = os.path.join(a.run, "recon", "lite.safetensors")
        sd = load_file(recon)
        for k in list(sd):
            if k.startswith("content_encoder."):
                sd["style_encoder." + k[len("content_encoder.") :]] = sd[k].clone()
        net.load_state_dict(sd)
        print(f"adain stage from {recon}", flush=True)

    vgg = teacher = scales = None
    if a.stage == "adain":
        vgg = R.Encoder("vgg16", load_file(a.vgg))
        for q in vgg.parameters():
            q.requires_grad_(False)
        sc_path = os.path.join(a.run, "tap-scales.safetensors")
        if os.path.exists(sc_path):
            sc = load_file(sc_path)
            scales = [sc[n] for n in ["pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1"]]
        else:
            g = torch.Generator().manual_seed(1234)
            scales = tap_scales(vgg, crops(photos, 64, a.crop, g, False))
            save_file({n: t.contiguous() for n, t in zip(["pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1"], scales)}, sc_path)
        if a.teacher_weight > 0:
            teacher = R.decoder_for("vgg16")
            teacher.load_state_dict(load_file(a.teacher))
            for q in teacher.parameters():
                q.requires_grad_(False)

    metrics = os.path.join(stage_dir, "metrics.csv")
    new_csv = not os.path.exists(metrics)
    log = open(metrics, "a", newline="")
    w = csv.writer(log)
    if new_csv:
        # "teacher": the teacher term, or the identity's perceptual term when that is on.
        w.writerow(["step", "total", "content", "style", "identity", "teacher", "lr", "s_per_step"])
    ac = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")
    last = time.time()
    while step < a.steps:
        g = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        lr = a.lr / (1 + a.lr_decay * step)
        for pg in opt.param_groups:
            pg["lr"] = lr
        c = crops(photos, a.batch, a.crop, g, True)
        parts = {"content": 0.0, "style": 0.0, "identity": 0.0, "teacher": 0.0}
        with ac:
            if a.stage == "recon":
                s = crops(paintings, a.batch // 2, a.crop, g, True)
                x = torch.cat([c[: a.batch - a.batch // 2], s])
                rec = net.decoder(net.content_encoder(x)[-1], None, 0.0)
                loss = F.mse_loss(rec.float(), x)
                parts["identity"] = loss
            else:
                s = crops(paintings, a.batch, a.crop, g, True)
                terms, out = R.lite_training_terms(net, vgg, c, s, scales, a.identity_perceptual > 0)
                loss = R.lite_training_total(terms, a.style_weight, a.pixel_weight, a.identity_weight, a.identity_perceptual)
                style = sum(terms[f"style_{k}"] for k in range(4)) + a.pixel_weight * terms["pixels"]
                parts.update(content=terms["content"], style=style, identity=terms["identity"])
                if a.identity_perceptual > 0:
                    parts["teacher"] = terms["identity_perceptual"]
                t_out = None
                if teacher is not None:
                    with torch.no_grad():
                        t_out = teacher(R.adain(vgg(c)[-1].float(), vgg(s)[-1].float())).float()
                if t_out is not None:
                    tl = F.mse_loss(out.float(), t_out)
                    loss = loss + a.teacher_weight * tl
                    parts["teacher"] = tl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if not torch.isfinite(loss):
            sys.exit(f"non-finite loss at step {step}; the last checkpoint stays")
        opt.step()
        step += 1
        if step % a.log_every == 0:
            now = time.time()
            row = [step, float(loss.detach())] + [float(parts[k].detach()) if torch.is_tensor(parts[k]) else parts[k] for k in ["content", "style", "identity", "teacher"]] + [lr, (now - last) / a.log_every]
            last = now
            w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
            log.flush()
            print(" ".join(f"{h}={v:.4g}" if isinstance(v, float) else f"{h}={v}" for h, v in zip(["step", "total", "content", "style", "identity", "teacher", "lr", "s/step"], row)), flush=True)
        if step % a.checkpoint_every == 0 or step == a.steps:
            tmp = ckpt_path + ".tmp"
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step}, tmp)
            os.replace(tmp, ckpt_path)
            tmp = os.path.join(stage_dir, "lite.safetensors.tmp")
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp)
            os.replace(tmp, os.path.join(stage_dir, "lite.safetensors"))
            snap = os.path.join(stage_dir, "snapshots")
            if step % (a.checkpoint_every * 10) == 0:
                os.makedirs(snap, exist_ok=True)
                save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(snap, f"step-{step}.safetensors"))


if __name__ == "__main__":
    main()

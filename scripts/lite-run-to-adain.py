"""Converts a PyTorch training state of the lite network (a ckpt.pt as scripts/train-lite.py
wrote it, up to session 18: {"model": state dict, "opt": Adam's state dict, "step"}) into an
`adain train` run folder, so that the product's own trainer goes on from the same point. It
brought the shipped network's training (step 14 200; commit 0d93956 has the script and that
state, models/lite-run/adain-ckpt.pt) over to adain:

    RUN/config.toml                            models/lite-train.toml
    RUN/tap-scales.safetensors                 the normalised style loss's scales, as trained with
    RUN/checkpoints/step-NNNNNNNN/lite.safetensors       the network (float32)
                                 /optimizer.safetensors  Adam's moments as m.<name>, v.<name>
                                 /state.toml             step, Adam's count

Then: adain train --run-dir RUN --resume
"""

import argparse
import os
import shutil

import torch
from safetensors.torch import save_file


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="the PyTorch state (ckpt.pt)")
    p.add_argument("--scales", required=True, help="the tap scales it trained with (tap-scales.safetensors)")
    p.add_argument("--config", default="models/lite-train.toml")
    p.add_argument("--run", required=True, help="the adain run folder to create (must not exist)")
    a = p.parse_args()
    if os.path.exists(a.run):
        raise SystemExit(f"{a.run}: exists; give a new folder")
    ck = torch.load(a.ckpt, weights_only=True)
    model, opt, step = ck["model"], ck["opt"], int(ck["step"])
    # Adam's state is indexed by the parameters' order, which is the state dict's order of
    # the parameters (the network has no buffers).
    names = list(model.keys())
    groups = opt["param_groups"]
    order = [i for g in groups for i in g["params"]]
    if len(order) != len(names):
        raise SystemExit(f"{len(order)} optimiser entries for {len(names)} tensors")
    moments, counts = {}, set()
    for i, name in zip(order, names):
        st = opt["state"][i]
        moments[f"m.{name}"] = st["exp_avg"].float().contiguous()
        moments[f"v.{name}"] = st["exp_avg_sq"].float().contiguous()
        counts.add(int(st["step"]))
    if len(counts) != 1:
        raise SystemExit(f"Adam's step counts differ between tensors: {sorted(counts)}")
    ckpt = os.path.join(a.run, "checkpoints", f"step-{step:08d}")
    os.makedirs(ckpt)
    save_file({k: v.float().contiguous() for k, v in model.items()}, os.path.join(ckpt, "lite.safetensors"))
    save_file(moments, os.path.join(ckpt, "optimizer.safetensors"))
    with open(os.path.join(ckpt, "state.toml"), "w") as f:
        f.write(f"step = {step}\nadam_t = {counts.pop()}\nloss = 0.0\n")
    shutil.copy(a.config, os.path.join(a.run, "config.toml"))
    shutil.copy(a.scales, os.path.join(a.run, "tap-scales.safetensors"))
    print(f"{a.run}: step {step}, {len(names)} tensors with their Adam moments; now: adain train --run-dir {a.run} --resume")


if __name__ == "__main__":
    main()

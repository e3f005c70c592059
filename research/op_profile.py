"""Profile of adain's forward as PyTorch operators (BENCHMARKS.md, "Profile and the hardware
limit"): the same aten sequence adain issues through tch (reflection pad, conv, ReLU, max pool,
nearest upsampling; channels-last), with random weights of the shipped architecture, 512² with
the style cached. Prints the operator table, then the variants that were tried: oneDNN's fused
conv+ReLU, pre-packed weights, zero padding.

    .venv/bin/python research/op_profile.py [--dtype bf16|f32] [--size 512] [--threads 2]
"""
import argparse
import time

import torch
import torch.nn.functional as F

ENC = [(3, 64), (64, 64), "P", (64, 128), (128, 128), "P", (128, 256), (256, 256), (256, 256), "P", (256, 512)]
DEC = [(512, 256), "U", (256, 256), (256, 256), (256, 256), (256, 128), "U", (128, 128), (128, 64), "U", (64, 64), (64, 3)]


def layers(spec, size, dt):
    out, s = [], size
    for item in spec:
        if item in ("P", "U"):
            s = s // 2 if item == "P" else s * 2
            out.append(item)
            continue
        c_in, c_out = item
        w = torch.randn(c_out, c_in, 3, 3).mul(0.05).to(dt).contiguous(memory_format=torch.channels_last)
        b = torch.zeros(c_out, dtype=dt)
        packed = torch.ops.mkldnn._reorder_convolution_weight(w, [0, 0], [1, 1], [1, 1], 1, [1, c_in, s + 2, s + 2])
        out.append((w, b, packed))
    return out


def run(x, spec, how, last_relu=True):
    n = sum(1 for item in spec if item not in ("P", "U"))
    k = 0
    for item in spec:
        if item == "P":
            x = F.max_pool2d(x, 2, 2)
        elif item == "U":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        else:
            w, b, packed = item
            k += 1
            relu = k < n or last_relu
            if how == "zero-padding":
                x = torch.conv2d(x, w, b, padding=1)
                x = torch.relu_(x) if relu else x
                continue
            xp = F.pad(x, (1, 1, 1, 1), mode="reflect")
            if how == "as adain":
                x = torch.conv2d(xp, w, b)
                x = torch.relu_(x) if relu else x
            else:
                weight = packed if how == "fused + packed" else w
                attr = "relu" if relu else "none"
                x = torch.ops.mkldnn._convolution_pointwise(xp, weight, b, [0, 0], [1, 1], [1, 1], 1, attr, [], "")
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dt = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    enc, dec = layers(ENC, a.size, dt), layers(DEC, a.size // 8, dt)
    x = torch.rand(1, 3, a.size, a.size).to(dt).contiguous(memory_format=torch.channels_last)

    def forward(how):
        with torch.no_grad():
            return run(run(x, enc, how), dec, how, last_relu=False)

    from torch.profiler import profile

    for _ in range(3):
        forward("as adain")
    with profile() as p:
        forward("as adain")
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
    for how in ["as adain", "fused conv+relu", "fused + packed", "zero-padding"] * 2:
        for _ in range(2):
            forward(how)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            forward(how)
            times.append(time.perf_counter() - t0)
        print(f"{how:<16} {a.dtype} {a.size}²: median {sorted(times)[2] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

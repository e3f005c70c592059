"""How exact Winograd F(4x4, 3x3) is in float32 and in bfloat16 (BENCHMARKS.md, "Winograd").

A 3x3 convolution of random post-ReLU activations, in float64 as the reference, against: the
direct convolution in bfloat16 (what adain's bf16 path does), and Winograd with the transformed
input and filters rounded to float32 (as adain's float32 path, csrc/winograd.cpp, holds them)
or to bfloat16 (what a bfloat16 Winograd would give to its GEMMs). Relative L2
error of the output. Run: .venv/bin/python scripts/winograd_probe.py
"""

import torch

BT = torch.tensor(
    [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
    dtype=torch.float64,
)
G = torch.tensor(
    [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
    dtype=torch.float64,
)
AT = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], dtype=torch.float64)


def winograd(x, w, dtype):
    """x [1, C, H+2, W+2] (already padded, H and W multiples of 4), w [K, C, 3, 3]; the
    transformed input and filters are rounded to `dtype` before their GEMMs."""
    n, c, hp, wp = x.shape
    k = w.shape[0]
    th, tw = (hp - 2) // 4, (wp - 2) // 4
    d = x.unfold(2, 6, 4).unfold(3, 6, 4)  # [N, C, th, tw, 6, 6]
    v = torch.einsum("ij,nctwjk,lk->ilntwc", BT, d, BT).reshape(36, -1, c)
    u = torch.einsum("ij,ocjk,lk->ilco", G, w, G).reshape(36, c, k)
    m = torch.bmm(v.to(dtype).double(), u.to(dtype).double()).reshape(6, 6, n, th, tw, k)
    y = torch.einsum("ij,jlntwk,ml->nktiwm", AT, m, AT)
    return y.reshape(n, k, th * 4, tw * 4)


def main():
    torch.manual_seed(0)
    print("channels in -> out @ side: relative L2 error of the output against float64")
    print(f"{'layer':<18} {'direct bf16':>12} {'winograd f32':>13} {'winograd bf16':>14}")
    for c, k, s in ((64, 64, 64), (256, 256, 32), (512, 256, 16)):
        x = torch.relu(torch.randn(1, c, s + 2, s + 2, dtype=torch.float64))
        w = torch.randn(k, c, 3, 3, dtype=torch.float64) / (3 * c**0.5)
        ref = torch.nn.functional.conv2d(x, w)

        def rel(y):
            return ((y.double() - ref).norm() / ref.norm()).item()

        direct_bf16 = torch.nn.functional.conv2d(x.bfloat16(), w.bfloat16())
        print(
            f"{c:>4} -> {k:<4} @ {s:<3}   {rel(direct_bf16):12.2e} {rel(winograd(x, w, torch.float32)):13.2e}"
            f" {rel(winograd(x, w, torch.bfloat16)):14.2e}"
        )


if __name__ == "__main__":
    main()

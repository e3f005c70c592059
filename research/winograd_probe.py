"""How exact Winograd F(4x4, 3x3) is in float32 and in bfloat16 (BENCHMARKS.md, "Winograd").

A 3x3 convolution of random post-ReLU activations, in float64 as the reference, against: the
direct convolution in bfloat16 (adain's bf16 path without Winograd), and Winograd with the
transformed input V and filters U rounded to float32 (adain's float32 kernel, interpolation
points 0, ±1, ±2) or to bfloat16, with points 0, ±1, ±2 or 0, ±1, 1/2, -2 (adain's bfloat16
kernel), the GEMM output M kept in float32 (as adain's bfloat16 GEMM does) or rounded to
bfloat16 too (as a bfloat16 batched GEMM would). Relative L2 error of the output.
The matrices are built from the points (Cook-Toom, as in Lavin & Gray 2016; Bᵀ solved so that
the algorithm is exact), so other point sets can be tried here.
Run: .venv/bin/python research/winograd_probe.py
"""

import torch


def matrices(points, m=4, r=3):
    """Aᵀ [m, n], G [n, r], Bᵀ [n, n] of F(m, r) for the n - 1 finite `points` and ∞."""
    n = m + r - 1
    p = [torch.tensor(float(x), dtype=torch.float64) for x in points]
    at = torch.zeros(m, n, dtype=torch.float64)
    g = torch.zeros(n, r, dtype=torch.float64)
    for j, pj in enumerate(p):
        norm = 1.0
        for q in p[:j] + p[j + 1 :]:
            norm *= pj - q
        for i in range(m):
            at[i, j] = pj**i
        for k in range(r):
            g[j, k] = pj**k / norm
    at[m - 1, n - 1] = g[n - 1, r - 1] = 1.0
    # Bᵀ from exactness: sum_j Aᵀ[i, j] G[j, k] Bᵀ[j, l] = [l == i + k] for all i, k, l.
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = torch.zeros(n, n, dtype=torch.float64)
                row[:, l] = at[i] * g[:, k]
                rows.append(row.flatten())
                rhs.append(1.0 if l == i + k else 0.0)
    a, b = torch.stack(rows), torch.tensor(rhs, dtype=torch.float64)
    bt = torch.linalg.lstsq(a, b.unsqueeze(1)).solution.reshape(n, n)
    assert (a @ bt.flatten() - b).abs().max() < 1e-9
    return at, g, bt


def winograd(x, w, points, operands, product=torch.float64):
    """x [1, C, H+2, W+2] (already padded, H and W multiples of 4), w [K, C, 3, 3]; V and U
    rounded to `operands`, M to `product`, before the output transform."""
    at, g, bt = matrices(points)
    n, c, hp, wp = x.shape
    k = w.shape[0]
    th, tw = (hp - 2) // 4, (wp - 2) // 4
    d = x.unfold(2, 6, 4).unfold(3, 6, 4)  # [N, C, th, tw, 6, 6]
    v = torch.einsum("ij,nctwjk,lk->ilntwc", bt, d, bt).reshape(36, -1, c)
    u = torch.einsum("ij,ocjk,lk->ilco", g, w, g).reshape(36, c, k)
    m = torch.bmm(v.to(operands).double(), u.to(operands).double()).to(product).double()
    y = torch.einsum("ij,jlntwk,ml->nktiwm", at, m.reshape(6, 6, n, th, tw, k), at)
    return y.reshape(n, k, th * 4, tw * 4)


def main():
    torch.manual_seed(0)
    two, half = [0, 1, -1, 2, -2], [0, 1, -1, 0.5, -2]
    bf = torch.bfloat16
    print("channels in -> out @ side: relative L2 error of the output against float64")
    print(
        f"{'layer':<18} {'direct bf16':>11} {'f32 ±2':>9} {'bf16 ±2':>9} {'bf16 ½,-2':>10} {'bf16 ½,-2, M bf16':>18}"
    )
    for c, k, s in ((64, 64, 64), (256, 256, 32), (512, 256, 16)):
        x = torch.relu(torch.randn(1, c, s + 2, s + 2, dtype=torch.float64)).bfloat16().double()
        w = torch.randn(k, c, 3, 3, dtype=torch.float64) / (3 * c**0.5)
        ref = torch.nn.functional.conv2d(x, w)

        def rel(y):
            return ((y.double() - ref).norm() / ref.norm()).item()

        direct_bf16 = torch.nn.functional.conv2d(x.bfloat16(), w.bfloat16())
        print(
            f"{c:>4} -> {k:<4} @ {s:<3}   {rel(direct_bf16):11.2e} {rel(winograd(x, w, two, torch.float32)):9.2e}"
            f" {rel(winograd(x, w, two, bf)):9.2e} {rel(winograd(x, w, half, bf)):10.2e}"
            f" {rel(winograd(x, w, half, bf, bf)):18.2e}"
        )


if __name__ == "__main__":
    main()

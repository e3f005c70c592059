// Winograd F(4×4, 3×3) convolution for the float32 inference path (src/model/winograd.rs).
//
// A 3×3 convolution with stride 1 and reflection padding 1, computed as Lavin & Gray (2016,
// "Fast Algorithms for Convolutional Neural Networks") do: the output is cut into 4×4 tiles;
// each tile's 6×6 input patch d becomes V = Bᵀ d B, each filter g becomes U = G g Gᵀ (once,
// by the caller), the 36 positions of the 6×6 transform domain are 36 independent matrix
// products M[ξ] = V[ξ] U[ξ] over the channels ([tiles × C] · [C × K], ATen's batched GEMM), and
// Y = Aᵀ M A gives the 4×4 outputs. That is 36 multiplications per 16 outputs instead of 144:
// 4× fewer than the direct convolution, at the price of two memory-bound transforms, which
// are written here as loops over channel-contiguous (NHWC) rows so that the compiler
// vectorises them across channels. The reflection padding, the bias and the ReLU are fused
// into the transforms. Only float32: with bfloat16 inputs to the GEMM the transforms amplify the
// rounding to about 2 % relative error (scripts/winograd_probe.py), 7× the direct bfloat16
// convolution's.
//
// Errors are returned as a message in `*err` (freed with adain_dist_free_str), never thrown
// across the C boundary.

#include "guarded.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace {

using adain_c::guarded;

// Channels handled at once by the transforms (a 6×6 patch of them stays in L1: 2 × 36 KiB).
constexpr int64_t kBlock = 64;
// Bytes of transformed input and GEMM output one thread keeps for a chunk of tiles.
constexpr int64_t kChunkBytes = 4 << 20;
// Fewest tiles in a chunk (the deep layers exceed the byte budget): each chunk streams all of
// U [36, C, K] through the GEMM, so a chunk needs rows enough to amortise that.
constexpr int64_t kMinChunk = 128;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ADAIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ADAIN_CLONES
#endif

// This thread's workspace of at least `floats` floats, page-aligned, grown as needed and kept.
float* workspace(size_t floats) {
  struct Buffer {
    float* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buf;
  if (buf.size < floats) {
    std::free(buf.data);
    const size_t bytes = (floats * sizeof(float) + 4095) / 4096 * 4096;
    buf.data = static_cast<float*>(std::aligned_alloc(4096, bytes));
    TORCH_CHECK(buf.data != nullptr, "winograd: out of memory for a ", bytes, "-byte workspace");
    buf.size = bytes / sizeof(float);
  }
  return buf.data;
}

// Padded coordinate p ∈ [-1, n] of the reflection-padded input, mapped into [0, n). Beyond n
// (only the tiles that overhang the image read there, and only for outputs that are cut
// off) any row inside the image does; the last one is used.
inline int64_t reflect(int64_t p, int64_t n) {
  if (p < 0) return 1;
  if (p == n) return n - 2;
  return std::min(p, n - 1);
}

// Bᵀ d B for `nc` channels of one tile: `rows[a][b]` points at the input pixel (channels
// contiguous) of the patch's row a, column b; V position ξ = 6a + e goes to `v + ξ·stride`.
ADAIN_CLONES
void input_tile(const float* const rows[6][6], int64_t nc, float* v, int64_t stride) {
  float d[6][6][kBlock];
  float t[6][6][kBlock];
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b) std::memcpy(d[a][b], rows[a][b], nc * sizeof(float));
  for (int b = 0; b < 6; ++b) {
    for (int64_t c = 0; c < nc; ++c) {
      const float d0 = d[0][b][c], d1 = d[1][b][c], d2 = d[2][b][c], d3 = d[3][b][c], d4 = d[4][b][c],
                  d5 = d[5][b][c];
      t[0][b][c] = 4 * d0 - 5 * d2 + d4;
      t[1][b][c] = -4 * d1 - 4 * d2 + d3 + d4;
      t[2][b][c] = 4 * d1 - 4 * d2 - d3 + d4;
      t[3][b][c] = -2 * d1 - d2 + 2 * d3 + d4;
      t[4][b][c] = 2 * d1 - d2 - 2 * d3 + d4;
      t[5][b][c] = 4 * d1 - 5 * d3 + d5;
    }
  }
  for (int a = 0; a < 6; ++a) {
    float* o = v + 6 * a * stride;
    for (int64_t c = 0; c < nc; ++c) {
      const float t0 = t[a][0][c], t1 = t[a][1][c], t2 = t[a][2][c], t3 = t[a][3][c], t4 = t[a][4][c],
                  t5 = t[a][5][c];
      o[c] = 4 * t0 - 5 * t2 + t4;
      o[stride + c] = -4 * t1 - 4 * t2 + t3 + t4;
      o[2 * stride + c] = 4 * t1 - 4 * t2 - t3 + t4;
      o[3 * stride + c] = -2 * t1 - t2 + 2 * t3 + t4;
      o[4 * stride + c] = 2 * t1 - t2 - 2 * t3 + t4;
      o[5 * stride + c] = 4 * t1 - 5 * t3 + t5;
    }
  }
}

// Aᵀ m A (+ bias, ReLU) for `nk` output channels of one tile: m position ξ at `m + ξ·stride`;
// output row r, column s goes to `out[r][s]` when that pointer is not null (inside the image).
ADAIN_CLONES
void output_tile(const float* m, int64_t stride, int64_t nk, const float* bias, bool relu, float* const out[4][4]) {
  float t[4][6][kBlock];
  for (int e = 0; e < 6; ++e) {
    const float* p = m + e * stride;
    for (int64_t k = 0; k < nk; ++k) {
      const float m0 = p[k], m1 = p[6 * stride + k], m2 = p[12 * stride + k], m3 = p[18 * stride + k],
                  m4 = p[24 * stride + k], m5 = p[30 * stride + k];
      t[0][e][k] = m0 + m1 + m2 + m3 + m4;
      t[1][e][k] = m1 - m2 + 2 * m3 - 2 * m4;
      t[2][e][k] = m1 + m2 + 4 * m3 + 4 * m4;
      t[3][e][k] = m1 - m2 + 8 * m3 - 8 * m4 + m5;
    }
  }
  for (int r = 0; r < 4; ++r) {
    float y[4][kBlock];
    for (int64_t k = 0; k < nk; ++k) {
      const float t0 = t[r][0][k], t1 = t[r][1][k], t2 = t[r][2][k], t3 = t[r][3][k], t4 = t[r][4][k],
                  t5 = t[r][5][k];
      const float b = bias != nullptr ? bias[k] : 0.0f;
      y[0][k] = t0 + t1 + t2 + t3 + t4 + b;
      y[1][k] = t1 - t2 + 2 * t3 - 2 * t4 + b;
      y[2][k] = t1 + t2 + 4 * t3 + 4 * t4 + b;
      y[3][k] = t1 - t2 + 8 * t3 - 8 * t4 + t5 + b;
    }
    for (int s = 0; s < 4; ++s) {
      float* o = out[r][s];
      if (o == nullptr) continue;
      if (relu) {
        for (int64_t k = 0; k < nk; ++k) o[k] = std::max(y[s][k], 0.0f);
      } else {
        std::memcpy(o, y[s], nk * sizeof(float));
      }
    }
  }
}

}  // namespace

extern "C" {

// x: float32 [N, C, H, W] (any memory format, H and W ≥ 2); u: the transformed filters,
// float32 [36, C, K] contiguous; bias: float32 [K] or null; relu: non-zero to apply ReLU.
// *out receives a new float32 [N, K, H, W] tensor in channels-last memory format.
int adain_winograd_conv(const at::Tensor* x, const at::Tensor* u, const at::Tensor* bias, int relu,
                        at::Tensor** out, char** err) {
  return guarded(err, [&] {
    TORCH_CHECK(x->scalar_type() == at::kFloat && u->scalar_type() == at::kFloat, "winograd: float32 only");
    TORCH_CHECK(x->dim() == 4 && u->dim() == 3 && u->size(0) == 36 && u->size(1) == x->size(1),
                "winograd: shapes ", x->sizes(), " and ", u->sizes(), " do not fit");
    TORCH_CHECK(x->size(2) >= 2 && x->size(3) >= 2, "winograd: reflection padding needs at least 2×2 pixels");
    const int64_t n = x->size(0), c = x->size(1), h = x->size(2), w = x->size(3), k = u->size(2);
    const at::Tensor xc = x->contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor uc = u->contiguous();
    at::Tensor b;
    if (bias != nullptr) {
      TORCH_CHECK(bias->numel() == k, "winograd: bias of ", bias->numel(), " for ", k, " channels");
      b = bias->contiguous();
    }
    const int64_t th = (h + 3) / 4, tw = (w + 3) / 4, tiles = n * th * tw;
    // Tiles are processed in chunks, each by one thread from input transform through GEMM to
    // output transform, so that the chunk's V [36, chunk, C] and M [36, chunk, K] stay in cache
    // (about kChunkBytes together) instead of making two passes over memory 2.25× the size
    // of the input and output.
    const int64_t per_tile = 36 * (c + k) * static_cast<int64_t>(sizeof(float));
    // As many chunks as fit the budget, rounded up to a multiple of the threads so that each
    // thread gets the same number (the small layers have only a few chunks).
    const int64_t threads = at::get_num_threads();
    const int64_t budget = std::max<int64_t>(kMinChunk, kChunkBytes / per_tile);
    int64_t chunks = (tiles + budget - 1) / budget;
    chunks = std::min(tiles, (chunks + threads - 1) / threads * threads);
    const int64_t chunk = (tiles + chunks - 1) / chunks;
    at::Tensor y = at::empty({n, k, h, w}, xc.options().memory_format(at::MemoryFormat::ChannelsLast));
    const float* px = xc.const_data_ptr<float>();
    const float* pb = b.defined() ? b.const_data_ptr<float>() : nullptr;
    float* py = y.mutable_data_ptr<float>();
    at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
      // One workspace per thread, kept between calls (no page faults after the first),
      // page-aligned: V, then M from the next page.
      const int64_t v_floats = (36 * chunk * c + 1023) / 1024 * 1024;
      float* pv = workspace(static_cast<size_t>(v_floats + 36 * chunk * k));
      float* pm = pv + v_floats;
      const float* rows[6][6];
      float* dst[4][4];
      for (int64_t q = first; q < last; ++q) {
        const int64_t t0 = q * chunk, tc = std::min(chunk, tiles - t0);
        for (int64_t t = 0; t < tc; ++t) {
          const int64_t tile = t0 + t, img = tile / (th * tw), i = (tile / tw) % th, j = tile % tw;
          for (int a = 0; a < 6; ++a) {
            const int64_t r = reflect(4 * i - 1 + a, h);
            for (int e = 0; e < 6; ++e) rows[a][e] = px + ((img * h + r) * w + reflect(4 * j - 1 + e, w)) * c;
          }
          for (int64_t cb = 0; cb < c; cb += kBlock) {
            const float* shifted[6][6];
            for (int a = 0; a < 6; ++a)
              for (int e = 0; e < 6; ++e) shifted[a][e] = rows[a][e] + cb;
            input_tile(shifted, std::min(kBlock, c - cb), pv + t * c + cb, tc * c);
          }
        }
        const auto opts = at::TensorOptions().dtype(at::kFloat);
        at::Tensor v = at::from_blob(pv, {36, tc, c}, opts);
        at::Tensor m = at::from_blob(pm, {36, tc, k}, opts);
        at::bmm_out(m, v, uc);  // one thread: inside parallel_for, ATen does not nest
        for (int64_t t = 0; t < tc; ++t) {
          const int64_t tile = t0 + t, img = tile / (th * tw), i = (tile / tw) % th, j = tile % tw;
          for (int64_t kb = 0; kb < k; kb += kBlock) {
            for (int r = 0; r < 4; ++r) {
              for (int e = 0; e < 4; ++e) {
                const int64_t row = 4 * i + r, col = 4 * j + e;
                dst[r][e] = row < h && col < w ? py + ((img * h + row) * w + col) * k + kb : nullptr;
              }
            }
            output_tile(pm + t * k + kb, tc * k, std::min<int64_t>(kBlock, k - kb), pb != nullptr ? pb + kb : nullptr,
                        relu != 0, dst);
          }
        }
      }
    });
    *out = new at::Tensor(std::move(y));
  });
}

// The autograd version counter of `t` (bumped by every in-place change, e.g. an optimiser
// step), so that transformed filters can be cached until the weights change.
int64_t adain_tensor_version(const at::Tensor* t) { return t->_version(); }

// Whether autograd records operations on this thread (false inside `tch::no_grad`).
int adain_grad_enabled() { return c10::GradMode::is_enabled() ? 1 : 0; }

}  // extern "C"

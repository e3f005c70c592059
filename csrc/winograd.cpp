// Winograd F(4×4, 3×3) convolution for the inference path (src/model/winograd.rs), in float32
// and in bfloat16.
//
// A 3×3 convolution with stride 1 and reflection padding 1, computed as Lavin & Gray (2016,
// "Fast Algorithms for Convolutional Neural Networks") do: the output is cut into 4×4 tiles;
// each tile's 6×6 input patch d becomes V = Bᵀ d B, each filter g becomes U = G g Gᵀ (once,
// by the caller), the 36 positions of the 6×6 transform domain are 36 independent matrix
// products M[ξ] = V[ξ] U[ξ] over the channels ([tiles × C] · [C × K]), and Y = Aᵀ M A gives the
// 4×4 outputs. That is 36 multiplications per 16 outputs instead of 144: 4× fewer than the
// direct convolution, at the price of two memory-bound transforms, which are written here as
// loops over channel-contiguous (NHWC) rows so that the compiler vectorises them across
// channels. The reflection padding, the bias and the ReLU are fused into the transforms.
//
// float32: interpolation points 0, ±1, ±2; the GEMMs are ATen's batched GEMM; 1e-6 from the
// direct result. bfloat16: points 0, ±1, ½, −2, whose transformed values are better balanced
// (relative error 1.3e-2 instead of 2.1e-2 when V and U are rounded to bfloat16); V and U in
// bfloat16, M accumulated and kept in float32 by the AVX-512 BF16 GEMM below (oneDNN's batched
// GEMM would round M to bfloat16 too). Only on CPUs with AVX-512 BF16 and without AMX.
//
// Errors are returned as a message in `*err` (freed by the Rust side, src/ffi.rs), never thrown
// across the C boundary.

#include "guarded.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <array>
#include <cstdint>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstdlib>
#include <cstring>
#include <vector>

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

// This thread's workspace of at least `bytes` bytes, page-aligned, grown as needed and kept.
char* workspace(size_t bytes) {
  struct Buffer {
    char* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buf;
  if (buf.size < bytes) {
    std::free(buf.data);
    const size_t size = (bytes + 4095) / 4096 * 4096;
    buf.data = static_cast<char*>(std::aligned_alloc(4096, size));
    TORCH_CHECK(buf.data != nullptr, "winograd: out of memory for a ", size, "-byte workspace");
    buf.size = size;
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

// bfloat16 ↔ float32. bfloat16 is the upper half of a float32; rounding to nearest even by
// integer arithmetic, so that the loops around these vectorise on any x86-64.
inline float to_float(float x) { return x; }
inline float to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline void store(float* p, float v) { *p = v; }
inline void store(uint16_t* p, float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  *p = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// The transforms of F(4×4, 3×3) with interpolation points 0, ±1, ±2 and ∞ (Lavin & Gray), for
// float32: Bᵀ (6×6) on a column of 6 inputs, Aᵀ (4×6) on a column of 6 products.
struct PointsTwo {
  static inline void bt(const float (&d)[6], float (&o)[6]) {
    o[0] = 4 * d[0] - 5 * d[2] + d[4];
    o[1] = -4 * d[1] - 4 * d[2] + d[3] + d[4];
    o[2] = 4 * d[1] - 4 * d[2] - d[3] + d[4];
    o[3] = -2 * d[1] - d[2] + 2 * d[3] + d[4];
    o[4] = 2 * d[1] - d[2] - 2 * d[3] + d[4];
    o[5] = 4 * d[1] - 5 * d[3] + d[5];
  }
  static inline void at(const float (&m)[6], float (&y)[4]) {
    y[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    y[1] = m[1] - m[2] + 2 * m[3] - 2 * m[4];
    y[2] = m[1] + m[2] + 4 * m[3] + 4 * m[4];
    y[3] = m[1] - m[2] + 8 * m[3] - 8 * m[4] + m[5];
  }
};

// The same with points 0, ±1, ½, −2 and ∞, for bfloat16 GEMM operands: the transformed values
// are better balanced, so the rounding of V and U to bfloat16 costs 1.3e-2 relative error
// instead of 2.1e-2 with ±2 (research/winograd_probe.py; Barabasz et al. 2020, "Error analysis
// and improving the accuracy of Winograd convolution for deep neural networks").
struct PointsHalf {
  static inline void bt(const float (&d)[6], float (&o)[6]) {
    o[0] = d[0] - 1.5f * d[1] - 2 * d[2] + 1.5f * d[3] + d[4];
    o[1] = -d[1] + 0.5f * d[2] + 2.5f * d[3] + d[4];
    o[2] = d[1] - 2.5f * d[2] + 0.5f * d[3] + d[4];
    o[3] = -2 * d[1] - d[2] + 2 * d[3] + d[4];
    o[4] = 0.5f * d[1] - d[2] - 0.5f * d[3] + d[4];
    o[5] = d[1] - 1.5f * d[2] - 2 * d[3] + 1.5f * d[4] + d[5];
  }
  static inline void at(const float (&m)[6], float (&y)[4]) {
    y[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    y[1] = m[1] - m[2] + 0.5f * m[3] - 2 * m[4];
    y[2] = m[1] + m[2] + 0.25f * m[3] + 4 * m[4];
    y[3] = m[1] - m[2] + 0.125f * m[3] - 8 * m[4] + m[5];
  }
};

// Bᵀ d B for `nc` channels of one tile: `rows[a][b]` points at the input pixel (channels
// contiguous) of the patch's row a, column b; V position ξ = 6a + e goes to `v + ξ·stride`.
template <class Tr, class In, class V>
__attribute__((always_inline)) inline void input_tile(const In* const rows[6][6], int64_t nc, V* v, int64_t stride) {
  float d[6][6][kBlock];
  float t[6][6][kBlock];
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b)
      for (int64_t c = 0; c < nc; ++c) d[a][b][c] = to_float(rows[a][b][c]);
  for (int b = 0; b < 6; ++b) {
    for (int64_t c = 0; c < nc; ++c) {
      const float in[6] = {d[0][b][c], d[1][b][c], d[2][b][c], d[3][b][c], d[4][b][c], d[5][b][c]};
      float o[6];
      Tr::bt(in, o);
      for (int a = 0; a < 6; ++a) t[a][b][c] = o[a];
    }
  }
  for (int a = 0; a < 6; ++a) {
    // Into a local row first: a loop that stores to six places does not vectorise, six
    // loops that each convert and store one row do.
    float row[6][kBlock];
    for (int64_t c = 0; c < nc; ++c) {
      const float in[6] = {t[a][0][c], t[a][1][c], t[a][2][c], t[a][3][c], t[a][4][c], t[a][5][c]};
      float o[6];
      Tr::bt(in, o);
      for (int e = 0; e < 6; ++e) row[e][c] = o[e];
    }
    for (int e = 0; e < 6; ++e) {
      V* dst = v + (6 * a + e) * stride;
      for (int64_t c = 0; c < nc; ++c) store(dst + c, row[e][c]);
    }
  }
}

// Aᵀ m A (+ bias, ReLU) for `nk` output channels of one tile: m position ξ at `m + ξ·stride`;
// output row r, column s goes to `out[r][s]` when that pointer is not null (inside the image).
template <class Tr, class Out>
__attribute__((always_inline)) inline void output_tile(const float* m, int64_t stride, int64_t nk, const float* bias,
                                                       bool relu, Out* const out[4][4]) {
  float t[4][6][kBlock];
  for (int e = 0; e < 6; ++e) {
    const float* p = m + e * stride;
    for (int64_t k = 0; k < nk; ++k) {
      const float in[6] = {p[k], p[6 * stride + k], p[12 * stride + k], p[18 * stride + k], p[24 * stride + k],
                           p[30 * stride + k]};
      float y[4];
      Tr::at(in, y);
      for (int r = 0; r < 4; ++r) t[r][e][k] = y[r];
    }
  }
  for (int r = 0; r < 4; ++r) {
    float y[4][kBlock];
    for (int64_t k = 0; k < nk; ++k) {
      const float in[6] = {t[r][0][k], t[r][1][k], t[r][2][k], t[r][3][k], t[r][4][k], t[r][5][k]};
      float o[4];
      Tr::at(in, o);
      const float b = bias != nullptr ? bias[k] : 0.0f;
      for (int s = 0; s < 4; ++s) y[s][k] = o[s] + b;
    }
    for (int s = 0; s < 4; ++s) {
      Out* o = out[r][s];
      if (o == nullptr) continue;
      if (relu) {
        for (int64_t k = 0; k < nk; ++k) store(o + k, std::max(y[s][k], 0.0f));
      } else {
        for (int64_t k = 0; k < nk; ++k) store(o + k, y[s][k]);
      }
    }
  }
}

// The instances, each compiled for AVX-512, AVX2 and plain x86-64 (chosen at load time).
ADAIN_CLONES
void input_tile_f32(const float* const rows[6][6], int64_t nc, float* v, int64_t stride) {
  input_tile<PointsTwo>(rows, nc, v, stride);
}
ADAIN_CLONES
void output_tile_f32(const float* m, int64_t stride, int64_t nk, const float* bias, bool relu, float* const out[4][4]) {
  output_tile<PointsTwo>(m, stride, nk, bias, relu, out);
}
ADAIN_CLONES
void input_tile_bf16(const uint16_t* const rows[6][6], int64_t nc, uint16_t* v, int64_t stride) {
  input_tile<PointsHalf>(rows, nc, v, stride);
}
ADAIN_CLONES
void output_tile_bf16(const float* m, int64_t stride, int64_t nk, const float* bias, bool relu,
                      uint16_t* const out[4][4]) {
  output_tile<PointsHalf>(m, stride, nk, bias, relu, out);
}

// Whether this CPU runs the bfloat16 GEMM below at full rate: AVX-512 BF16 (vdpbf16ps), and
// no AMX, whose tile units make oneDNN's direct bfloat16 convolution faster than any
// vdpbf16ps Winograd (BENCHMARKS.md).
bool bf16_gemm_pays() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
  static const bool pays = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && !__builtin_cpu_supports("amx-bf16");
  }();
  return pays;
#else
  return false;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define ADAIN_BF16_GEMM 1
// kRows × (16·kVecs) block of C = A · B: A bfloat16 rows (`lda` apart, `pairs` pairs of
// channels), B one packed panel [pairs][16·kVecs][2] (VNNI: the two channels of a pair side by
// side), C float32 rows `ldc` apart. kVecs·kRows accumulators of 16 floats stay in registers for
// the whole inner product.
template <int kRows, int kVecs>
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void gemm_block(const uint16_t* a, int64_t lda,
                                                                                  const uint16_t* b, int64_t pairs,
                                                                                  float* c, int64_t ldc) {
  __m512 acc[kRows][kVecs];
  for (int r = 0; r < kRows; ++r)
    for (int q = 0; q < kVecs; ++q) acc[r][q] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh bv[kVecs];
    for (int q = 0; q < kVecs; ++q) bv[q] = (__m512bh)_mm512_loadu_si512(b + (p * kVecs + q) * 32);
    for (int r = 0; r < kRows; ++r) {
      int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * p, 4);
      const __m512bh ar = (__m512bh)_mm512_set1_epi32(pair);
      for (int q = 0; q < kVecs; ++q) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], ar, bv[q]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int q = 0; q < kVecs; ++q) _mm512_storeu_ps(c + r * ldc + 16 * q, acc[r][q]);
}

// M [rows × K] (float32) = V [rows × C] (bfloat16) · U, U packed as [K/W][C/2][W][2] with
// panels of W = 32 columns (or 16, for K = 16). A block of rows at a time (then one), each
// against every panel: the rows stay in L1 while the panels stream from L2. 200 GFLOP/s a core
// on Zen 4 with W = 32, as fast as oneDNN's bfloat16 batched GEMM, whose output would be
// bfloat16 (rounding M costs another 0.3e-2). With W = 16 twice the rows share a panel load.
template <int kRows, int kVecs>
__attribute__((target("avx512f,avx512bf16"))) void gemm_panels(const uint16_t* v, const uint16_t* u, float* m,
                                                              int64_t rows, int64_t c, int64_t k) {
  constexpr int64_t kWidth = 16 * kVecs;
  int64_t i = 0;
  for (; i + kRows <= rows; i += kRows)
    for (int64_t j = 0; j < k / kWidth; ++j)
      gemm_block<kRows, kVecs>(v + i * c, c, u + j * c * kWidth, c / 2, m + i * k + j * kWidth, k);
  for (; i < rows; ++i)
    for (int64_t j = 0; j < k / kWidth; ++j)
      gemm_block<1, kVecs>(v + i * c, c, u + j * c * kWidth, c / 2, m + i * k + j * kWidth, k);
}

void gemm_bf16(const uint16_t* v, const uint16_t* u, float* m, int64_t rows, int64_t c, int64_t k, int64_t width) {
  if (width == 32)
    gemm_panels<8, 2>(v, u, m, rows, c, k);
  else
    gemm_panels<16, 1>(v, u, m, rows, c, k);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ADAIN_F32_GEMM 1
// Whether this CPU has AVX-512F: for the float32 GEMM below (else ATen's batched GEMM) and the
// last conv's kernel.
bool avx512f_here() {
  static const bool here = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
  }();
  return here;
}

// kRows × (16·kVecs) block of C = A · B in float32: A rows `lda` apart (`depth` values each),
// B rows `ldb` apart (the block's columns contiguous in each), C rows `ldc` apart. The
// accumulators stay in registers for the whole inner product; each step loads kVecs vectors of
// B and broadcasts one value of each A row.
template <int kRows, int kVecs>
__attribute__((target("avx512f"), always_inline)) inline void gemm_block_f32(const float* a, int64_t lda,
                                                                           const float* b, int64_t ldb,
                                                                           int64_t depth, float* c, int64_t ldc) {
  __m512 acc[kRows][kVecs];
  for (int r = 0; r < kRows; ++r)
    for (int q = 0; q < kVecs; ++q) acc[r][q] = _mm512_setzero_ps();
  for (int64_t p = 0; p < depth; ++p) {
    __m512 bv[kVecs];
    for (int q = 0; q < kVecs; ++q) bv[q] = _mm512_loadu_ps(b + p * ldb + 16 * q);
    for (int r = 0; r < kRows; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * lda + p]);
      for (int q = 0; q < kVecs; ++q) acc[r][q] = _mm512_fmadd_ps(ar, bv[q], acc[r][q]);
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int q = 0; q < kVecs; ++q) _mm512_storeu_ps(c + r * ldc + 16 * q, acc[r][q]);
}

// M [rows × K] = V [rows × C] · U [C × K], float32, K a multiple of 16: panels of 32 columns
// (then one of 16), a block of rows at a time against each. For the thin layers of the lite
// network (C and K of 16 to 64) it is 1.1–1.4× ATen's batched GEMM on the whole layer
// (`winograd_layers 2 f32 lite`), whose per-call overhead and blocking are made for larger
// matrices.
template <int kRows>
__attribute__((target("avx512f"))) void gemm_rows_f32(const float* v, const float* u, float* m, int64_t c, int64_t k) {
  for (int64_t j = 0; j + 32 <= k; j += 32) gemm_block_f32<kRows, 2>(v, c, u + j, k, c, m + j, k);
  if (k % 32 != 0) gemm_block_f32<kRows, 1>(v, c, u + k - 16, k, c, m + k - 16, k);
}

__attribute__((target("avx512f"))) void gemm_f32(const float* v, const float* u, float* m, int64_t rows, int64_t c,
                                                int64_t k) {
  constexpr int kRows = 12;
  int64_t i = 0;
  for (; i + kRows <= rows; i += kRows) gemm_rows_f32<kRows>(v + i * c, u, m + i * k, c, k);
  for (; i < rows; ++i) gemm_rows_f32<1>(v + i * c, u, m + i * k, c, k);
}
#endif

// Winograd convolution of x (NHWC, element type T: float or bfloat16 bits) with transformed
// filters for K output channels; `gemm(v, m, tiles)` computes M [36, tiles, K] from
// V [36, tiles, C] (element type VT) in one thread.
//
// With `up`, the convolution is of x upsampled 2× (nearest), computed without the upsampled
// map: each output pixel (2y + p, 2x + q) depends on x's rows y − 1 … y + 1 and columns
// x − 1 … x + 1 only, through a 3×3 filter made for its phase (p, q) (the 3×3 filter's rows
// that read the same input row summed, see `phase_filters` in src/model/winograd.rs), and the
// reflection pad of the upsampled map is a replication pad of x. So the kernel runs on x's own
// grid, with the four phases' filters as K = 4·K_out output channels (phase-major), and
// writes each phase's outputs to its pixels. Against the convolution of the upsampled map that
// is a quarter of the tiles to transform, and GEMMs four times as wide.
template <class T, class VT, class InputTile, class OutputTile, class Gemm>
at::Tensor winograd(const at::Tensor& xc, int64_t k, const float* pb, bool relu, bool up, at::ScalarType dtype,
                    InputTile input_tile, OutputTile output_tile, Gemm gemm) {
  const int64_t n = xc.size(0), c = xc.size(1), h = xc.size(2), w = xc.size(3);
  const int64_t phases = up ? 4 : 1, k_out = k / phases, scale = up ? 2 : 1;
  const int64_t th = (h + 3) / 4, tw = (w + 3) / 4, tiles = n * th * tw;
  // Tiles are processed in chunks, each by one thread from input transform through GEMM to
  // output transform, so that the chunk's V [36, chunk, C] and M [36, chunk, K] stay in cache
  // (about kChunkBytes together) instead of making two passes over memory 2.25× the size
  // of the input and output.
  const int64_t per_tile = 36 * (c * static_cast<int64_t>(sizeof(VT)) + k * static_cast<int64_t>(sizeof(float)));
  // As many chunks as fit the budget, rounded up to a multiple of the threads so that each
  // thread gets the same number (the small layers have only a few chunks).
  const int64_t threads = at::get_num_threads();
  const int64_t budget = std::max<int64_t>(kMinChunk, kChunkBytes / per_tile);
  int64_t chunks = (tiles + budget - 1) / budget;
  chunks = std::min(tiles, (chunks + threads - 1) / threads * threads);
  const int64_t chunk = (tiles + chunks - 1) / chunks;
  const int64_t oh = h * scale, ow = w * scale;
  at::Tensor y =
      at::empty({n, k_out, oh, ow}, xc.options().dtype(dtype).memory_format(at::MemoryFormat::ChannelsLast));
  const T* px = static_cast<const T*>(xc.const_data_ptr());
  T* py = static_cast<T*>(y.mutable_data_ptr());
  // Padded coordinate → row or column of x: reflected, or (for the phases) replicated.
  const auto source = [up](int64_t p, int64_t size) {
    return up ? std::clamp<int64_t>(p, 0, size - 1) : reflect(p, size);
  };
  // Tile number → (image, tile row, tile column).
  const auto place = [&](int64_t tile) { return std::array<int64_t, 3>{tile / (th * tw), (tile / tw) % th, tile % tw}; };
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    // One workspace per thread, kept between calls (no page faults after the first),
    // page-aligned: V, then M from the next page.
    const size_t v_bytes = (36 * chunk * c * sizeof(VT) + 4095) / 4096 * 4096;
    char* base = workspace(v_bytes + 36 * chunk * k * sizeof(float));
    VT* pv = reinterpret_cast<VT*>(base);
    float* pm = reinterpret_cast<float*>(base + v_bytes);
    const T* rows[6][6];
    T* dst[4][4];
    for (int64_t q = first; q < last; ++q) {
      const int64_t t0 = q * chunk, tc = std::min(chunk, tiles - t0);
      for (int64_t t = 0; t < tc; ++t) {
        const auto [img, i, j] = place(t0 + t);
        for (int a = 0; a < 6; ++a) {
          const int64_t r = source(4 * i - 1 + a, h);
          for (int e = 0; e < 6; ++e) rows[a][e] = px + ((img * h + r) * w + source(4 * j - 1 + e, w)) * c;
        }
        for (int64_t cb = 0; cb < c; cb += kBlock) {
          const T* shifted[6][6];
          for (int a = 0; a < 6; ++a)
            for (int e = 0; e < 6; ++e) shifted[a][e] = rows[a][e] + cb;
          input_tile(shifted, std::min(kBlock, c - cb), pv + t * c + cb, tc * c);
        }
      }
      gemm(pv, pm, tc);
      for (int64_t t = 0; t < tc; ++t) {
        const auto [img, i, j] = place(t0 + t);
        for (int64_t phase = 0; phase < phases; ++phase) {
          const int64_t dr = phase / 2, dc = phase % 2;
          for (int64_t kb = 0; kb < k_out; kb += kBlock) {
            for (int r = 0; r < 4; ++r) {
              for (int e = 0; e < 4; ++e) {
                const int64_t row = 4 * i + r, col = 4 * j + e;
                dst[r][e] = row < h && col < w
                                ? py + ((img * oh + scale * row + dr) * ow + scale * col + dc) * k_out + kb
                                : nullptr;
              }
            }
            output_tile(pm + t * k + phase * k_out + kb, tc * k, std::min<int64_t>(kBlock, k_out - kb),
                        pb != nullptr ? pb + kb : nullptr, relu, dst);
          }
        }
      }
    }
  });
  return y;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define ADAIN_THIN_CONV 1
// The last conv of a decoder (C = 16 to 64 channels in, K ≤ 4 out, full resolution). oneDNN
// vectorises it over the output channels, so 13 of 16 lanes idle (float32: 37 GFLOP/s against
// 190 for the layers before it). This kernel vectorises over 16 output pixels of a row instead,
// the layout the float32 NCHW result is written in: each input row is first turned from NHWC
// into planes ([element][column], in cache), so that one filter tap is a broadcast scalar times
// 16 neighbouring pixels, with no sums across lanes. An element is 32 bits: one float32
// channel, or a pair of bfloat16 channels, which vdpbf16ps multiplies by a pair of filter
// values and sums into float32 (so bfloat16 input costs half the instructions, and the result
// is float32, not rounded to bfloat16 as oneDNN's is).

// Output columns per strip: a strip's three planar rows stay in L2 (64 float32 channels:
// 3 × 64 × 288 × 4 B = 221 KB).
constexpr int64_t kStrip = 256;
// Output rows per work item: each item transposes two rows beyond its own.
constexpr int64_t kBand = 32;

// Lane i of r[j] becomes lane j of r[i] (a 16 × 16 transpose of 32-bit values).
__attribute__((target("avx512f"), always_inline)) inline void transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_i32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_i32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_i32x4(t[j], t[8 + j], 0xdd);
  }
}

// dst[e·P + p] = src[p·E + e] for e < E (a multiple of 8) and p < n: `n` consecutive NHWC pixels
// of E 32-bit elements into E planes P apart. 32 pixels × 8 elements at a time: each vector
// holds 8 elements of pixel p and of pixel p + 16, so one 16 × 16 transpose serves both halves.
__attribute__((target("avx512f"))) void to_planes(const uint32_t* src, int64_t e_count, int64_t n, uint32_t* dst,
                                                 int64_t stride) {
  int64_t p = 0;
  for (; p + 32 <= n; p += 32)
    for (int64_t e0 = 0; e0 < e_count; e0 += 8) {
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + (p + i) * e_count + e0));
        const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + (p + 16 + i) * e_count + e0));
        r[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      }
      transpose16(r);
      for (int j = 0; j < 8; ++j) {
        _mm512_storeu_si512(dst + (e0 + j) * stride + p, r[j]);
        _mm512_storeu_si512(dst + (e0 + j) * stride + p + 16, r[8 + j]);
      }
    }
  for (; p < n; ++p)
    for (int64_t e = 0; e < e_count; ++e) dst[e * stride + p] = src[p * e_count + e];
}

// acc += v · w: float32 FMA, or for bfloat16 pairs the pairwise dot product (vdpbf16ps).
template <bool kBf16>
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline __m512 madd(__m512 acc, __m512i v, uint32_t w) {
  if constexpr (kBf16) {
    return _mm512_dpbf16_ps(acc, (__m512bh)v, (__m512bh)_mm512_set1_epi32(static_cast<int>(w)));
  } else {
    float f;
    std::memcpy(&f, &w, 4);
    return _mm512_fmadd_ps(_mm512_castsi512_ps(v), _mm512_set1_ps(f), acc);
  }
}

// kBlocks × 16 output pixels of one row for K output channels, from column x on: the three
// planar rows `planes[dy]` (E planes `stride` apart, position q = output column + dx); w packed
// [E][3][3][4]; out[o] the row's start in output channel o; `count` ≤ 16·kBlocks of the pixels
// are written.
template <bool kBf16, int K, int kBlocks>
__attribute__((target("avx512f,avx512bf16"), always_inline)) inline void thin_pixels(
    const uint32_t* const planes[3], int64_t e_count, int64_t stride, const uint32_t* w, const float* bias, bool relu,
    float* const out[4], int64_t x, int64_t count) {
  __m512 acc[kBlocks][K];
  for (int b = 0; b < kBlocks; ++b)
    for (int o = 0; o < K; ++o) acc[b][o] = _mm512_set1_ps(bias != nullptr ? bias[o] : 0.0f);
  for (int dy = 0; dy < 3; ++dy)
    for (int64_t e = 0; e < e_count; ++e) {
      const uint32_t* src = planes[dy] + e * stride + x;
      const uint32_t* we = w + (e * 3 + dy) * 12;
      for (int dx = 0; dx < 3; ++dx) {
        __m512i v[kBlocks];
        for (int b = 0; b < kBlocks; ++b) v[b] = _mm512_loadu_si512(src + dx + 16 * b);
        for (int o = 0; o < K; ++o)
          for (int b = 0; b < kBlocks; ++b) acc[b][o] = madd<kBf16>(acc[b][o], v[b], we[dx * 4 + o]);
      }
    }
  for (int b = 0; b < kBlocks; ++b) {
    const int64_t left = count - 16 * b;
    if (left <= 0) break;
    const __mmask16 mask = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
    for (int o = 0; o < K; ++o) {
      const __m512 y = relu ? _mm512_max_ps(acc[b][o], _mm512_setzero_ps()) : acc[b][o];
      _mm512_mask_storeu_ps(out[o] + x + 16 * b, mask, y);
    }
  }
}

// One output row's strip of `len` pixels (see thin_pixels).
template <bool kBf16, int K>
__attribute__((target("avx512f,avx512bf16"))) void thin_strip(const uint32_t* const planes[3], int64_t e_count,
                                                             int64_t stride, const uint32_t* w, const float* bias,
                                                             bool relu, float* const out[4], int64_t len) {
  int64_t x = 0;
  for (; x + 64 <= len; x += 64) thin_pixels<kBf16, K, 4>(planes, e_count, stride, w, bias, relu, out, x, 64);
  for (; x < len; x += 16) thin_pixels<kBf16, K, 1>(planes, e_count, stride, w, bias, relu, out, x, len - x);
}

template <bool kBf16>
void thin_strip_k(int k, const uint32_t* const planes[3], int64_t e_count, int64_t stride, const uint32_t* w,
                  const float* bias, bool relu, float* const out[4], int64_t len) {
  switch (k) {
    case 1: return thin_strip<kBf16, 1>(planes, e_count, stride, w, bias, relu, out, len);
    case 2: return thin_strip<kBf16, 2>(planes, e_count, stride, w, bias, relu, out, len);
    case 3: return thin_strip<kBf16, 3>(planes, e_count, stride, w, bias, relu, out, len);
    default: return thin_strip<kBf16, 4>(planes, e_count, stride, w, bias, relu, out, len);
  }
}

bool thin_conv_here(bool bf16) {
  static const bool half = [] {
    __builtin_cpu_init();
    return avx512f_here() && __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return bf16 ? half : avx512f_here();
}

// x NHWC contiguous with E 32-bit elements per pixel (C float32 channels or C/2 bfloat16
// pairs), w packed [E][3][3][4] (see adain_thin_conv); float32 NCHW out.
template <bool kBf16>
at::Tensor thin_conv(const at::Tensor& xc, const std::vector<uint32_t>& w, int64_t k, const float* pb, bool relu) {
  const int64_t n = xc.size(0), h = xc.size(2), wd = xc.size(3);
  const int64_t e_count = kBf16 ? xc.size(1) / 2 : xc.size(1);
  at::Tensor y = at::empty({n, k, h, wd}, xc.options().dtype(at::kFloat));
  const uint32_t* px = static_cast<const uint32_t*>(xc.const_data_ptr());
  float* py = y.mutable_data_ptr<float>();
  const int64_t strips = (wd + kStrip - 1) / kStrip, bands = (h + kBand - 1) / kBand;
  // Planar positions per strip: kStrip + 2 columns, rounded up with room for the last block of
  // 16 to read two past its end.
  const int64_t stride = (std::min(kStrip, wd) + 2 + 15) / 16 * 16 + 16;
  at::parallel_for(0, n * strips * bands, 1, [&](int64_t first, int64_t last) {
    // Three planar rows, keyed by input row mod 3 (zeroed once: the slack past a strip's end
    // only ever feeds pixels that are not written).
    std::vector<uint32_t> ring(3 * e_count * stride, 0u);
    for (int64_t item = first; item < last; ++item) {
      const int64_t img = item / (strips * bands), s = (item / bands) % strips, band = item % bands;
      const int64_t x0 = s * kStrip, len = std::min(kStrip, wd - x0);
      const int64_t y0 = band * kBand, y1 = std::min(h, y0 + kBand);
      const uint32_t* image = px + img * h * wd * e_count;
      // Planar row of input row r (−1 ≤ r ≤ H, reflected): positions 0 … len + 1 are
      // columns x0 − 1 … x0 + len.
      const auto fill = [&](int64_t r) {
        uint32_t* dst = ring.data() + ((r + 3) % 3) * e_count * stride;
        const uint32_t* row = image + reflect(r, h) * wd * e_count;
        const int64_t a = x0 == 0 ? 1 : 0, b = x0 + len == wd ? len + 1 : len + 2;
        to_planes(row + (x0 - 1 + a) * e_count, e_count, b - a, dst + a, stride);
        for (int64_t q : {int64_t{0}, len + 1}) {
          if (q >= a && q < b) continue;
          const int64_t col = reflect(x0 - 1 + q, wd);
          for (int64_t e = 0; e < e_count; ++e) dst[e * stride + q] = row[col * e_count + e];
        }
      };
      fill(y0 - 1);
      fill(y0);
      for (int64_t yy = y0; yy < y1; ++yy) {
        fill(yy + 1);
        const uint32_t* planes[3];
        for (int dy = 0; dy < 3; ++dy) planes[dy] = ring.data() + ((yy - 1 + dy + 3) % 3) * e_count * stride;
        float* out[4];
        for (int64_t o = 0; o < k; ++o) out[o] = py + ((img * k + o) * h + yy) * wd + x0;
        thin_strip_k<kBf16>(static_cast<int>(k), planes, e_count, stride, w.data(), pb, relu, out, len);
      }
    }
  });
  return y;
}
#endif

}  // namespace

extern "C" {

// A 3×3 conv with reflection padding 1 and few output channels (see thin_conv): x float32 or
// bfloat16 [N, C, H, W] (any memory format; C a multiple of 16, H and W ≥ 2); w [K, C, 3, 3]
// of any floating type (K ≤ 4; rounded to bfloat16 for a bfloat16 x); bias [K] of any floating
// type, or null; relu non-zero to apply ReLU. *out receives a new float32 [N, K, H, W] tensor
// (contiguous NCHW). Reports an error where the CPU lacks AVX-512 (AVX-512 BF16 for bfloat16)
// or the shapes do not fit.
int adain_thin_conv(const at::Tensor* x, const at::Tensor* w, const at::Tensor* bias, int relu, at::Tensor** out,
                    char** err) {
  return guarded(err, [&] {
#ifdef ADAIN_THIN_CONV
    const bool bf16 = x->scalar_type() == at::kBFloat16;
    TORCH_CHECK(bf16 || x->scalar_type() == at::kFloat, "thin conv: float32 or bfloat16 only");
    TORCH_CHECK(thin_conv_here(bf16), "thin conv: no AVX-512", bf16 ? " BF16" : "", " on this CPU");
    TORCH_CHECK(x->dim() == 4 && x->size(1) % 16 == 0 && x->size(2) >= 2 && x->size(3) >= 2,
                "thin conv: input of shape ", x->sizes());
    const int64_t c = x->size(1);
    TORCH_CHECK(w->dim() == 4 && w->size(0) >= 1 && w->size(0) <= 4 && w->size(1) == c && w->size(2) == 3 &&
                    w->size(3) == 3,
                "thin conv: filters ", w->sizes(), " for an input of ", x->sizes());
    const int64_t k = w->size(0);
    const at::Tensor xc = x->contiguous(at::MemoryFormat::ChannelsLast);
    // The filters packed [E][dy][dx][4] (E the 32-bit elements of a pixel: a float32 channel,
    // or a bfloat16 pair, its first channel in the low half), so that a row's broadcasts are
    // read in order.
    const at::Tensor wf = w->to(at::kFloat).contiguous();
    const float* pw = wf.const_data_ptr<float>();
    const int64_t e_count = bf16 ? c / 2 : c;
    std::vector<uint32_t> packed(e_count * 36, 0u);
    for (int64_t e = 0; e < e_count; ++e)
      for (int64_t t = 0; t < 9; ++t)
        for (int64_t o = 0; o < k; ++o) {
          uint32_t v;
          if (bf16) {
            uint16_t lo, hi;
            store(&lo, pw[(o * c + 2 * e) * 9 + t]);
            store(&hi, pw[(o * c + 2 * e + 1) * 9 + t]);
            v = static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16;
          } else {
            std::memcpy(&v, pw + (o * c + e) * 9 + t, 4);
          }
          packed[(e * 9 + t) * 4 + o] = v;
        }
    at::Tensor b;
    if (bias != nullptr) {
      TORCH_CHECK(bias->numel() == k, "thin conv: bias of ", bias->numel(), " for ", k, " channels");
      b = bias->to(at::kFloat).contiguous();
    }
    const float* pb = b.defined() ? b.const_data_ptr<float>() : nullptr;
    *out = new at::Tensor(bf16 ? thin_conv<true>(xc, packed, k, pb, relu != 0)
                               : thin_conv<false>(xc, packed, k, pb, relu != 0));
#else
    TORCH_CHECK(false, "thin conv: not built for this compiler or CPU");
#endif
  });
}

// x: float32 or bfloat16 [N, C, H, W] (any memory format, H and W ≥ 2); u: the transformed
// filters, for float32 x float32 [36, C, K] contiguous (points ±2), for bfloat16 x bfloat16
// [36, K/W, C/2, W, 2] contiguous with W = 32 or 16 (points ½ and −2, packed for the GEMM; C
// even, and only where adain_winograd_bf16_supported); bias: [K] of any floating
// type, or null; relu: non-zero to apply ReLU; up: non-zero to convolve x upsampled 2×
// (nearest) instead of x, u then holding the four phases' filters (K = 4 × the output
// channels, see winograd) and the bias the output channels'. *out receives a new [N, K, H, W]
// tensor ([N, K/4, 2H, 2W] with up) of x's type in channels-last memory format.
int adain_winograd_conv(const at::Tensor* x, const at::Tensor* u, const at::Tensor* bias, int relu, int up,
                        at::Tensor** out, char** err) {
  return guarded(err, [&] {
    TORCH_CHECK(x->dim() == 4 && x->size(2) * (up ? 2 : 1) >= 2 && x->size(3) * (up ? 2 : 1) >= 2,
                "winograd: input of shape ", x->sizes(), " (reflection padding needs at least 2×2 pixels)");
    const int64_t c = x->size(1);
    const at::Tensor xc = x->contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor uc = u->contiguous();
    const bool bf16 = x->scalar_type() == at::kBFloat16;
    int64_t k = 0;
    if (bf16) {
      TORCH_CHECK(bf16_gemm_pays(), "winograd: no bfloat16 GEMM on this CPU");
      TORCH_CHECK(u->scalar_type() == at::kBFloat16 && u->dim() == 5 && u->size(0) == 36 && u->size(2) * 2 == c &&
                      (u->size(3) == 32 || u->size(3) == 16) && u->size(4) == 2,
                  "winograd: packed filters ", u->sizes(), " do not fit an input of ", c, " channels");
      k = u->size(1) * u->size(3);
    } else {
      TORCH_CHECK(x->scalar_type() == at::kFloat && u->scalar_type() == at::kFloat, "winograd: float32 or bfloat16 only");
      TORCH_CHECK(u->dim() == 3 && u->size(0) == 36 && u->size(1) == c, "winograd: shapes ", x->sizes(), " and ",
                  u->sizes(), " do not fit");
      k = u->size(2);
    }
    // With up, U holds the four phases' filters: K = 4 × the output channels.
    TORCH_CHECK(!up || k % 4 == 0, "winograd: ", k, " filters are not four phases");
    const int64_t k_out = up ? k / 4 : k;
    at::Tensor b;
    if (bias != nullptr) {
      TORCH_CHECK(bias->numel() == k_out, "winograd: bias of ", bias->numel(), " for ", k_out, " channels");
      b = bias->to(at::kFloat).contiguous();
    }
    const float* pb = b.defined() ? b.const_data_ptr<float>() : nullptr;
    at::Tensor y;
    if (bf16) {
#ifdef ADAIN_BF16_GEMM
      const uint16_t* pu = static_cast<const uint16_t*>(uc.const_data_ptr());
      const int64_t width = u->size(3);
      y = winograd<uint16_t, uint16_t>(xc, k, pb, relu != 0, up != 0, at::kBFloat16, input_tile_bf16, output_tile_bf16,
                                       [&](const uint16_t* v, float* m, int64_t tc) {
                                         for (int xi = 0; xi < 36; ++xi)
                                           gemm_bf16(v + xi * tc * c, pu + xi * c * k, m + xi * tc * k, tc, c, k, width);
                                       });
#endif
    } else {
#ifdef ADAIN_F32_GEMM
      // ADAIN_WINOGRAD_BMM=1 keeps ATen's batched GEMM, to compare the two in one build.
      static const bool bmm = std::getenv("ADAIN_WINOGRAD_BMM") != nullptr;
      // Only for the thin layers, where it is faster; from 128 channels on ATen's is as fast
      // (`winograd_layers 2 f32`: 438 against 447 ms over the VGG model's layers) and sums in
      // blocks, which keeps tiled and whole stylizations of the VGG model within 1e-4.
      if (k % 16 == 0 && c <= 64 && k <= (up ? 128 : 64) && avx512f_here() && !bmm) {
        const float* pu = uc.const_data_ptr<float>();
        y = winograd<float, float>(xc, k, pb, relu != 0, up != 0, at::kFloat, input_tile_f32, output_tile_f32,
                                   [&](const float* v, float* m, int64_t tc) {
                                     for (int xi = 0; xi < 36; ++xi)
                                       gemm_f32(v + xi * tc * c, pu + xi * c * k, m + xi * tc * k, tc, c, k);
                                   });
        *out = new at::Tensor(std::move(y));
        return;
      }
#endif
      y = winograd<float, float>(xc, k, pb, relu != 0, up != 0, at::kFloat, input_tile_f32, output_tile_f32,
                                 [&](const float* v, float* m, int64_t tc) {
                                   const auto opts = at::TensorOptions().dtype(at::kFloat);
                                   at::Tensor vt = at::from_blob(const_cast<float*>(v), {36, tc, c}, opts);
                                   at::Tensor mt = at::from_blob(m, {36, tc, k}, opts);
                                   at::bmm_out(mt, vt, uc);  // one thread: inside parallel_for, ATen does not nest
                                 });
    }
    *out = new at::Tensor(std::move(y));
  });
}

// The direct convolution with the ReLU fused into it: oneDNN's convolution with a ReLU
// post-op (`mkldnn::_convolution_pointwise`, what torch.compile's CPU backend calls), on `x`
// already padded; stride `stride` (1 or 2), no padding, `w` and `bias` (or null) of x's type. Saves the pass
// over the output that a separate ReLU makes (memory-bound: on a CPU with AMX a bfloat16 ReLU
// costs half as much as the convolution before it). *out receives a new tensor.
int adain_conv_relu(const at::Tensor* x, const at::Tensor* w, const at::Tensor* bias, int64_t stride, at::Tensor** out,
                    char** err) {
  return guarded(err, [&] {
    static const c10::OperatorHandle op =
        c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_convolution_pointwise", "");
    std::vector<c10::IValue> stack;
    stack.emplace_back(*x);
    stack.emplace_back(*w);
    stack.emplace_back(bias != nullptr ? c10::IValue(*bias) : c10::IValue());
    stack.emplace_back(std::vector<int64_t>{0, 0});
    stack.emplace_back(std::vector<int64_t>{stride, stride});
    stack.emplace_back(std::vector<int64_t>{1, 1});
    stack.emplace_back(int64_t{1});
    stack.emplace_back(std::string("relu"));
    stack.emplace_back(c10::List<std::optional<at::Scalar>>());
    stack.emplace_back(c10::IValue());
    op.callBoxed(&stack);
    *out = new at::Tensor(stack[0].toTensor());
  });
}

// Whether adain_thin_conv runs here for float32 (bf16 = 0) or bfloat16 (bf16 ≠ 0) input.
int adain_thin_conv_supported(int bf16) {
#ifdef ADAIN_THIN_CONV
  return thin_conv_here(bf16 != 0) ? 1 : 0;
#else
  return 0;
#endif
}

// Whether the bfloat16 kernel runs here, and pays: see bf16_gemm_pays.
int adain_winograd_bf16_supported() { return bf16_gemm_pays() ? 1 : 0; }

// The autograd version counter of `t` (bumped by every in-place change, e.g. an optimiser
// step), so that transformed filters can be cached until the weights change.
int64_t adain_tensor_version(const at::Tensor* t) { return t->_version(); }

// Whether autograd records operations on this thread (false inside `tch::no_grad`).
int adain_grad_enabled() { return c10::GradMode::is_enabled() ? 1 : 0; }

}  // extern "C"

// The kernels, written once against the vector layer (V, W, vload, vfma, vexp, ...) and compiled once per
// instruction set: kernels_<isa>.cpp defines OWNLM_ISA_NS and OWNLM_KERNEL_TABLE, includes its simd_<isa>.h,
// then this file. Everything but the table has internal linkage (see simd_avx2.h for why).
//
// Determinism: every output element is reduced in an order fixed by the shapes alone (block sizes are
// constants, never derived from the thread count, and no kernel reduces across threads), so results are
// bit-identical for any thread count on a given instruction set.
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "pool.h"

namespace OWNLM_ISA_NS {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

template <class F>
void task_thunk(void* ctx, int64_t task, int thread) {
  (*static_cast<F*>(ctx))(task, thread);
}
/** Runs f(task, thread) for task in [0, tasks) on the pool. */
template <class F>
void parallel_tasks(int64_t tasks, F f) {
  ownlm_pool_run(tasks, &task_thunk<F>, &f);
}

// Elementwise kernels split n into chunks of this many values: large enough that a task (~10 µs) dwarfs the
// hand-off cost, small enough that 2 threads are busy from about 64K values up.
constexpr int64_t kChunk = 32768;

template <class F>
void parallel_chunks(int64_t n, F f) {
  parallel_tasks(ceil_div(n, kChunk), [&](int64_t t, int) {
    int64_t begin = t * kChunk;
    f(begin, imin(n, begin + kChunk));
  });
}

/** Rows per task so that a task covers about kChunk values. */
inline int64_t rows_per_task(int64_t cols) { return imax(1, kChunk / imax(1, cols)); }

template <class F>
void parallel_rows(int64_t rows, int64_t cols, F f) {
  int64_t per = rows_per_task(cols);
  parallel_tasks(ceil_div(rows, per), [&](int64_t t, int) {
    int64_t begin = t * per;
    f(begin, imin(rows, begin + per));
  });
}

/** Applies op to n values, W at a time with a masked tail. */
template <class F>
inline void map_lanes(int64_t n, F op) {
  int64_t i = 0;
  for (; i + W <= n; i += W) op(i, W);
  if (i < n) op(i, static_cast<int>(n - i));
}
inline V vload_part(const float* p, int count) { return count == W ? vload(p) : vloadn(p, count); }
inline void vstore_part(float* p, V v, int count) {
  if (count == W) vstore(p, v);
  else vstoren(p, v, count);
}

// ---------------------------------------------------------------------------------------------------------
// GEMM: GotoBLAS/BLIS structure. For each NC-wide column panel and KC-deep slice, B is packed into NR-wide
// slivers (kept in L1 while a micro-kernel runs over it) and, for each MC-tall row block, A into MR-tall
// slivers (kept in L2). The micro-kernel holds an MR x NR block of C in registers across the KC slice.

constexpr int MR = kGemmMR;
constexpr int NR = kGemmNV * W;
// KC x NR floats of B (16 KiB for AVX2) stay in a 32 KiB L1; MC x KC of A (144 KiB) in a 512 KiB+ L2.
constexpr int64_t KC = 256;
constexpr int64_t MC = 144;
constexpr int64_t NC = 4096;
static_assert(MC % MR == 0 && NC % NR == 0, "blocks must hold whole slivers");
// Slack after the packed A block: pack_a's 8 x 8 transposes store 8 floats per step even when MR is 6.
constexpr int64_t kPackSpill = 8;

struct Gemm {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha, beta;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
};

// Packing reads the source along its rows (hardware prefetchers follow those; walking a column of a
// sliver jumps a row stride per element and waits on memory for each).

/** Packs rows [i0, i0+mc) x columns [p0, p0+kc) of op(A) as MR-row slivers, k-major, zero-padded rows.
 * May write up to kPackSpill floats past the last sliver. */
void pack_a(const Gemm& g, const float* a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  if (g.trans_a) {
    // op(A)(i, p) = A[p][i]: row p of A holds step p of every sliver.
    for (int64_t p = 0; p < kc; p++) {
      const float* src = a + (p0 + p) * g.lda + i0;
      for (int64_t s = 0; s < mc; s += MR) {
        const int rows = static_cast<int>(imin(MR, mc - s));
        float* out = dst + s * kc + p * MR;
        if (W >= MR) {
          // A plain load while it stays inside the block's columns, a masked one at the edge.
          store_mr(out, s + W <= mc ? vload(src + s) : vloadn(src + s, rows));
          continue;
        }
        int r = 0;
        for (; r < rows; r++) out[r] = src[s + r];
        for (; r < MR; r++) out[r] = 0.0f;
      }
    }
    return;
  }
  for (int64_t s = 0; s < mc; s += MR) {
    const int rows = static_cast<int>(imin(MR, mc - s));
    float* out = dst + s * kc;
    const float* src = a + (i0 + s) * g.lda + p0;
    int64_t p = 0;
    if (kHasTranspose8 && MR <= 8) {
      // Row-major A is transposed into the sliver 8 columns at a time.
      for (; p + 8 <= kc; p += 8) transpose8(src + p, g.lda, rows, out + p * MR, MR);
    }
    for (; p < kc; p++) {
      int r = 0;
      for (; r < rows; r++) out[p * MR + r] = src[r * g.lda + p];
      for (; r < MR; r++) out[p * MR + r] = 0.0f;
    }
  }
}

/** Packs rows [p0, p0+kc) x columns [j0, j0+nc) of op(B) as NR-column slivers, zero-padded columns. */
void pack_b(const Gemm& g, const float* b, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  if (!g.trans_b) {
    // Row p of B holds step p of every sliver.
    for (int64_t p = 0; p < kc; p++) {
      const float* src = b + (p0 + p) * g.ldb + j0;
      for (int64_t s = 0; s < nc; s += NR) {
        float* out = dst + s * kc + p * NR;
        const int64_t cols = imin(NR, nc - s);
        for (int v = 0; v < kGemmNV; v++) {
          const int n = static_cast<int>(imax(0, imin(W, cols - v * W)));
          vstore(out + v * W, n > 0 ? vload_part(src + s + v * W, n) : vzero());
        }
      }
    }
    return;
  }
  for (int64_t s = 0; s < nc; s += NR) {
    const int64_t cols = imin(NR, nc - s);
    float* out = dst + s * kc;
    // op(B)(p, j) = B[j][p]: 8 x 8 transposes of B's rows into the sliver's columns.
    int64_t p = 0;
    if (kHasTranspose8 && NR % 8 == 0) {
      for (; p + 8 <= kc; p += 8) {
        for (int64_t j = 0; j < NR; j += 8) {
          const float* src = b + (j0 + s + j) * g.ldb + p0 + p;
          transpose8(src, g.ldb, static_cast<int>(imax(0, imin(8, cols - j))), out + p * NR + j, NR);
        }
      }
    }
    for (; p < kc; p++) {
      int64_t j = 0;
      for (; j < cols; j++) out[p * NR + j] = b[(j0 + s + j) * g.ldb + p0 + p];
      for (; j < NR; j++) out[p * NR + j] = 0.0f;
    }
  }
}

/** C[mr x nr] = alpha · (packed A sliver · packed B sliver) + beta · C; beta == 0 never reads C. */
void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb, float* c, int64_t ldc,
                  float alpha, float beta, int mr, int nr) {
  V acc[MR][kGemmNV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
    for (int v = 0; v < kGemmNV; v++) acc[r][v] = vzero();
    // C is touched only after the k loop; start fetching its lines now.
    __builtin_prefetch(c + r * ldc, 1, 3);
    __builtin_prefetch(c + r * ldc + NR - 1, 1, 3);
  }
  for (int64_t p = 0; p < kc; p++) {
    V bv[kGemmNV];
#pragma GCC unroll 4
    for (int v = 0; v < kGemmNV; v++) bv[v] = vload(pb + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      V av = vset1(pa[r]);
#pragma GCC unroll 4
      for (int v = 0; v < kGemmNV; v++) acc[r][v] = vfma(av, bv[v], acc[r][v]);
    }
    pa += MR;
    pb += NR;
  }
  const V va = vset1(alpha);
  const V vb = vset1(beta);
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
      for (int v = 0; v < kGemmNV; v++) {
        float* cp = c + r * ldc + v * W;
        V out = vmul(va, acc[r][v]);
        vstore(cp, beta == 0.0f ? out : vfma(vb, vload(cp), out));
      }
    }
    return;
  }
  for (int r = 0; r < mr; r++) {
    for (int v = 0; v < kGemmNV; v++) {
      int cols = nr - v * W;
      if (cols <= 0) break;
      if (cols > W) cols = W;
      float* cp = c + r * ldc + v * W;
      V out = vmul(va, acc[r][v]);
      vstore_part(cp, beta == 0.0f ? out : vfma(vb, vload_part(cp, cols), out), cols);
    }
  }
}

/** C[i0:i1, j0:j1] of one product; the KC slicing of k starts at 0 whatever the block, so every element
 * is summed the same way however the matrix is split among tasks. */
void gemm_block(const Gemm& g, const float* a, const float* b, float* c, int64_t i0, int64_t i1, int64_t j0,
                int64_t j1, int thread) {
  float* pb = ownlm_pool_scratch(thread, 0, static_cast<size_t>(KC * imin(NC, round_up(j1 - j0, NR))));
  float* pa = ownlm_pool_scratch(thread, 1, static_cast<size_t>(MC * KC + kPackSpill));
  for (int64_t jc = j0; jc < j1; jc += NC) {
    int64_t nc = imin(NC, j1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      int64_t kc = imin(KC, g.k - pc);
      float beta = pc == 0 ? g.beta : 1.0f;
      pack_b(g, b, pc, kc, jc, nc, pb);
      for (int64_t ic = i0; ic < i1; ic += MC) {
        int64_t mc = imin(MC, i1 - ic);
        pack_a(g, a, ic, mc, pc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          for (int64_t ir = 0; ir < mc; ir += MR) {
            micro_kernel(kc, pa + ir * kc, pb + jr * kc, c + (ic + ir) * g.ldc + jc + jr, g.ldc, g.alpha, beta,
                         static_cast<int>(imin(MR, mc - ir)), static_cast<int>(imin(NR, nc - jr)));
          }
        }
      }
    }
  }
}

void gemm_scale_c(float* c, int64_t m, int64_t n, int64_t ldc, float beta) {
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
  }
}

// Few rows of C (token-by-token generation): packing B would cost as much as the product, so B is streamed
// once instead. With transB each C element is a dot product of two contiguous rows; otherwise C's rows
// are sums of B's rows weighted by A, kept in registers two vectors of columns at a time.
constexpr int64_t kFewRows = 4;
constexpr int64_t kMinChunk = 256;

inline void store_c(float* cp, float acc, float alpha, float beta) {
  const float out = alpha * acc;
  *cp = beta == 0.0f ? out : beta * *cp + out;
}

template <int M>
void few_rows_dot(int64_t k, const float* const* arow, const float* b, int64_t ldb, float* c, int64_t ldc,
                  int64_t j0, int64_t j1, float alpha, float beta) {
  for (int64_t j = j0; j < j1; j++) {
    const float* bj = b + j * ldb;
    V acc[M][2];
    for (int i = 0; i < M; i++) acc[i][0] = acc[i][1] = vzero();
    int64_t p = 0;
    for (; p + 2 * W <= k; p += 2 * W) {
      const V b0 = vload(bj + p), b1 = vload(bj + p + W);
      for (int i = 0; i < M; i++) {
        acc[i][0] = vfma(vload(arow[i] + p), b0, acc[i][0]);
        acc[i][1] = vfma(vload(arow[i] + p + W), b1, acc[i][1]);
      }
    }
    for (; p < k; p += W) {
      const int n = static_cast<int>(imin(W, k - p));
      const V b0 = vload_part(bj + p, n);
      for (int i = 0; i < M; i++) acc[i][0] = vfma(vload_part(arow[i] + p, n), b0, acc[i][0]);
    }
    for (int i = 0; i < M; i++) store_c(c + i * ldc + j, vhsum(vadd(acc[i][0], acc[i][1])), alpha, beta);
  }
}

template <int M>
void few_rows_axpy(int64_t k, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb, float* c,
                   int64_t ldc, int64_t j0, int64_t j1, float alpha, float beta) {
  const V va = vset1(alpha), vb = vset1(beta);
  for (int64_t j = j0; j < j1; j += 2 * W) {
    const int cols = static_cast<int>(imin(2 * W, j1 - j));
    const int n0 = cols < W ? cols : W, n1 = cols - n0;
    V acc[M][2];
    for (int i = 0; i < M; i++) acc[i][0] = acc[i][1] = vzero();
    for (int64_t p = 0; p < k; p++) {
      const float* bp = b + p * ldb + j;
      const V b0 = vload_part(bp, n0);
      const V b1 = n1 > 0 ? vload_part(bp + W, n1) : vzero();
      for (int i = 0; i < M; i++) {
        const V ai = vset1(a[i * a_row + p * a_col]);
        acc[i][0] = vfma(ai, b0, acc[i][0]);
        acc[i][1] = vfma(ai, b1, acc[i][1]);
      }
    }
    for (int i = 0; i < M; i++) {
      float* cp = c + i * ldc + j;
      for (int v = 0; v < 2; v++) {
        const int n = v == 0 ? n0 : n1;
        if (n <= 0) continue;
        const V out = vmul(va, acc[i][v]);
        vstore_part(cp + v * W, beta == 0.0f ? out : vfma(vb, vload_part(cp + v * W, n), out), n);
      }
    }
  }
}

template <int M>
void few_rows(const Gemm& g, const float* a, const float* b, float* c, int64_t j0, int64_t j1, int thread) {
  if (!g.trans_b) {
    const int64_t a_row = g.trans_a ? 1 : g.lda, a_col = g.trans_a ? g.lda : 1;
    few_rows_axpy<M>(g.k, a, a_row, a_col, b, g.ldb, c, g.ldc, j0, j1, g.alpha, g.beta);
    return;
  }
  const float* rows[M];
  if (g.trans_a) {
    float* gathered = ownlm_pool_scratch(thread, 2, static_cast<size_t>(M * g.k));
    for (int i = 0; i < M; i++) {
      for (int64_t p = 0; p < g.k; p++) gathered[i * g.k + p] = a[p * g.lda + i];
      rows[i] = gathered + i * g.k;
    }
  } else {
    for (int i = 0; i < M; i++) rows[i] = a + i * g.lda;
  }
  few_rows_dot<M>(g.k, rows, b, g.ldb, c, g.ldc, j0, j1, g.alpha, g.beta);
}

void gemm_few_rows(const Gemm& g, int64_t batch, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  const int threads = ownlm_pool_threads();
  const double flops = 2.0 * static_cast<double>(g.m) * g.n * g.k * batch;
  const int64_t per = threads > 1 && flops > 2e6 ? imax(4 * W, round_up(ceil_div(g.n, 2 * threads), 2 * W)) : g.n;
  const int64_t chunks = ceil_div(g.n, per);
  parallel_tasks(batch * chunks, [&](int64_t t, int thread) {
    const int64_t bi = t / chunks, j0 = (t % chunks) * per, j1 = imin(g.n, j0 + per);
    const float* a = g.a + bi * stride_a;
    const float* b = g.b + bi * stride_b;
    float* c = g.c + bi * stride_c;
    switch (g.m) {
      case 1: few_rows<1>(g, a, b, c, j0, j1, thread); break;
      case 2: few_rows<2>(g, a, b, c, j0, j1, thread); break;
      case 3: few_rows<3>(g, a, b, c, j0, j1, thread); break;
      default: few_rows<4>(g, a, b, c, j0, j1, thread); break;
    }
  });
}

void gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch, int64_t stride_a,
              int64_t stride_b, int64_t stride_c) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  Gemm g{trans_a != 0, trans_b != 0, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc};
  if (k <= 0) {
    for (int64_t bi = 0; bi < batch; bi++) gemm_scale_c(c + bi * stride_c, m, n, ldc, beta);
    return;
  }
  if (m <= kFewRows) {
    gemm_few_rows(g, batch, stride_a, stride_b, stride_c);
    return;
  }
  // Split each product into row x column chunks of whole slivers by halving the longer side: first until
  // every thread has a chunk, then up to two per thread (dynamic balance on a busy machine) while chunks
  // keep at least kMinChunk rows and columns, because each chunk packs its own copy of the A rows and B
  // columns it needs, an overhead of about 32 / (chunk side) of the compute for each operand.
  const int threads = ownlm_pool_threads();
  const double flops = 2.0 * static_cast<double>(m) * n * k * batch;
  const int64_t m_tiles = ceil_div(m, MR), n_tiles = ceil_div(n, NR);
  int64_t cm = m_tiles, cn = n_tiles;
  if (threads > 1 && flops > 2e6) {
    auto count = [&] { return batch * ceil_div(m_tiles, cm) * ceil_div(n_tiles, cn); };
    auto halve = [&](int64_t min_side) {
      const bool can_rows = cm > 1 && ceil_div(cm, 2) * MR >= min_side;
      const bool can_cols = cn > 1 && ceil_div(cn, 2) * NR >= min_side;
      if (can_rows && (cm * MR >= cn * NR || !can_cols)) cm = ceil_div(cm, 2);
      else if (can_cols) cn = ceil_div(cn, 2);
      else return false;
      return true;
    };
    while (count() < threads && halve(0)) {
    }
    while (count() < 2 * threads && halve(kMinChunk)) {
    }
  }
  int64_t mb = ceil_div(m_tiles, cm), nb = ceil_div(n_tiles, cn);
  parallel_tasks(batch * mb * nb, [&](int64_t t, int thread) {
    int64_t bi = t / (mb * nb);
    int64_t rest = t % (mb * nb);
    int64_t i0 = (rest / nb) * cm * MR, j0 = (rest % nb) * cn * NR;
    gemm_block(g, a + bi * stride_a, b + bi * stride_b, c + bi * stride_c, i0, imin(m, i0 + cm * MR), j0,
               imin(n, j0 + cn * NR), thread);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Small dense products on tiles (attention): C[M x N] (+)= A[M x K] · B[K x N], N a multiple of W. Six rows
// by two vectors of C (12 independent FMA chains) stay in registers over the K loop; B rows are read straight
// from the tile buffers.

template <int R, int NV>
inline void tile_block(int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                       bool accumulate) {
  V acc[R][NV];
  for (int r = 0; r < R; r++) {
    for (int v = 0; v < NV; v++) acc[r][v] = accumulate ? vload(c + r * ldc + v * W) : vzero();
  }
  for (int64_t p = 0; p < K; p++) {
    V bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = vload(b + p * ldb + v * W);
    for (int r = 0; r < R; r++) {
      V av = vset1(a[r * lda + p]);
      for (int v = 0; v < NV; v++) acc[r][v] = vfma(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; r++) {
    for (int v = 0; v < NV; v++) vstore(c + r * ldc + v * W, acc[r][v]);
  }
}

template <int R>
inline void tile_rows(int64_t N, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                      int64_t ldc, bool accumulate) {
  int64_t j = 0;
  for (; j + 2 * W <= N; j += 2 * W) tile_block<R, 2>(K, a, lda, b + j, ldb, c + j, ldc, accumulate);
  for (; j < N; j += W) tile_block<R, 1>(K, a, lda, b + j, ldb, c + j, ldc, accumulate);
}

void tile_mm(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc, bool accumulate) {
  int64_t i = 0;
  for (; i + 6 <= M; i += 6) tile_rows<6>(N, K, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
  for (; i + 2 <= M; i += 2) tile_rows<2>(N, K, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
  for (; i < M; i++) tile_rows<1>(N, K, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
}

// ---------------------------------------------------------------------------------------------------------
// RMSNorm.

void rmsnorm_forward(const float* x, const float* weight, float* out, float* rstd, int64_t rows, int64_t dim,
                     double eps) {
  parallel_rows(rows, dim, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * dim;
      V ss = vzero();
      map_lanes(dim, [&](int64_t i, int n) {
        V xv = vload_part(xr + i, n);
        ss = vfma(xv, xv, ss);
      });
      float inv = static_cast<float>(1.0 / sqrt(static_cast<double>(vhsum(ss)) / dim + eps));
      rstd[r] = inv;
      V vi = vset1(inv);
      float* o = out + r * dim;
      map_lanes(dim, [&](int64_t i, int n) {
        vstore_part(o + i, vmul(vmul(vload_part(xr + i, n), vi), vload_part(weight + i, n)), n);
      });
    }
  });
}

// The weight gradient is a sum over rows; it is split by columns (each task owns a strip of dweight and
// walks all rows in order) rather than by rows, so no partial sums are merged and the order never changes.
constexpr int64_t kColumnStrip = 64;

/** Column strips of kColumnStrip when the matrix is large enough to share out, else one strip. */
inline int64_t strip_width(int64_t rows, int64_t cols) { return rows * cols >= 2 * kChunk ? kColumnStrip : cols; }

// dweight is summed before dx is written, so dx may be the same buffer as dout.
void rmsnorm_backward(const float* dout, const float* x, const float* weight, const float* rstd, float* dx,
                      float* dweight, int64_t rows, int64_t dim) {
  if (dim <= 0) return;
  const int64_t width = strip_width(rows, dim);
  parallel_tasks(ceil_div(dim, width), [&](int64_t t, int) {
    const int64_t c0 = t * width, c1 = imin(dim, c0 + width);
    map_lanes(c1 - c0, [&](int64_t i, int n) {
      V acc = vload_part(dweight + c0 + i, n);
      for (int64_t r = 0; r < rows; r++) {
        V g = vmul(vload_part(dout + r * dim + c0 + i, n), vload_part(x + r * dim + c0 + i, n));
        acc = vfma(g, vset1(rstd[r]), acc);
      }
      vstore_part(dweight + c0 + i, acc, n);
    });
  });
  parallel_rows(rows, dim, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* dr = dout + r * dim;
      const float* xr = x + r * dim;
      V dot = vzero();
      map_lanes(dim, [&](int64_t i, int n) {
        dot = vfma(vmul(vload_part(dr + i, n), vload_part(weight + i, n)), vload_part(xr + i, n), dot);
      });
      const float rs = rstd[r];
      const V coef = vset1(rs * rs * rs * vhsum(dot) / static_cast<float>(dim));
      const V vr = vset1(rs);
      float* o = dx + r * dim;
      map_lanes(dim, [&](int64_t i, int n) {
        V g = vmul(vmul(vload_part(dr + i, n), vload_part(weight + i, n)), vr);
        vstore_part(o + i, vsub(g, vmul(vload_part(xr + i, n), coef)), n);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Rotary embedding (rotate_half pairing i with i + headDim/2).

void rope_apply(const float* x, float* out, const float* cos_table, const float* sin_table, int64_t batch,
                int64_t seq, int64_t heads, int64_t head_dim, int64_t position_offset, int inverse) {
  int64_t half = head_dim / 2;
  int64_t row = heads * head_dim;
  parallel_rows(batch * seq, row, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t t = r % seq;
      const float* cs = cos_table + (position_offset + t) * half;
      const float* sn = sin_table + (position_offset + t) * half;
      for (int64_t h = 0; h < heads; h++) {
        const float* xi = x + r * row + h * head_dim;
        float* o = out + r * row + h * head_dim;
        map_lanes(half, [&](int64_t i, int n) {
          V c = vload_part(cs + i, n);
          V s = vload_part(sn + i, n);
          if (inverse) s = vsub(vzero(), s);
          V x1 = vload_part(xi + i, n);
          V x2 = vload_part(xi + half + i, n);
          vstore_part(o + i, vfma(x1, c, vmul(vsub(vzero(), x2), s)), n);
          vstore_part(o + half + i, vfma(x2, c, vmul(x1, s)), n);
        });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Attention, flash style: queries in blocks of BR, keys in blocks of BC; scores exist only as BR x BC tiles.

constexpr int64_t BR = 32;
constexpr int64_t BC = 64;
static_assert(BC % W == 0, "key blocks must be whole vectors");

/** Number of keys query i may see, in [0, seq_k]. */
inline int64_t visible_keys(const ownlm_attention_shape& s, int64_t i) {
  return imax(0, imin(s.seq_k, i + s.query_offset + 1));
}

/** Copies rows [r0, r0+rows) of one head of a [.., seq, heads, d] tensor into a rows x dpad buffer, times
 * factor, zero-padded to dpad columns. */
void gather_head(const float* src, int64_t row_stride, int64_t r0, int64_t rows, int64_t d, int64_t dpad,
                 float* dst, float factor = 1.0f) {
  const V f = vset1(factor);
  for (int64_t r = 0; r < rows; r++) {
    const float* in = src + (r0 + r) * row_stride;
    float* out = dst + r * dpad;
    int64_t e = 0;
    for (; e + W <= d; e += W) vstore(out + e, vmul(vload(in + e), f));
    if (e < d) vstore(out + e, vmul(vloadn(in + e, static_cast<int>(d - e)), f));
  }
}

/** dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols; rows up to rows_pad (<= ldd, a multiple of 8)
 * are zeros. */
void transpose_into(const float* src, int64_t lds, int64_t rows, int64_t rows_pad, int64_t cols, float* dst,
                    int64_t ldd) {
  int64_t c = 0;
  if (kHasTranspose8 && ldd >= 8) {
    for (; c + 8 <= cols; c += 8) {
      int64_t r = 0;
      for (; r + 8 <= rows_pad; r += 8) {
        transpose8(src + r * lds + c, lds, static_cast<int>(imax(0, imin(8, rows - r))), dst + c * ldd + r, ldd);
      }
    }
  }
  for (; c < cols; c++) {
    int64_t r = 0;
    for (; r < rows; r++) dst[c * ldd + r] = src[r * lds + c];
    for (; r < rows_pad; r++) dst[c * ldd + r] = 0.0f;
  }
}

inline size_t aligned_floats(int64_t n) { return static_cast<size_t>(round_up(n, 16)); }

/** Zeros lanes n..W-1 of v. */
inline V vkeep_first(V v, int64_t n) {
  if (n >= W) return v;
  alignas(64) float lanes[W];
  vstore(lanes, v);
  for (int64_t i = n < 0 ? 0 : n; i < W; i++) lanes[i] = 0.0f;
  return vload(lanes);
}

// Forward: a task is one (batch, query head, chunk of up to QCHUNK queries); each key block is packed once
// (Kᵀ and V, zero-padded) and used by every BR-query tile of the chunk that sees it.
constexpr int64_t QCHUNK = 4 * BR;

void attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                       const ownlm_attention_shape* shape) {
  const ownlm_attention_shape s = *shape;
  const int64_t d = s.head_dim, dpad = round_up(d, W);
  const int64_t group = s.heads_q / s.heads_kv;
  const int64_t q_stride = s.heads_q * d, kv_stride = s.heads_kv * d;
  const int64_t chunks = ceil_div(s.seq_q, QCHUNK);
  const int64_t units = s.batch * s.heads_q;
  const float neg_inf = -__builtin_inff();
  const size_t scratch = 2 * aligned_floats(QCHUNK * dpad) + aligned_floats(BR * BC) + aligned_floats(d * BC) +
                         aligned_floats(BC * dpad) + 2 * aligned_floats(QCHUNK);
  // Causal chunks near the end of the sequence see the most keys; hand those out first.
  parallel_tasks(units * chunks, [&](int64_t t, int thread) {
    const int64_t chunk = chunks - 1 - t / units;
    const int64_t b = (t % units) / s.heads_q, h = (t % units) % s.heads_q, kvh = h / group;
    const int64_t c0 = chunk * QCHUNK, rows = imin(QCHUNK, s.seq_q - c0);
    const float* kh = k + b * s.seq_k * kv_stride + kvh * d;
    const float* vh = v + b * s.seq_k * kv_stride + kvh * d;

    float* qt = ownlm_pool_scratch(thread, 0, scratch);
    float* acc = qt + aligned_floats(QCHUNK * dpad);
    float* st = acc + aligned_floats(QCHUNK * dpad);
    float* kt = st + aligned_floats(BR * BC);
    float* vt = kt + aligned_floats(d * BC);
    float* row_max = vt + aligned_floats(BC * dpad);
    float* row_sum = row_max + aligned_floats(QCHUNK);

    // Scores come out already scaled.
    gather_head(q + b * s.seq_q * q_stride + h * d, q_stride, c0, rows, d, dpad, qt, s.scale);
    for (int64_t e = 0; e < rows * dpad; e++) acc[e] = 0.0f;
    for (int64_t r = 0; r < rows; r++) {
      row_max[r] = neg_inf;
      row_sum[r] = 0.0f;
    }
    const int64_t key_end = visible_keys(s, c0 + rows - 1);
    for (int64_t j0 = 0; j0 < key_end; j0 += BC) {
      const int64_t bc = imin(BC, key_end - j0);
      transpose_into(kh + j0 * kv_stride, kv_stride, bc, BC, d, kt, BC);
      gather_head(vh, kv_stride, j0, bc, d, dpad, vt);
      for (int64_t e = bc * dpad; e < BC * dpad; e++) vt[e] = 0.0f;
      for (int64_t i0 = 0; i0 < rows; i0 += BR) {
        const int64_t br = imin(BR, rows - i0);
        if (visible_keys(s, c0 + i0 + br - 1) <= j0) continue;
        tile_mm(br, BC, d, qt + i0 * dpad, dpad, kt, BC, st, BC, false);
        for (int64_t r = 0; r < br; r++) {
          float* sr = st + r * BC;
          const int64_t lim = imin(bc, visible_keys(s, c0 + i0 + r) - j0);
          if (lim <= 0) {
            for (int64_t j = 0; j < BC; j += W) vstore(sr + j, vzero());
            continue;
          }
          const int64_t lim_pad = round_up(lim, W);
          V mx = vset1(neg_inf);
          for (int64_t j = 0; j < lim_pad; j += W) {
            V x = vload(sr + j);
            mx = vmax(mx, j + W <= lim ? x : vsel_gt(vkeep_first(vset1(1.0f), lim - j), vzero(), x, mx));
          }
          float* m = row_max + i0 + r;
          const float block_max = vhmax(mx);
          const float m_new = block_max > *m ? block_max : *m;
          const float correction = *m == neg_inf ? 0.0f : expf(*m - m_new);
          *m = m_new;
          // Lanes past lim are zeroed so the sum and P·V see only visible keys.
          const V vm = vset1(m_new);
          V sum = vzero();
          for (int64_t j = 0; j < lim_pad; j += W) {
            V p = vkeep_first(vexp(vsub(vload(sr + j), vm)), lim - j);
            vstore(sr + j, p);
            sum = vadd(sum, p);
          }
          for (int64_t j = lim_pad; j < BC; j += W) vstore(sr + j, vzero());
          row_sum[i0 + r] = row_sum[i0 + r] * correction + vhsum(sum);
          if (correction != 1.0f) {
            const V vc = vset1(correction);
            float* ar = acc + (i0 + r) * dpad;
            for (int64_t e = 0; e < dpad; e += W) vstore(ar + e, vmul(vload(ar + e), vc));
          }
        }
        tile_mm(br, dpad, BC, st, BC, vt, dpad, acc + i0 * dpad, dpad, true);
      }
    }
    float* lse_h = lse + (b * s.heads_q + h) * s.seq_q;
    for (int64_t r = 0; r < rows; r++) {
      float* o = out + (b * s.seq_q + c0 + r) * q_stride + h * d;
      if (row_sum[r] == 0.0f) {
        for (int64_t e = 0; e < d; e++) o[e] = 0.0f;
        lse_h[c0 + r] = neg_inf;
        continue;
      }
      const float inv = 1.0f / row_sum[r];
      for (int64_t e = 0; e < d; e++) o[e] = acc[r * dpad + e] * inv;
      lse_h[c0 + r] = static_cast<float>(static_cast<double>(row_max[r]) + log(static_cast<double>(row_sum[r])));
    }
  });
}

inline float dot_lanes(const float* a, const float* b, int64_t n) {
  V acc = vzero();
  map_lanes(n, [&](int64_t i, int c) { acc = vfma(vload_part(a + i, c), vload_part(b + i, c), acc); });
  return vhsum(acc);
}

// Backward: one task per (batch, query head) walks key blocks outermost, so dK and dV of a block are summed
// in registers/L1 over all query blocks and dQ of the whole head over all key blocks, each in a fixed order.
// With grouped heads, each query head's dK/dV go to a workspace and are summed over the group afterwards
// in head order, instead of racing on the shared key/value head.
void attention_backward(const float* dout, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, float* dq, float* dk, float* dv, const ownlm_attention_shape* shape) {
  const ownlm_attention_shape s = *shape;
  const int64_t d = s.head_dim, dpad = round_up(d, W);
  const int64_t group = s.heads_q / s.heads_kv;
  const int64_t q_stride = s.heads_q * d, kv_stride = s.heads_kv * d;
  const int64_t key_end = visible_keys(s, s.seq_q - 1);
  float* partial = nullptr;
  if (group > 1) {
    partial = ownlm_pool_scratch(0, OWNLM_SCRATCH_SLOTS - 1,
                                 static_cast<size_t>(2 * s.batch * s.heads_q * s.seq_k * d));
  }
  const size_t head_size = aligned_floats(s.seq_q * dpad);
  const size_t tile = aligned_floats(BR * BC);
  const size_t key_tile = aligned_floats(BC * dpad);
  const size_t scratch = 3 * head_size + aligned_floats(s.seq_q) + 4 * tile + 2 * aligned_floats(d * BC) +
                         3 * key_tile;
  parallel_tasks(s.batch * s.heads_q, [&](int64_t t, int thread) {
    const int64_t b = t / s.heads_q, h = t % s.heads_q, kvh = h / group;
    const float* q_src = q + b * s.seq_q * q_stride + h * d;
    const float* do_src = dout + b * s.seq_q * q_stride + h * d;
    const float* o_src = out + b * s.seq_q * q_stride + h * d;
    const float* k_src = k + b * s.seq_k * kv_stride + kvh * d;
    const float* v_src = v + b * s.seq_k * kv_stride + kvh * d;
    const float* lse_h = lse + (b * s.heads_q + h) * s.seq_q;
    float* dk_dst;
    float* dv_dst;
    int64_t dst_stride;
    if (group == 1) {
      dk_dst = dk + b * s.seq_k * kv_stride + kvh * d;
      dv_dst = dv + b * s.seq_k * kv_stride + kvh * d;
      dst_stride = kv_stride;
    } else {
      dk_dst = partial + (b * s.heads_q + h) * s.seq_k * d;
      dv_dst = partial + (s.batch * s.heads_q + b * s.heads_q + h) * s.seq_k * d;
      dst_stride = d;
    }

    float* qh = ownlm_pool_scratch(thread, 0, scratch);
    float* doh = qh + head_size;
    float* dqh = doh + head_size;
    float* delta = dqh + head_size;
    float* pt = delta + aligned_floats(s.seq_q);
    float* ds = pt + tile;
    float* p_t = ds + tile;
    float* ds_t = p_t + tile;
    float* kt = ds_t + tile;
    float* vt = kt + aligned_floats(d * BC);
    float* kb = vt + aligned_floats(d * BC);
    float* dkb = kb + key_tile;
    float* dvb = dkb + key_tile;

    gather_head(q_src, q_stride, 0, s.seq_q, d, dpad, qh);
    gather_head(do_src, q_stride, 0, s.seq_q, d, dpad, doh);
    for (int64_t e = 0; e < s.seq_q * dpad; e++) dqh[e] = 0.0f;
    for (int64_t i = 0; i < s.seq_q; i++) delta[i] = dot_lanes(do_src + i * q_stride, o_src + i * q_stride, d);

    const V vscale = vset1(s.scale);
    for (int64_t j0 = 0; j0 < key_end; j0 += BC) {
      const int64_t bc = imin(BC, key_end - j0);
      transpose_into(k_src + j0 * kv_stride, kv_stride, bc, BC, d, kt, BC);
      transpose_into(v_src + j0 * kv_stride, kv_stride, bc, BC, d, vt, BC);
      gather_head(k_src, kv_stride, j0, bc, d, dpad, kb);
      for (int64_t e = 0; e < bc * dpad; e++) dkb[e] = dvb[e] = 0.0f;
      for (int64_t i0 = imax(0, j0 - s.query_offset); i0 < s.seq_q; i0 += BR) {
        const int64_t br = imin(BR, s.seq_q - i0);
        tile_mm(br, BC, d, qh + i0 * dpad, dpad, kt, BC, pt, BC, false);
        tile_mm(br, BC, d, doh + i0 * dpad, dpad, vt, BC, ds, BC, false);
        for (int64_t r = 0; r < br; r++) {
          float* pr = pt + r * BC;
          float* dr = ds + r * BC;
          const int64_t lim = imin(bc, visible_keys(s, i0 + r) - j0);
          if (lim <= 0) {
            for (int64_t j = 0; j < BC; j++) pr[j] = dr[j] = 0.0f;
            continue;
          }
          const V vl = vset1(lse_h[i0 + r]);
          const V vd = vset1(delta[i0 + r]);
          for (int64_t j = 0; j < BC; j += W) {
            V p = vexp(vsub(vmul(vload(pr + j), vscale), vl));
            vstore(pr + j, p);
            vstore(dr + j, vmul(vmul(p, vsub(vload(dr + j), vd)), vscale));
          }
          for (int64_t j = lim; j < BC; j++) pr[j] = dr[j] = 0.0f;
        }
        transpose_into(pt, BC, br, BR, bc, p_t, BR);
        transpose_into(ds, BC, br, BR, bc, ds_t, BR);
        tile_mm(bc, dpad, br, p_t, BR, doh + i0 * dpad, dpad, dvb, dpad, true);
        tile_mm(bc, dpad, br, ds_t, BR, qh + i0 * dpad, dpad, dkb, dpad, true);
        tile_mm(br, dpad, bc, ds, BC, kb, dpad, dqh + i0 * dpad, dpad, true);
      }
      for (int64_t j = 0; j < bc; j++) {
        memcpy(dk_dst + (j0 + j) * dst_stride, dkb + j * dpad, static_cast<size_t>(d) * sizeof(float));
        memcpy(dv_dst + (j0 + j) * dst_stride, dvb + j * dpad, static_cast<size_t>(d) * sizeof(float));
      }
    }
    for (int64_t j = key_end; j < s.seq_k; j++) {
      memset(dk_dst + j * dst_stride, 0, static_cast<size_t>(d) * sizeof(float));
      memset(dv_dst + j * dst_stride, 0, static_cast<size_t>(d) * sizeof(float));
    }
    for (int64_t i = 0; i < s.seq_q; i++) {
      memcpy(dq + (b * s.seq_q + i) * q_stride + h * d, dqh + i * dpad, static_cast<size_t>(d) * sizeof(float));
    }
  });
  if (group == 1) return;
  const float* pk = partial;
  const float* pv = partial + s.batch * s.heads_q * s.seq_k * d;
  parallel_rows(s.batch * s.seq_k, s.heads_kv * d * group, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t b = r / s.seq_k, j = r % s.seq_k;
      for (int64_t kvh = 0; kvh < s.heads_kv; kvh++) {
        float* dkr = dk + r * kv_stride + kvh * d;
        float* dvr = dv + r * kv_stride + kvh * d;
        const int64_t first = (b * s.heads_q + kvh * group) * s.seq_k + j;
        map_lanes(d, [&](int64_t e, int n) {
          V sk = vload_part(pk + first * d + e, n);
          V sv = vload_part(pv + first * d + e, n);
          for (int64_t g = 1; g < group; g++) {
            sk = vadd(sk, vload_part(pk + (first + g * s.seq_k) * d + e, n));
            sv = vadd(sv, vload_part(pv + (first + g * s.seq_k) * d + e, n));
          }
          vstore_part(dkr + e, sk, n);
          vstore_part(dvr + e, sv, n);
        });
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// SwiGLU: silu(g) = g · sigmoid(g).

void swiglu_forward(const float* gate, const float* up, float* out, int64_t n) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    const V one = vset1(1.0f);
    map_lanes(end - begin, [&](int64_t i, int c) {
      V g = vload_part(gate + begin + i, c);
      V silu = vdiv(g, vadd(one, vexp(vsub(vzero(), g))));
      vstore_part(out + begin + i, vmul(silu, vload_part(up + begin + i, c)), c);
    });
  });
}

void swiglu_backward(const float* dout, const float* gate, const float* up, float* dgate, float* dup, int64_t n) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    const V one = vset1(1.0f);
    map_lanes(end - begin, [&](int64_t i, int c) {
      V g = vload_part(gate + begin + i, c);
      V u = vload_part(up + begin + i, c);
      V dy = vload_part(dout + begin + i, c);
      V sig = vdiv(one, vadd(one, vexp(vsub(vzero(), g))));
      vstore_part(dup + begin + i, vmul(vmul(dy, g), sig), c);
      V slope = vfma(g, vsub(one, sig), one);
      vstore_part(dgate + begin + i, vmul(vmul(vmul(dy, u), sig), slope), c);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Softmax cross-entropy.

void cross_entropy_forward(const float* logits, const int32_t* targets, float* losses, float* lse, int64_t rows,
                           int64_t vocab, int32_t ignore_index) {
  parallel_rows(rows, vocab, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* x = logits + r * vocab;
      V mx = vset1(-__builtin_inff());
      int64_t i = 0;
      for (; i + W <= vocab; i += W) mx = vmax(mx, vload(x + i));
      float m = vhmax(mx);
      for (; i < vocab; i++) m = x[i] > m ? x[i] : m;
      const V vm = vset1(m);
      V sum = vzero();
      for (i = 0; i + W <= vocab; i += W) sum = vadd(sum, vexp(vsub(vload(x + i), vm)));
      float total = vhsum(sum);
      for (; i < vocab; i++) {
        alignas(64) float lane[W];
        vstore(lane, vexp(vset1(x[i] - m)));
        total += lane[0];
      }
      const float l = static_cast<float>(static_cast<double>(m) + log(static_cast<double>(total)));
      lse[r] = l;
      const int32_t t = targets[r];
      losses[r] = t == ignore_index ? 0.0f : l - x[t];
    }
  });
}

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, float* dlogits,
                            int64_t rows, int64_t vocab, int32_t ignore_index, float scale) {
  parallel_rows(rows, vocab, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* x = logits + r * vocab;
      float* dx = dlogits + r * vocab;
      const int32_t t = targets[r];
      if (t == ignore_index) {
        memset(dx, 0, static_cast<size_t>(vocab) * sizeof(float));
        continue;
      }
      const V vl = vset1(lse[r]);
      const V vs = vset1(scale);
      map_lanes(vocab, [&](int64_t i, int c) {
        vstore_part(dx + i, vmul(vs, vexp(vsub(vload_part(x + i, c), vl))), c);
      });
      dx[t] -= scale;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Embedding.

void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim) {
  parallel_rows(n, dim, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
      memcpy(out + i * dim, table + static_cast<int64_t>(ids[i]) * dim, static_cast<size_t>(dim) * sizeof(float));
    }
  });
}

// Split by columns: every task walks all ids in order over its strip, so repeated ids never race and each
// row of dtable receives its additions in id order.
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim) {
  if (dim <= 0) return;
  const int64_t width = strip_width(n, dim);
  const int64_t strips = ceil_div(dim, width);
  parallel_tasks(strips, [&](int64_t t, int) {
    const int64_t c0 = t * width, c1 = imin(dim, c0 + width);
    for (int64_t i = 0; i < n; i++) {
      float* dst = dtable + static_cast<int64_t>(ids[i]) * dim + c0;
      const float* src = dout + i * dim + c0;
      map_lanes(c1 - c0, [&](int64_t e, int c) {
        vstore_part(dst + e, vadd(vload_part(dst + e, c), vload_part(src + e, c)), c);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// AdamW and vector helpers.

void adamw_step(float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
                double beta2, double eps, double weight_decay, double bc1, double bc2) {
  const V decay = vset1(static_cast<float>(1.0 - lr * weight_decay));
  const V step = vset1(static_cast<float>(lr / bc1));
  const V inv_bc2_sqrt = vset1(static_cast<float>(1.0 / sqrt(bc2)));
  const V b1 = vset1(static_cast<float>(beta1)), c1 = vset1(static_cast<float>(1.0 - beta1));
  const V b2 = vset1(static_cast<float>(beta2)), c2 = vset1(static_cast<float>(1.0 - beta2));
  const V veps = vset1(static_cast<float>(eps));
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    map_lanes(end - begin, [&](int64_t i, int c) {
      const int64_t o = begin + i;
      V g = vload_part(grad + o, c);
      V mv = vfma(b1, vload_part(m + o, c), vmul(c1, g));
      V vv = vfma(b2, vload_part(v + o, c), vmul(vmul(c2, g), g));
      vstore_part(m + o, mv, c);
      vstore_part(v + o, vv, c);
      V denom = vfma(vsqrt(vv), inv_bc2_sqrt, veps);
      V p = vload_part(param + o, c);
      vstore_part(param + o, vsub(vmul(p, decay), vdiv(vmul(step, mv), denom)), c);
    });
  });
}

void vec_add(const float* a, const float* b, float* out, int64_t n) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    map_lanes(end - begin, [&](int64_t i, int c) {
      vstore_part(out + begin + i, vadd(vload_part(a + begin + i, c), vload_part(b + begin + i, c)), c);
    });
  });
}

void vec_mul(const float* a, const float* b, float* out, int64_t n) {
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    map_lanes(end - begin, [&](int64_t i, int c) {
      vstore_part(out + begin + i, vmul(vload_part(a + begin + i, c), vload_part(b + begin + i, c)), c);
    });
  });
}

void vec_axpy(float alpha, const float* x, float* y, int64_t n) {
  const V va = vset1(alpha);
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    map_lanes(end - begin, [&](int64_t i, int c) {
      vstore_part(y + begin + i, vfma(va, vload_part(x + begin + i, c), vload_part(y + begin + i, c)), c);
    });
  });
}

void vec_scale(float* x, float alpha, int64_t n) {
  const V va = vset1(alpha);
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    map_lanes(end - begin, [&](int64_t i, int c) {
      vstore_part(x + begin + i, vmul(vload_part(x + begin + i, c), va), c);
    });
  });
}

// Fixed chunks summed separately and then in chunk order: the same sum for any thread count.
double vec_sum_squares(const float* x, int64_t n) {
  const int64_t chunks = ceil_div(n, kChunk);
  if (chunks <= 1) return sumsq_f64(x, n);
  double* partial =
      reinterpret_cast<double*>(ownlm_pool_scratch(0, OWNLM_SCRATCH_SLOTS - 1, static_cast<size_t>(2 * chunks)));
  parallel_tasks(chunks, [&](int64_t t, int) {
    partial[t] = sumsq_f64(x + t * kChunk, imin(kChunk, n - t * kChunk));
  });
  double total = 0;
  for (int64_t t = 0; t < chunks; t++) total += partial[t];
  return total;
}

}  // namespace
}  // namespace OWNLM_ISA_NS

extern "C" const ownlm_kernels OWNLM_KERNEL_TABLE = {
    OWNLM_ISA_NS::kIsaName,
    OWNLM_ISA_NS::gemm_f32,
    OWNLM_ISA_NS::rmsnorm_forward,
    OWNLM_ISA_NS::rmsnorm_backward,
    OWNLM_ISA_NS::rope_apply,
    OWNLM_ISA_NS::attention_forward,
    OWNLM_ISA_NS::attention_backward,
    OWNLM_ISA_NS::swiglu_forward,
    OWNLM_ISA_NS::swiglu_backward,
    OWNLM_ISA_NS::cross_entropy_forward,
    OWNLM_ISA_NS::cross_entropy_backward,
    OWNLM_ISA_NS::embedding_forward,
    OWNLM_ISA_NS::embedding_backward,
    OWNLM_ISA_NS::adamw_step,
    OWNLM_ISA_NS::vec_add,
    OWNLM_ISA_NS::vec_mul,
    OWNLM_ISA_NS::vec_axpy,
    OWNLM_ISA_NS::vec_scale,
    OWNLM_ISA_NS::vec_sum_squares,
};

// AVX2 + FMA vector layer: 8 floats per vector. Everything here has internal linkage so that this header's
// code, compiled with -mavx2 -mfma, can never be picked by the linker for a translation unit built for an
// older CPU.
#pragma once
#include <immintrin.h>
#include <stdint.h>

namespace OWNLM_ISA_NS {

typedef __m256 V;
constexpr int W = 8;
static const char* const kIsaName = "avx2";

// GEMM register blocking: 6 rows x 16 columns keeps 12 accumulators, 2 B vectors and 1 broadcast in the
// 16 ymm registers; 12 independent FMA chains cover the 2 FMA pipes x 4-cycle latency of Zen/Skylake.
constexpr int kGemmMR = 6;
constexpr int kGemmNV = 2;

static inline V vload(const float* p) { return _mm256_loadu_ps(p); }
static inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
static inline V vset1(float x) { return _mm256_set1_ps(x); }
static inline V vzero() { return _mm256_setzero_ps(); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
static inline V vsqrt(V a) { return _mm256_sqrt_ps(a); }
/** a·b + c with one rounding. */
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
/** Like fmaxf for ordinary values; a NaN in b is returned (MAXPS returns its second operand on NaN). */
static inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
/** a > b ? c : d, lane by lane (false when either is NaN). */
static inline V vsel_gt(V a, V b, V c, V d) {
  return _mm256_blendv_ps(d, c, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}

static inline __m256i tail_mask(int n) {
  alignas(32) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - n));
}
/** Loads the first n (< W) floats and zeros the rest, without touching memory past p + n. */
static inline V vloadn(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
static inline void vstoren(float* p, V v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }

static inline float vhsum(V v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float vhmax(V v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/** Clamps to [lo, hi] but lets NaN through (MINPS/MAXPS return the second operand when one is NaN). */
static inline V vclamp_keep_nan(V x, V lo, V hi) { return _mm256_max_ps(lo, _mm256_min_ps(hi, x)); }
static inline V vround(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/** y · 2^n for integer-valued n in [-150, 128], in two exact power-of-two steps so that neither factor
 * leaves the normal range and results that underflow round once, as a correctly scaled product does. */
static inline V vscale_pow2(V y, V n) {
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  V p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  V p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
}

/** Sum of squares of n floats in double precision: 4 double lanes, fixed order for given n. */
static inline double sumsq_f64(const float* x, int64_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    a0 = _mm256_fmadd_pd(lo, lo, a0);
    a1 = _mm256_fmadd_pd(hi, hi, a1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(a0, a1));
  double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  return s;
}

/** Stores the first kGemmMR (6) lanes: one 16-byte and one 8-byte store, no masking. */
static inline void store_mr(float* p, V v) {
  _mm_storeu_ps(p, _mm256_castps256_ps128(v));
  _mm_storel_pi(reinterpret_cast<__m64*>(p + 4), _mm256_extractf128_ps(v, 1));
}

constexpr bool kHasTranspose8 = true;
/** 8 x 8 transpose: dst[c * ldd + r] = src[r * lds + c] for r < rows (rows >= rows are zeros). Each dst row
 * gets one 8-float store, in ascending c, so with ldd < 8 later rows overwrite the spill of earlier ones. */
static inline void transpose8(const float* src, int64_t lds, int rows, float* dst, int64_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; i++) r[i] = i < rows ? _mm256_loadu_ps(src + i * lds) : _mm256_setzero_ps();
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}

#include "simd_exp.h"

}  // namespace OWNLM_ISA_NS

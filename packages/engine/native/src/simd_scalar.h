// Portable "vector" layer of one float: the fallback for CPUs without AVX2 and for non-x86 builds. No
// explicit SIMD; exp is the C library's.
#pragma once
#include <math.h>
#include <stdint.h>

namespace OWNLM_ISA_NS {

typedef float V;
constexpr int W = 1;
static const char* const kIsaName = "scalar";

// 4 x 4 accumulators fit the 16 floating-point registers of x86-64 and arm64 alike.
constexpr int kGemmMR = 4;
constexpr int kGemmNV = 4;

static inline V vload(const float* p) { return *p; }
static inline void vstore(float* p, V v) { *p = v; }
static inline V vset1(float x) { return x; }
static inline V vzero() { return 0.0f; }
static inline V vadd(V a, V b) { return a + b; }
static inline V vsub(V a, V b) { return a - b; }
static inline V vmul(V a, V b) { return a * b; }
static inline V vdiv(V a, V b) { return a / b; }
static inline V vsqrt(V a) { return sqrtf(a); }
static inline V vfma(V a, V b, V c) { return a * b + c; }
static inline V vmax(V a, V b) { return a > b ? a : b; }
static inline V vsel_gt(V a, V b, V c, V d) { return a > b ? c : d; }
static inline V vloadn(const float* p, int) { return *p; }
static inline void vstoren(float* p, V v, int) { *p = v; }
static inline float vhsum(V v) { return v; }
static inline float vhmax(V v) { return v; }
static inline V vexp(V x) { return expf(x); }

/** Unused: one lane is fewer than kGemmMR. */
static inline void store_mr(float* p, V v) { *p = v; }

constexpr bool kHasTranspose8 = false;
static inline void transpose8(const float*, int64_t, int, float*, int64_t) {}

static inline double sumsq_f64(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace OWNLM_ISA_NS

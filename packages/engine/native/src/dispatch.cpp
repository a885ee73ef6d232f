// Chooses the instruction set at load and serializes kernel calls: the pool and its scratch buffers serve
// one caller at a time (a process with several JS threads calling kernels gets them one after another).
#include <string.h>

#include <mutex>
#include <thread>

#include "kernels.h"
#include "pool.h"

namespace {

std::mutex g_mutex;
const ownlm_kernels* g_kernels = &ownlm_kernels_scalar;

const ownlm_kernels* best_kernels() {
#if defined(OWNLM_HAVE_X86_KERNELS)
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return &ownlm_kernels_avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &ownlm_kernels_avx2;
#endif
  return &ownlm_kernels_scalar;
}

/** Instruction sets from least to most capable; a name is usable when it is not above the best. */
const ownlm_kernels* const kOrder[] = {
    &ownlm_kernels_scalar,
#if defined(OWNLM_HAVE_X86_KERNELS)
    &ownlm_kernels_avx2,
    &ownlm_kernels_avx512,
#endif
};

}  // namespace

#define OWNLM_LOCKED std::lock_guard<std::mutex> lock(g_mutex)

extern "C" {

void ownlm_init(void) {
  OWNLM_LOCKED;
  // Every JS context (main thread, worker threads) that loads the addon calls this; the first one wins so
  // a later load does not undo a chosen ISA or thread count.
  static bool initialized = false;
  if (initialized) return;
  initialized = true;
  g_kernels = best_kernels();
  unsigned cores = std::thread::hardware_concurrency();
  ownlm_pool_set_threads(cores == 0 ? 1 : static_cast<int>(cores));
}

int ownlm_isa_select(const char* name) {
  OWNLM_LOCKED;
  const ownlm_kernels* best = best_kernels();
  for (const ownlm_kernels* k : kOrder) {
    if (strcmp(k->isa, name) == 0) {
      g_kernels = k;
      return 0;
    }
    if (k == best) break;
  }
  return -1;
}

const char* ownlm_isa_name(void) { return g_kernels->isa; }
const char* ownlm_isa_best(void) { return best_kernels()->isa; }

int ownlm_threads_get(void) {
  OWNLM_LOCKED;
  return ownlm_pool_threads();
}

void ownlm_threads_set(int count) {
  OWNLM_LOCKED;
  ownlm_pool_set_threads(count);
}

void ownlm_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch,
                    int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  OWNLM_LOCKED;
  g_kernels->gemm_f32(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch, stride_a, stride_b,
                      stride_c);
}

void ownlm_rmsnorm_forward(const float* x, const float* weight, float* out, float* rstd, int64_t rows,
                           int64_t dim, double eps) {
  OWNLM_LOCKED;
  g_kernels->rmsnorm_forward(x, weight, out, rstd, rows, dim, eps);
}

void ownlm_rmsnorm_backward(const float* dout, const float* x, const float* weight, const float* rstd,
                            float* dx, float* dweight, int64_t rows, int64_t dim) {
  OWNLM_LOCKED;
  g_kernels->rmsnorm_backward(dout, x, weight, rstd, dx, dweight, rows, dim);
}

void ownlm_rope_apply(const float* x, float* out, const float* cos_table, const float* sin_table, int64_t batch,
                      int64_t seq, int64_t heads, int64_t head_dim, int64_t position_offset, int inverse) {
  OWNLM_LOCKED;
  g_kernels->rope_apply(x, out, cos_table, sin_table, batch, seq, heads, head_dim, position_offset, inverse);
}

void ownlm_attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                             const ownlm_attention_shape* shape) {
  OWNLM_LOCKED;
  g_kernels->attention_forward(q, k, v, out, lse, shape);
}

void ownlm_attention_backward(const float* dout, const float* q, const float* k, const float* v,
                              const float* out, const float* lse, float* dq, float* dk, float* dv,
                              const ownlm_attention_shape* shape) {
  OWNLM_LOCKED;
  g_kernels->attention_backward(dout, q, k, v, out, lse, dq, dk, dv, shape);
}

void ownlm_swiglu_forward(const float* gate, const float* up, float* out, int64_t n) {
  OWNLM_LOCKED;
  g_kernels->swiglu_forward(gate, up, out, n);
}

void ownlm_swiglu_backward(const float* dout, const float* gate, const float* up, float* dgate, float* dup,
                           int64_t n) {
  OWNLM_LOCKED;
  g_kernels->swiglu_backward(dout, gate, up, dgate, dup, n);
}

void ownlm_cross_entropy_forward(const float* logits, const int32_t* targets, float* losses, float* lse,
                                 int64_t rows, int64_t vocab, int32_t ignore_index) {
  OWNLM_LOCKED;
  g_kernels->cross_entropy_forward(logits, targets, losses, lse, rows, vocab, ignore_index);
}

void ownlm_cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, float* dlogits,
                                  int64_t rows, int64_t vocab, int32_t ignore_index, float scale) {
  OWNLM_LOCKED;
  g_kernels->cross_entropy_backward(logits, targets, lse, dlogits, rows, vocab, ignore_index, scale);
}

void ownlm_embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim) {
  OWNLM_LOCKED;
  g_kernels->embedding_forward(ids, table, out, n, dim);
}

void ownlm_embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim) {
  OWNLM_LOCKED;
  g_kernels->embedding_backward(ids, dout, dtable, n, dim);
}

void ownlm_adamw_step(float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
                      double beta2, double eps, double weight_decay, double bc1, double bc2) {
  OWNLM_LOCKED;
  g_kernels->adamw_step(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
}

void ownlm_vec_add(const float* a, const float* b, float* out, int64_t n) {
  OWNLM_LOCKED;
  g_kernels->vec_add(a, b, out, n);
}

void ownlm_vec_mul(const float* a, const float* b, float* out, int64_t n) {
  OWNLM_LOCKED;
  g_kernels->vec_mul(a, b, out, n);
}

void ownlm_vec_axpy(float alpha, const float* x, float* y, int64_t n) {
  OWNLM_LOCKED;
  g_kernels->vec_axpy(alpha, x, y, n);
}

void ownlm_vec_scale(float* x, float alpha, int64_t n) {
  OWNLM_LOCKED;
  g_kernels->vec_scale(x, alpha, n);
}

double ownlm_vec_sum_squares(const float* x, int64_t n) {
  OWNLM_LOCKED;
  return g_kernels->vec_sum_squares(x, n);
}

}  // extern "C"

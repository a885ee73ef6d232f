// The native kernels' C interface. Every array is a caller-owned buffer large enough for the sizes passed
// (the N-API binding checks that); matrices are row-major; kernels overwrite their outputs unless the name
// of a parameter says it accumulates. Semantics are those of packages/engine/src/backend/backend.ts.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ownlm_attention_shape {
  int64_t batch;
  int64_t seq_q;
  int64_t seq_k;
  int64_t heads_q;
  int64_t heads_kv;
  int64_t head_dim;
  /** Query i sees keys j <= i + query_offset. */
  int64_t query_offset;
  float scale;
} ownlm_attention_shape;

/** Selects the best instruction set and one thread per hardware thread; call before anything else. Later
 * calls do nothing. */
void ownlm_init(void);
/** Selects the instruction set: "scalar", "avx2" or "avx512". Returns 0, or -1 when this CPU or build
 * lacks it. The best available one is selected at load. */
int ownlm_isa_select(const char* name);
const char* ownlm_isa_name(void);
/** The best instruction set this CPU and build support. */
const char* ownlm_isa_best(void);
int ownlm_threads_get(void);
void ownlm_threads_set(int count);

void ownlm_gemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch,
                    int64_t stride_a, int64_t stride_b, int64_t stride_c);

void ownlm_rmsnorm_forward(const float* x, const float* weight, float* out, float* rstd, int64_t rows,
                           int64_t dim, double eps);
/** dweight accumulates. */
void ownlm_rmsnorm_backward(const float* dout, const float* x, const float* weight, const float* rstd,
                            float* dx, float* dweight, int64_t rows, int64_t dim);

/** out may equal x. */
void ownlm_rope_apply(const float* x, float* out, const float* cos_table, const float* sin_table, int64_t batch,
                      int64_t seq, int64_t heads, int64_t head_dim, int64_t position_offset, int inverse);

void ownlm_attention_forward(const float* q, const float* k, const float* v, float* out, float* lse,
                             const ownlm_attention_shape* shape);
void ownlm_attention_backward(const float* dout, const float* q, const float* k, const float* v,
                              const float* out, const float* lse, float* dq, float* dk, float* dv,
                              const ownlm_attention_shape* shape);

void ownlm_swiglu_forward(const float* gate, const float* up, float* out, int64_t n);
void ownlm_swiglu_backward(const float* dout, const float* gate, const float* up, float* dgate, float* dup,
                           int64_t n);

/** Every target is in [0, vocab) or equals ignore_index. */
void ownlm_cross_entropy_forward(const float* logits, const int32_t* targets, float* losses, float* lse,
                                 int64_t rows, int64_t vocab, int32_t ignore_index);
/** dlogits may equal logits. */
void ownlm_cross_entropy_backward(const float* logits, const int32_t* targets, const float* lse, float* dlogits,
                                  int64_t rows, int64_t vocab, int32_t ignore_index, float scale);

/** Every id indexes a row of table. */
void ownlm_embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim);
/** dtable accumulates. */
void ownlm_embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim);

void ownlm_adamw_step(float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1,
                      double beta2, double eps, double weight_decay, double bc1, double bc2);

/** out may equal a or b. */
void ownlm_vec_add(const float* a, const float* b, float* out, int64_t n);
void ownlm_vec_mul(const float* a, const float* b, float* out, int64_t n);
/** y accumulates. */
void ownlm_vec_axpy(float alpha, const float* x, float* y, int64_t n);
void ownlm_vec_scale(float* x, float alpha, int64_t n);
double ownlm_vec_sum_squares(const float* x, int64_t n);

#ifdef __cplusplus
}
#endif

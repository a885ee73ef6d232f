// One table of kernel entry points per instruction set; dispatch.cpp picks one at load. The tables are
// data, so reading them runs no instruction of the ISA they were compiled for.
#pragma once
#include "ownlm.h"

extern "C" {

typedef struct ownlm_kernels {
  const char* isa;
  decltype(&ownlm_gemm_f32) gemm_f32;
  decltype(&ownlm_rmsnorm_forward) rmsnorm_forward;
  decltype(&ownlm_rmsnorm_backward) rmsnorm_backward;
  decltype(&ownlm_rope_apply) rope_apply;
  decltype(&ownlm_attention_forward) attention_forward;
  decltype(&ownlm_attention_backward) attention_backward;
  decltype(&ownlm_swiglu_forward) swiglu_forward;
  decltype(&ownlm_swiglu_backward) swiglu_backward;
  decltype(&ownlm_cross_entropy_forward) cross_entropy_forward;
  decltype(&ownlm_cross_entropy_backward) cross_entropy_backward;
  decltype(&ownlm_embedding_forward) embedding_forward;
  decltype(&ownlm_embedding_backward) embedding_backward;
  decltype(&ownlm_adamw_step) adamw_step;
  decltype(&ownlm_vec_add) vec_add;
  decltype(&ownlm_vec_mul) vec_mul;
  decltype(&ownlm_vec_axpy) vec_axpy;
  decltype(&ownlm_vec_scale) vec_scale;
  decltype(&ownlm_vec_sum_squares) vec_sum_squares;
} ownlm_kernels;

extern const ownlm_kernels ownlm_kernels_scalar;
#if defined(OWNLM_HAVE_X86_KERNELS)
extern const ownlm_kernels ownlm_kernels_avx2;
extern const ownlm_kernels ownlm_kernels_avx512;
#endif
}

// The kernels built for the avx512 instruction set (compiler flags in binding.gyp).
#define OWNLM_ISA_NS ownlm_avx512
#define OWNLM_KERNEL_TABLE ownlm_kernels_avx512
#include "simd_avx512.h"
#include "kernels_impl.h"

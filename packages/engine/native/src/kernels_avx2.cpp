// The kernels built for the avx2 instruction set (compiler flags in binding.gyp).
#define OWNLM_ISA_NS ownlm_avx2
#define OWNLM_KERNEL_TABLE ownlm_kernels_avx2
#include "simd_avx2.h"
#include "kernels_impl.h"

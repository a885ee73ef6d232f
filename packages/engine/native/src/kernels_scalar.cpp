// The kernels built for the scalar instruction set (compiler flags in binding.gyp).
#define OWNLM_ISA_NS ownlm_scalar
#define OWNLM_KERNEL_TABLE ownlm_kernels_scalar
#include "simd_scalar.h"
#include "kernels_impl.h"

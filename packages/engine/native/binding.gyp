# The ownlm native addon. Kernels are compiled once per instruction set, each ISA in its own static library
# because gyp sets compiler flags per target, not per file; dispatch.cpp picks one at load. No -ffast-math:
# the kernels keep IEEE semantics (NaN, infinities, signed zeros); FMA is used through explicit intrinsics.
{
  'target_defaults': {
    'cflags_cc': ['-std=c++17', '-O3', '-fPIC', '-fno-math-errno', '-Wall', '-Wextra'],
    'cflags_cc!': ['-std=gnu++17', '-O2'],
  },
  'targets': [
    {
      'target_name': 'ownlm',
      'sources': ['src/binding.cpp', 'src/dispatch.cpp', 'src/pool.cpp', 'src/kernels_scalar.cpp'],
      'conditions': [
        ['target_arch=="x64"', {
          'defines': ['OWNLM_HAVE_X86_KERNELS'],
          'dependencies': ['ownlm_avx2', 'ownlm_avx512'],
        }],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'ownlm_avx2',
          'type': 'static_library',
          'sources': ['src/kernels_avx2.cpp'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
        },
        {
          'target_name': 'ownlm_avx512',
          'type': 'static_library',
          'sources': ['src/kernels_avx512.cpp'],
          # GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm*_undefined_* helpers.
          'cflags_cc': ['-mavx512f', '-mavx2', '-mfma', '-mf16c', '-Wno-maybe-uninitialized'],
        },
      ],
    }],
  ],
}

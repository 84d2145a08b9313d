// Internal: run-time ISA selection shared by the kernel files.
#ifndef TLLM_DISPATCH_H
#define TLLM_DISPATCH_H
#include "tllm_kernels.h"

/// 1 when AVX2+FMA+F16C kernels may run (and scalar is not forced).
int tllm_use_avx2(void);
/// A per-thread scratch buffer of at least `floats` floats (grown, never shrunk).
float *tllm_scratch(int slot, int64_t floats);

#if defined(__x86_64__)
#define TLLM_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif
#endif

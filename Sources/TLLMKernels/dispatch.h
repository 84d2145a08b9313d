// Internal: run-time ISA selection shared by the kernel files.
#ifndef TLLM_DISPATCH_H
#define TLLM_DISPATCH_H
#include "tllm_kernels.h"

/// 1 when AVX2+FMA+F16C kernels may run (and scalar is not forced).
int tllm_use_avx2(void);
/// 1 when the AVX-512VL GEMM tiles may run (32 vector registers for wider tiles; same arithmetic).
int tllm_use_avx512(void);
/// 1 when the calling thread forced a narrower ISA (tllm_force_scalar / tllm_force_avx2).
int tllm_isa_forced(void);
/// A per-thread scratch buffer of at least `floats` floats (grown, never shrunk).
float *tllm_scratch(int slot, int64_t floats);

/// Quantized formats tllm_gemv_rows dequantizes in registers.
int tllm_gemv_supports(tllm_wtype type);
/// out[r] = row r · x for up to 8 rows of quantized bytes, in the canonical order of linear.c;
/// returns 0 (computing nothing) where the format or CPU has no such kernel. `next`/`nextBytes`
/// name the bytes to prefetch meanwhile (the next row block; NULL for none).
int tllm_gemv_rows(tllm_wtype type, const uint8_t *const *w, int rows, const float *x, int64_t K,
                   const uint8_t *next, int64_t nextBytes, float *out);

#if defined(__x86_64__)
#define TLLM_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TLLM_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#include <immintrin.h>

/// The one horizontal sum of an 8-lane accumulator every kernel ends its chains with:
/// ((0+4) + (2+6)) + ((1+5) + (3+7)).
TLLM_AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif
#endif

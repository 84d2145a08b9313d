// Internal: run-time ISA selection shared by the kernel files.
#ifndef TLLM_DISPATCH_H
#define TLLM_DISPATCH_H
#include "tllm_kernels.h"

/// 1 when AVX2+FMA+F16C kernels may run (and scalar is not forced).
int tllm_use_avx2(void);
/// 1 when the AVX-512VL GEMM tiles may run (32 vector registers for wider tiles; same arithmetic).
int tllm_use_avx512(void);
/// 1 when AVX-512 VNNI (vpdpbusd) may run: the int8-activation dot products (linear_q8.c).
int tllm_use_vnni(void);
/// 1 when the calling thread forced a narrower ISA (tllm_force_scalar / tllm_force_avx2).
int tllm_isa_forced(void);
/// A per-thread scratch buffer of at least `floats` floats (grown, never shrunk); slots 0–6.
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

/// hsum8 of four accumulators at once, [hsum8(a), hsum8(b), hsum8(c), hsum8(d)], bit-identical to
/// four hsum8 calls (the same additions of the same pairs) in about half the instructions.
TLLM_AVX2 static inline __m128 hsum8x4(__m256 a, __m256 b, __m256 c, __m256 d) {
    // Lane i + lane i+4 for each: [a0..3 | b0..3] and [c0..3 | d0..3].
    __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));
    // (0+4)+(2+6) and (1+5)+(3+7): [a, a, c, c | b, b, d, d].
    __m256 z = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, 0x44), _mm256_shuffle_ps(ab, cd, 0xee));
    // Their sum: [a, c, a, c | b, d, b, d], then [a, b, c, d].
    __m256 h = _mm256_hadd_ps(z, z);
    return _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// out[r] = hsum8(acc[r]) for r < rows (≤ 8), four at a time where it can.
TLLM_AVX2 static inline void hsum8_rows(const __m256 *acc, int rows, float *out) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) _mm_storeu_ps(out + r, hsum8x4(acc[r], acc[r + 1], acc[r + 2], acc[r + 3]));
    for (; r < rows; r++) out[r] = hsum8(acc[r]);
}
#endif
#endif

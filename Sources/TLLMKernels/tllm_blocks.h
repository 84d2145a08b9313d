// Internal: the one AVX2 rebuild of each GGUF block type's 32 weights, shared by row
// dequantization (convert.c) and the in-register decode GEMV (quant_gemv.c), so both produce the
// same float of every weight by construction: Q4_1 as fma(d, q, m), Q4_0 as d · (q − 8), Q8_0 as
// d · q — the scalar path's arithmetic.
#ifndef TLLM_BLOCKS_H
#define TLLM_BLOCKS_H
#include "dispatch.h"
#include <string.h>

#if defined(__x86_64__)
/// One fp16 value broadcast as float32 (F16C: the value tllm_f16_to_f32 gives).
TLLM_AVX2 static inline __m256 tllm_splat_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16((short)h));
}

/// Bytes [0, 8) of a nibble run widened to 8 int32 lanes: a lane's low nibble is element j, its
/// high nibble element j + 16.
TLLM_AVX2 static inline __m256i tllm_widen8(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/// Q4_1 (20 bytes: fp16 d, fp16 m, 16 bytes of nibbles): elements 0–7, 8–15, 16–23, 24–31.
TLLM_AVX2 static inline void tllm_q4_1_block(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));  // d m d m …
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256i low4 = _mm256_set1_epi32(0x0f);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    w[0] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b0, low4)), m);
    w[1] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b1, low4)), m);
    w[2] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4)), m);
    w[3] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4)), m);
}

/// Q4_0 (18 bytes: fp16 d, 16 bytes of nibbles, offset 8).
TLLM_AVX2 static inline void tllm_q4_0_block(const uint8_t *p, __m256 w[4]) {
    __m256 d = tllm_splat_f16(p);
    const __m256i low4 = _mm256_set1_epi32(0x0f), eight = _mm256_set1_epi32(8);
    __m256i b0 = tllm_widen8(p + 2), b1 = tllm_widen8(p + 10);
    w[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b0, low4), eight)));
    w[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b1, low4), eight)));
    w[2] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b0, 4), eight)));
    w[3] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b1, 4), eight)));
}

/// Q8_0 (34 bytes: fp16 d, 32 signed bytes).
TLLM_AVX2 static inline void tllm_q8_0_block(const uint8_t *p, __m256 w[4]) {
    __m256 d = tllm_splat_f16(p);
    for (int k = 0; k < 4; k++)
        w[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + 8 * k)))));
}
#endif
#endif

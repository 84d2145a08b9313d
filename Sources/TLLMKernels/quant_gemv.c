// One token against a block of quantized weight rows, dequantizing in registers.
//
// Decoding reads every weight once per token, so the scratch round trip of the tiled GEMM
// (dequantize a row block to memory, then stream it back) costs more than the arithmetic. This
// kernel computes the same numbers without it: each weight is rebuilt exactly as
// tllm_dequantize_row would (w = fma(d, q, m) or d · q), and each output is the canonical
// linear.c reduction — one 8-lane accumulator chained over k in steps of 8, then hsum8. So a
// token's result is bit-identical whether it ran here or through the tiled path with others.
#include "dispatch.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

int tllm_gemv_supports(tllm_wtype type) {
    return type == TLLM_Q4_0 || type == TLLM_Q4_1 || type == TLLM_Q8_0;
}

#if defined(__x86_64__)

/// Bytes [0, 8) of a nibble block widened to 8 int32 lanes: low nibbles are elements j, high
/// nibbles elements j + 16.
TLLM_AVX2 static inline __m256i widen8(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/// Broadcast one fp16 value as float32.
TLLM_AVX2 static inline __m256 splat_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16((short)h));
}

#define ROWS_MAX 8

/// acc[r] over one Q4_1 block (20 bytes: fp16 d, fp16 m, 16 bytes of nibbles) of each row.
#define Q4_1_BLOCK(R)                                                                              \
    for (int r = 0; r < (R); r++) {                                                                \
        const uint8_t *p = w[r] + b * 20;                                                          \
        __m128i dmh = _mm_castps_si128(_mm_broadcast_ss((const float *)p));                        \
        __m256 dm = _mm256_cvtph_ps(dmh); /* d m d m d m d m */                                    \
        __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);           \
        __m256i b0 = widen8(p + 4), b1 = widen8(p + 12);                                           \
        __m256 w0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b0, low4)), m);         \
        __m256 w1 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b1, low4)), m);         \
        __m256 w2 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4)), m);           \
        __m256 w3 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4)), m);           \
        acc[r] = _mm256_fmadd_ps(w0, x0, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w1, x1, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w2, x2, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w3, x3, acc[r]);                                                  \
    }

#define Q4_0_BLOCK(R)                                                                              \
    for (int r = 0; r < (R); r++) {                                                                \
        const uint8_t *p = w[r] + b * 18;                                                          \
        __m256 d = splat_f16(p);                                                                   \
        __m256i b0 = widen8(p + 2), b1 = widen8(p + 10);                                           \
        __m256 w0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b0, low4), eight))); \
        __m256 w1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b1, low4), eight))); \
        __m256 w2 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b0, 4), eight)));  \
        __m256 w3 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b1, 4), eight)));  \
        acc[r] = _mm256_fmadd_ps(w0, x0, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w1, x1, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w2, x2, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w3, x3, acc[r]);                                                  \
    }

#define Q8_0_BLOCK(R)                                                                              \
    for (int r = 0; r < (R); r++) {                                                                \
        const uint8_t *p = w[r] + b * 34 + 2;                                                      \
        __m256 d = splat_f16(p - 2);                                                               \
        __m256 w0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p))));        \
        __m256 w1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8)))));  \
        __m256 w2 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 16))))); \
        __m256 w3 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 24))))); \
        acc[r] = _mm256_fmadd_ps(w0, x0, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w1, x1, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w2, x2, acc[r]);                                                  \
        acc[r] = _mm256_fmadd_ps(w3, x3, acc[r]);                                                  \
    }

/// Loop over the K / 32 blocks, with the x block loaded once for all rows. `R` is a compile-time
/// row count on the hot path (8) so the accumulators stay in registers.
#define GEMV_LOOP(BLOCK, R)                                                                        \
    for (int64_t b = 0; b < nb; b++) {                                                             \
        const float *xb = x + b * 32;                                                              \
        for (int j = 0; j < linesPerBlock; j++)                                                    \
            _mm_prefetch((const char *)next + (b * linesPerBlock + j) * 64, _MM_HINT_T0);          \
        __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8);                             \
        __m256 x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);                       \
        BLOCK(R)                                                                                   \
    }

TLLM_AVX2 static void gemv_avx2(tllm_wtype type, const uint8_t *const *w, int rows, const float *x, int64_t K,
                                const uint8_t *next, int64_t nextBytes, float *out) {
    const int64_t nb = K / 32;
    // The weights stream from DRAM once per token; fetch the next row block while this one
    // computes (the hardware prefetcher alone leaves the kernel waiting on memory).
    const int linesPerBlock = next ? (int)((nextBytes / 64 + nb) / nb) : 0;
    const __m256i low4 = _mm256_set1_epi32(0x0f), eight = _mm256_set1_epi32(8);
    (void)eight;
    __m256 acc[ROWS_MAX];
    for (int r = 0; r < ROWS_MAX; r++) acc[r] = _mm256_setzero_ps();
    switch (type) {
    case TLLM_Q4_1:
        if (rows == ROWS_MAX) {
            const uint8_t *const *all = w;
            for (int half = 0; half < 2; half++) {
                const uint8_t *const *w = all + 4 * half;
                __m256 *accAll = acc;
                __m256 *acc = accAll + 4 * half;
                GEMV_LOOP(Q4_1_BLOCK, 4)
            }
        } else { GEMV_LOOP(Q4_1_BLOCK, rows) }
        break;
    case TLLM_Q4_0:
        if (rows == ROWS_MAX) { GEMV_LOOP(Q4_0_BLOCK, ROWS_MAX) } else { GEMV_LOOP(Q4_0_BLOCK, rows) }
        break;
    case TLLM_Q8_0:
        if (rows == ROWS_MAX) { GEMV_LOOP(Q8_0_BLOCK, ROWS_MAX) } else { GEMV_LOOP(Q8_0_BLOCK, rows) }
        break;
    default: break;
    }
    for (int r = 0; r < rows; r++) out[r] = hsum8(acc[r]);
}
#endif

int tllm_gemv_rows(tllm_wtype type, const uint8_t *const *w, int rows, const float *x, int64_t K,
                   const uint8_t *next, int64_t nextBytes, float *out) {
#if defined(__x86_64__)
    if (tllm_use_avx2() && tllm_gemv_supports(type) && K % 32 == 0 && rows <= ROWS_MAX) {
        gemv_avx2(type, w, rows, x, K, next, nextBytes, out);
        return 1;
    }
#endif
    (void)type; (void)w; (void)rows; (void)x; (void)K; (void)next; (void)nextBytes; (void)out;
    return 0;
}

// One token against a block of quantized weight rows, dequantizing in registers.
//
// Decoding reads every weight once per token, so the scratch round trip of the tiled GEMM
// (dequantize a row block to memory, then stream it back) costs more than the arithmetic. This
// kernel computes the same numbers without it: each weight is rebuilt exactly as
// tllm_dequantize_row would (w = fma(d, q, m) or d · q), and each output is the canonical
// linear.c reduction — one 8-lane accumulator chained over k in steps of 8, then hsum8. So a
// token's result is bit-identical whether it ran here or through the tiled path with others.
#include "dispatch.h"
#include "tllm_blocks.h"

int tllm_gemv_supports(tllm_wtype type) {
    return type == TLLM_Q4_0 || type == TLLM_Q4_1 || type == TLLM_Q8_0;
}

#if defined(__x86_64__)
#define ROWS_MAX 8

/// Loop over the K / 32 blocks: the x block is loaded once for all rows, each row's 32 weights are
/// rebuilt by BLOCK (tllm_blocks.h) and chained into its accumulator in k order. `R` is a
/// compile-time row count on the hot path (8) so the accumulators stay in registers.
#define GEMV_LOOP(BLOCK, BYTES, R)                                                                 \
    for (int64_t b = 0; b < nb; b++) {                                                             \
        const float *xb = x + b * 32;                                                              \
        for (int j = 0; j < linesPerBlock; j++)                                                    \
            _mm_prefetch((const char *)next + (b * linesPerBlock + j) * 64, _MM_HINT_T0);          \
        __m256 xv[4] = {_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8), _mm256_loadu_ps(xb + 16),    \
                        _mm256_loadu_ps(xb + 24)};                                                 \
        for (int r = 0; r < (R); r++) {                                                            \
            __m256 wv[4];                                                                          \
            BLOCK(w[r] + b * (BYTES), wv);                                                         \
            for (int k = 0; k < 4; k++) acc[r] = _mm256_fmadd_ps(wv[k], xv[k], acc[r]);            \
        }                                                                                          \
    }

/// GEMV_LOOP with the row count a constant when the block is full.
#define GEMV(BLOCK, BYTES)                                                                         \
    if (rows == ROWS_MAX) { GEMV_LOOP(BLOCK, BYTES, ROWS_MAX) } else { GEMV_LOOP(BLOCK, BYTES, rows) }

TLLM_AVX2 static void gemv_avx2(tllm_wtype type, const uint8_t *const *w, int rows, const float *x, int64_t K,
                                const uint8_t *next, int64_t nextBytes, float *out) {
    const int64_t nb = K / 32;
    // The weights stream from DRAM once per token; fetch the next row block while this one
    // computes (the hardware prefetcher alone leaves the kernel waiting on memory).
    const int linesPerBlock = next ? (int)((nextBytes / 64 + nb) / nb) : 0;
    __m256 acc[ROWS_MAX];
    for (int r = 0; r < ROWS_MAX; r++) acc[r] = _mm256_setzero_ps();
    switch (type) {
    case TLLM_Q4_1: GEMV(tllm_q4_1_block, 20) break;
    case TLLM_Q4_0: GEMV(tllm_q4_0_block, 18) break;
    case TLLM_Q8_0: GEMV(tllm_q8_0_block, 34) break;
    default: break;
    }
    hsum8_rows(acc, rows, out);
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

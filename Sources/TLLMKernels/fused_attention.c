// Attention for the plugins and the int8 KV cache: rotary embedding fused with the cache write and
// the attention, over a float32 or an int8 (per-32-value-block scales) paged cache. The attention
// itself is attention.c's core, so fused and unfused attention agree bit for bit.
#include "dispatch.h"
#include "tllm_attention.h"
#include "tllm_fused.h"
#include "tllm_quant.h"
#include <math.h>
#include <string.h>

#define KV_BLOCK TLLM_KV_QBLOCK

static void quantize_kv_row(const float *x, int64_t kvDim, int8_t *codes, float *scales) {
    for (int64_t b = 0; b < kvDim / KV_BLOCK; b++) {
        const float *v = x + b * KV_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < KV_BLOCK; j++) amax = fmaxf(amax, fabsf(v[j]));
        float s = amax / 127.0f;
        scales[b] = s;
        for (int j = 0; j < KV_BLOCK; j++) {
            long q = s > 0.0f ? lrintf(v[j] / s) : 0;
            codes[b * KV_BLOCK + j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
    }
}

void tllm_kv_write_i8(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t kvDim,
                      const int64_t *slots, int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales) {
    int64_t nb = kvDim / KV_BLOCK;
    for (int64_t t = 0; t < T; t++) {
        quantize_kv_row(k + t * ldk, kvDim, kCodes + slots[t] * kvDim, kScales + slots[t] * nb);
        quantize_kv_row(v + t * ldv, kvDim, vCodes + slots[t] * kvDim, vScales + slots[t] * nb);
    }
}

void tllm_paged_attention_i8(const float *q, int64_t ldq, int64_t T,
                             int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                             const int8_t *kCodes, const float *kScales, const int8_t *vCodes, const float *vScales,
                             int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                             const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    tllm_attend_args c = {q, ldq, heads, kvHeads, headDim, kvHeads * headDim, tokensPerBlock, maxBlocks, ldo, scale,
                          NULL, NULL, kCodes, vCodes, kScales, vScales, blockTables, seq, pos, NULL, NULL, 0, 0, out};
    tllm_attend(&c, T);
}

void tllm_rope_attention(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                         int64_t T, int64_t heads, int64_t kvHeads, int64_t headDim,
                         int64_t ropeDim, double theta, int neox, float scale,
                         float *kCache, float *vCache,
                         int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales,
                         const int64_t *slots, int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                         const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    int64_t kvDim = kvHeads * headDim, half = ropeDim / 2;
    // The key row being rotated lives in this thread's scratch (no allocation per call), with room
    // after it for the angle tables should tllm_rope_tables need it.
    const float *cosTable = NULL, *sinTable = NULL;
    float *row = tllm_scratch(3, kvDim + 2 * T * half);
    if (half > 0) tllm_rope_tables(theta, ropeDim, pos, T, row + kvDim, &cosTable, &sinTable);
    // Rotated keys and the values into the cache.
    int64_t nb = kvDim / KV_BLOCK;
    for (int64_t t = 0; t < T; t++) {
        memcpy(row, k + t * ldk, (size_t)kvDim * 4);
        if (half > 0)
            for (int64_t h = 0; h < kvHeads; h++)
                tllm_rotate_head(row + h * headDim, cosTable + t * half, sinTable + t * half, half, neox);
        if (kCodes) {
            quantize_kv_row(row, kvDim, kCodes + slots[t] * kvDim, kScales + slots[t] * nb);
            quantize_kv_row(v + t * ldv, kvDim, vCodes + slots[t] * kvDim, vScales + slots[t] * nb);
        } else {
            memcpy(kCache + slots[t] * kvDim, row, (size_t)kvDim * 4);
            memcpy(vCache + slots[t] * kvDim, v + t * ldv, (size_t)kvDim * 4);
        }
    }
    tllm_attend_args c = {q, ldq, heads, kvHeads, headDim, kvDim, tokensPerBlock, maxBlocks, ldo, scale,
                          kCodes ? NULL : kCache, kCodes ? NULL : vCache, kCodes, vCodes, kScales, vScales,
                          blockTables, seq, pos, cosTable, sinTable, half, neox, out};
    tllm_attend(&c, T);
}

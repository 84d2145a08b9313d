// Attention for the plugins and the int8 KV cache: rotary embedding fused with the cache write and
// the attention, over a float32 or an int8 (per-32-value-block scales) paged cache. The attention
// itself is attention.c's core, so fused and unfused attention agree bit for bit.
#include "dispatch.h"
#include "tllm_attention.h"
#include "tllm_fused.h"
#include "tllm_quant.h"
#include <math.h>
#include <stdlib.h>
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

/// Rotary angles for T tokens, pos[t] · theta^(−2i / ropeDim) in double as tllm_rope computes
/// them, into T × ropeDim/2 cosines and sines.
static void rope_angles(double theta, int64_t ropeDim, const int32_t *pos, int64_t T, float *cosTable, float *sinTable) {
    const int64_t half = ropeDim / 2;
    for (int64_t i = 0; i < half; i++) {
        const double frequency = pow(theta, -2.0 * (double)i / (double)ropeDim);
        for (int64_t t = 0; t < T; t++) {
            const double angle = (double)pos[t] * frequency;
            cosTable[t * half + i] = (float)cos(angle);
            sinTable[t * half + i] = (float)sin(angle);
        }
    }
}

/// The angle tables of the last positions this thread asked for, kept because a decode step's
/// layers all ask for the same ones (each table costs ropeDim sines and cosines in double per
/// token). Grows, never shrinks: no allocation once it has held the largest batch.
typedef struct {
    double theta;
    int64_t ropeDim, T, capacity;  // capacity: tokens the buffers hold; T = −1: nothing held
    int32_t *pos;
    float *cos, *sin;
} rope_memo;

static _Thread_local rope_memo memo;

/// The memo's tables for these positions, recomputed only when theta, ropeDim or a position
/// differs from the last call on this thread; 0 (nothing set) when its buffers cannot grow.
static int memo_tables(double theta, int64_t ropeDim, const int32_t *pos, int64_t T, float **cosTable, float **sinTable) {
    const int64_t half = ropeDim / 2;
    if (T > memo.capacity || ropeDim != memo.ropeDim) {
        const int64_t capacity = T > 2 * memo.capacity ? T : 2 * memo.capacity;
        int32_t *p = malloc((size_t)capacity * 4);
        float *c = malloc((size_t)(capacity * half) * 4), *sn = malloc((size_t)(capacity * half) * 4);
        free(memo.pos), free(memo.cos), free(memo.sin);
        memo = (rope_memo){0, ropeDim, -1, capacity, p, c, sn};
        if (!p || !c || !sn) {
            free(p), free(c), free(sn);
            memo = (rope_memo){0, 0, -1, 0, NULL, NULL, NULL};
            return 0;
        }
    }
    if (memo.T != T || memo.theta != theta || memcmp(memo.pos, pos, (size_t)T * 4) != 0) {
        rope_angles(theta, ropeDim, pos, T, memo.cos, memo.sin);
        memcpy(memo.pos, pos, (size_t)T * 4);
        memo.T = T;
        memo.theta = theta;
    }
    *cosTable = memo.cos;
    *sinTable = memo.sin;
    return 1;
}

void tllm_rope_attention(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                         int64_t T, int64_t heads, int64_t kvHeads, int64_t headDim,
                         int64_t ropeDim, double theta, int neox, float scale,
                         float *kCache, float *vCache,
                         int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales,
                         const int64_t *slots, int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                         const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    int64_t kvDim = kvHeads * headDim, half = ropeDim / 2;
    // The key row being rotated lives in this thread's scratch (no allocation per call); the
    // angle tables come from the memo, computed once for all the layers that share the positions
    // (into the scratch after the row if the memo cannot grow).
    float *cosTable = NULL, *sinTable = NULL;
    float *row = tllm_scratch(3, kvDim + 2 * T * half);
    if (half > 0 && !memo_tables(theta, ropeDim, pos, T, &cosTable, &sinTable)) {
        cosTable = row + kvDim;
        sinTable = cosTable + T * half;
        rope_angles(theta, ropeDim, pos, T, cosTable, sinTable);
    }
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

// Attention for the plugins and the int8 KV cache: rotary embedding fused with the cache write and
// the attention, over a float32 or an int8 (per-32-value-block scales) paged cache. The float path
// repeats attention.c's arithmetic step for step, so fused and unfused attention agree bit for bit.
#include "dispatch.h"
#include "tllm_fused.h"
#include "tllm_quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KV_BLOCK 32

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

typedef struct {
    const float *q;
    int64_t ldq, heads, kvHeads, headDim, kvDim, tokensPerBlock, maxBlocks, ldo;
    float scale;
    const float *kf, *vf;                    // float cache, or
    const int8_t *kq, *vq;                   // int8 cache codes
    const float *ks, *vs;                    // and scales
    const int32_t *blockTables, *seq, *pos;
    const float *cosTable, *sinTable;        // (T, ropeDim / 2) when q is rotated here, else NULL
    int64_t ropeHalf;
    int neox;
    float *out;
} attend_ctx;

/// Rotates one head vector in place with the angles of one token (the arithmetic of tllm_rope).
static void rotate_head(float *v, const float *cs, const float *sn, int64_t half, int neox) {
    for (int64_t i = 0; i < half; i++) {
        int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x0 * sn[i] + x1 * cs[i];
    }
}

/// Dequantizes elements [offset, offset + n) of an int8 cache row into `dst`.
static inline void dequant_kv(const int8_t *codes, const float *scales, int64_t offset, int64_t n, float *dst) {
    for (int64_t d = 0; d < n; d++) dst[d] = scales[(offset + d) / KV_BLOCK] * (float)codes[offset + d];
}

static void attend_items(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const attend_ctx *c = p;
    int64_t group = c->heads / c->kvHeads, hd = c->headDim, nb = c->kvDim / KV_BLOCK;
    float *tmp = tllm_scratch(2, 2 * hd);     // rotated query, then one dequantized key or value
    float *rq = tmp, *kv = tmp + hd;
    for (int64_t item = i0; item < i1; item++) {
        int64_t t = item / c->heads, h = item % c->heads, kvh = h / group, off = kvh * hd;
        int64_t n = (int64_t)c->pos[t] + 1;
        const int32_t *table = c->blockTables + (int64_t)c->seq[t] * c->maxBlocks;
        const float *q = c->q + t * c->ldq + h * hd;
        if (c->cosTable) {
            memcpy(rq, q, (size_t)hd * 4);
            rotate_head(rq, c->cosTable + t * c->ropeHalf, c->sinTable + t * c->ropeHalf, c->ropeHalf, c->neox);
            q = rq;
        }
        float *scores = tllm_scratch(1, n);
        float maxScore = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            int64_t slot = (int64_t)table[j / c->tokensPerBlock] * c->tokensPerBlock + j % c->tokensPerBlock;
            const float *key;
            if (c->kf) key = c->kf + slot * c->kvDim + off;
            else { dequant_kv(c->kq + slot * c->kvDim, c->ks + slot * nb, off, hd, kv); key = kv; }
            float s = tllm_dot(q, key, hd) * c->scale;
            scores[j] = s;
            if (s > maxScore) maxScore = s;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; j++) { scores[j] = expf(scores[j] - maxScore); sum += scores[j]; }
        float inv = 1.0f / sum;
        float *o = c->out + t * c->ldo + h * hd;
        for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            int64_t slot = (int64_t)table[j / c->tokensPerBlock] * c->tokensPerBlock + j % c->tokensPerBlock;
            const float *value;
            if (c->vf) value = c->vf + slot * c->kvDim + off;
            else { dequant_kv(c->vq + slot * c->kvDim, c->vs + slot * nb, off, hd, kv); value = kv; }
            float w = scores[j] * inv;
            for (int64_t d = 0; d < hd; d++) o[d] += w * value[d];
        }
    }
}

void tllm_paged_attention_i8(const float *q, int64_t ldq, int64_t T,
                             int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                             const int8_t *kCodes, const float *kScales, const int8_t *vCodes, const float *vScales,
                             int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                             const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    attend_ctx c = {q, ldq, heads, kvHeads, headDim, kvHeads * headDim, tokensPerBlock, maxBlocks, ldo, scale,
                    NULL, NULL, kCodes, vCodes, kScales, vScales, blockTables, seq, pos, NULL, NULL, 0, 0, out};
    tllm_parallel_for(T * heads, attend_items, &c);
}

void tllm_rope_attention(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                         int64_t T, int64_t heads, int64_t kvHeads, int64_t headDim,
                         int64_t ropeDim, double theta, int neox, float scale,
                         float *kCache, float *vCache,
                         int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales,
                         const int64_t *slots, int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                         const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    int64_t kvDim = kvHeads * headDim, half = ropeDim / 2;
    // Angles per token, as tllm_rope computes them: pos * theta^(-2i / ropeDim) in double.
    float *cosTable = NULL, *sinTable = NULL;
    if (half > 0) {
        cosTable = malloc((size_t)(T * half) * 4);
        sinTable = malloc((size_t)(T * half) * 4);
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < half; i++) {
                double angle = (double)pos[t] * pow(theta, -2.0 * (double)i / (double)ropeDim);
                cosTable[t * half + i] = (float)cos(angle);
                sinTable[t * half + i] = (float)sin(angle);
            }
    }
    // Rotated keys and the values into the cache.
    float *row = malloc((size_t)kvDim * 4);
    int64_t nb = kvDim / KV_BLOCK;
    for (int64_t t = 0; t < T; t++) {
        memcpy(row, k + t * ldk, (size_t)kvDim * 4);
        if (half > 0)
            for (int64_t h = 0; h < kvHeads; h++)
                rotate_head(row + h * headDim, cosTable + t * half, sinTable + t * half, half, neox);
        if (kCodes) {
            quantize_kv_row(row, kvDim, kCodes + slots[t] * kvDim, kScales + slots[t] * nb);
            quantize_kv_row(v + t * ldv, kvDim, vCodes + slots[t] * kvDim, vScales + slots[t] * nb);
        } else {
            memcpy(kCache + slots[t] * kvDim, row, (size_t)kvDim * 4);
            memcpy(vCache + slots[t] * kvDim, v + t * ldv, (size_t)kvDim * 4);
        }
    }
    free(row);
    attend_ctx c = {q, ldq, heads, kvHeads, headDim, kvDim, tokensPerBlock, maxBlocks, ldo, scale,
                    kCodes ? NULL : kCache, kCodes ? NULL : vCache, kCodes, vCodes, kScales, vScales,
                    blockTables, seq, pos, cosTable, sinTable, half, neox, out};
    tllm_parallel_for(T * heads, attend_items, &c);
    free(cosTable);
    free(sinTable);
}

// Causal grouped-query attention over a paged KV cache: one (token, head) pair per work item,
// two passes (scores, then softmax-weighted values) with a fixed order per pair.
#include "dispatch.h"
#include <math.h>
#include <string.h>

void tllm_kv_write(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T,
                   int64_t kvDim, const int64_t *slots, float *kCache, float *vCache) {
    for (int64_t t = 0; t < T; t++) {
        memcpy(kCache + slots[t] * kvDim, k + t * ldk, (size_t)kvDim * 4);
        memcpy(vCache + slots[t] * kvDim, v + t * ldv, (size_t)kvDim * 4);
    }
}

typedef struct {
    const float *q, *kCache, *vCache;
    int64_t ldq, heads, kvHeads, headDim, tokensPerBlock, maxBlocks, ldo;
    float scale;
    const int32_t *blockTables, *seq, *pos;
    float *out;
} attention_ctx;

static void attention_items(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const attention_ctx *c = p;
    int64_t kvDim = c->kvHeads * c->headDim, group = c->heads / c->kvHeads;
    for (int64_t item = i0; item < i1; item++) {
        int64_t t = item / c->heads, h = item % c->heads, kvh = h / group;
        int64_t n = (int64_t)c->pos[t] + 1;
        const int32_t *table = c->blockTables + (int64_t)c->seq[t] * c->maxBlocks;
        const float *q = c->q + t * c->ldq + h * c->headDim;
        float *scores = tllm_scratch(1, n);
        float maxScore = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            int64_t slot = (int64_t)table[j / c->tokensPerBlock] * c->tokensPerBlock + j % c->tokensPerBlock;
            float s = tllm_dot(q, c->kCache + slot * kvDim + kvh * c->headDim, c->headDim) * c->scale;
            scores[j] = s;
            if (s > maxScore) maxScore = s;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; j++) { scores[j] = expf(scores[j] - maxScore); sum += scores[j]; }
        float inv = 1.0f / sum;
        float *o = c->out + t * c->ldo + h * c->headDim;
        for (int64_t d = 0; d < c->headDim; d++) o[d] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            int64_t slot = (int64_t)table[j / c->tokensPerBlock] * c->tokensPerBlock + j % c->tokensPerBlock;
            const float *v = c->vCache + slot * kvDim + kvh * c->headDim;
            float w = scores[j] * inv;
            for (int64_t d = 0; d < c->headDim; d++) o[d] += w * v[d];
        }
    }
}

void tllm_paged_attention(const float *q, int64_t ldq, int64_t T,
                          int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                          const float *kCache, const float *vCache, int64_t tokensPerBlock,
                          const int32_t *blockTables, int64_t maxBlocks,
                          const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    attention_ctx c = {q, kCache, vCache, ldq, heads, kvHeads, headDim, tokensPerBlock, maxBlocks, ldo,
                       scale, blockTables, seq, pos, out};
    tllm_parallel_for(T * heads, attention_items, &c);
}

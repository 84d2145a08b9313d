// Causal grouped-query attention over a paged KV cache: one (token, KV head) pair per work item,
// two passes per query head (scores, then softmax-weighted values) in a fixed order, so a token's
// output never depends on which other tokens share the batch.
//
// Every attention entry point (float cache, int8 cache, rotary embedding fused or not) runs this
// one core, so fused and unfused attention agree bit for bit. Per pair (t, h), with n = pos + 1:
//   s_j  = hsum8(8-lane FMA chain of q · k_j over the head dimension) · scale   (j in order)
//   e_j  = exp(s_j − max_j s_j)          (tllm_math.h's polynomial exp, vector or scalar twin)
//   sum  = hsum8 of 8-lane partial sums of e_j in j order
//   o    = Σ_j (e_j · (1 / sum)) · v_j    (one FMA per element, j in order)
// The query heads of a KV group run together (three at a time with AVX-512VL, else two) so that
// every key and value row is loaded once for all of them; that changes no head's arithmetic.
#include "dispatch.h"
#include "tllm_attention.h"
#include "tllm_math.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void tllm_kv_write(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T,
                   int64_t kvDim, const int64_t *slots, float *kCache, float *vCache) {
    for (int64_t t = 0; t < T; t++) {
        memcpy(kCache + slots[t] * kvDim, k + t * ldk, (size_t)kvDim * 4);
        memcpy(vCache + slots[t] * kvDim, v + t * ldv, (size_t)kvDim * 4);
    }
}

/// Rotates one head vector in place with the angles of one token (tllm_rope and the fused RoPE).
void tllm_rotate_head(float *v, const float *cs, const float *sn, int64_t half, int neox) {
    for (int64_t i = 0; i < half; i++) {
        int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x0 * sn[i] + x1 * cs[i];
    }
}

/// Rotary angles for T tokens, pos[t] · theta^(−2i / ropeDim) in double, into T × ropeDim/2
/// cosines and sines.
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
/// layers all ask for the same ones. Grows, never shrinks: no allocation once it has held the
/// largest batch. Empty (T = −1) until first filled.
static _Thread_local struct {
    double theta;
    int64_t ropeDim, T, capacity;  // capacity: tokens the buffers hold
    int32_t *pos;
    float *cos, *sin;
} memo = {0, 0, -1, 0, NULL, NULL, NULL};

void tllm_rope_tables(double theta, int64_t ropeDim, const int32_t *pos, int64_t T, float *fallback,
                      const float **cosTable, const float **sinTable) {
    const int64_t half = ropeDim / 2;
    if (T > memo.capacity || ropeDim != memo.ropeDim) {
        const int64_t capacity = T > 2 * memo.capacity ? T : 2 * memo.capacity;
        int32_t *p = malloc((size_t)capacity * 4);
        float *c = malloc((size_t)(capacity * half) * 4), *sn = malloc((size_t)(capacity * half) * 4);
        if (!p || !c || !sn) {
            free(p), free(c), free(sn);
            rope_angles(theta, ropeDim, pos, T, fallback, fallback + T * half);
            *cosTable = fallback;
            *sinTable = fallback + T * half;
            return;
        }
        free(memo.pos), free(memo.cos), free(memo.sin);
        memo.pos = p, memo.cos = c, memo.sin = sn;
        memo.ropeDim = ropeDim, memo.capacity = capacity, memo.T = -1;
    }
    if (memo.T != T || memo.theta != theta || memcmp(memo.pos, pos, (size_t)T * 4) != 0) {
        rope_angles(theta, ropeDim, pos, T, memo.cos, memo.sin);
        memcpy(memo.pos, pos, (size_t)T * 4);
        memo.T = T;
        memo.theta = theta;
    }
    *cosTable = memo.cos;
    *sinTable = memo.sin;
}

/// Elements [offset, offset + n) of an int8 cache row (per-32-value scales) as floats.
static inline void dequant_kv(const int8_t *codes, const float *scales, int64_t offset, int64_t n, float *dst) {
    for (int64_t d = 0; d < n; d++) dst[d] = scales[(offset + d) / TLLM_KV_QBLOCK] * (float)codes[offset + d];
}

/// Row j of sequence `table`'s keys or values for KV head offset `off`: a pointer into the float
/// cache, or the int8 row dequantized into `tmp`.
static inline const float *kv_row(const tllm_attend_args *c, int values, const int32_t *table, int64_t j,
                                  int64_t off, float *tmp) {
    int64_t slot = (int64_t)table[j / c->tokensPerBlock] * c->tokensPerBlock + j % c->tokensPerBlock;
    const float *f = values ? c->vf : c->kf;
    if (f) return f + slot * c->kvDim + off;
    const int8_t *codes = values ? c->vq : c->kq;
    const float *scales = values ? c->vs : c->ks;
    int64_t nb = c->kvDim / TLLM_KV_QBLOCK;
    dequant_kv(codes + slot * c->kvDim, scales + slot * nb, off, c->headDim, tmp);
    return tmp;
}

// ---- Scalar core (no AVX2, or a head dimension that is not a multiple of 8) ------------------------

static float chain_dot_scalar(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] = fmaf(a[i + l], b[i + l], acc[l]);
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

static void attend_scalar(const tllm_attend_args *c, const float *q, const int32_t *table, int64_t n,
                          int64_t off, float *scores, float *tmp, float *o) {
    int64_t hd = c->headDim;
    float maxScore = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        float s = chain_dot_scalar(q, kv_row(c, 0, table, j, off, tmp), hd) * c->scale;
        scores[j] = s;
        if (s > maxScore) maxScore = s;
    }
    float acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) { scores[j + l] = tllm_exp_neg1(scores[j + l] - maxScore); acc[l] += scores[j + l]; }
    for (; j < n; j++) { scores[j] = tllm_exp_neg1(scores[j] - maxScore); acc[j % 8] += scores[j]; }
    float sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    float inv = 1.0f / sum;
    for (int64_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (j = 0; j < n; j++) {
        const float *v = kv_row(c, 1, table, j, off, tmp);
        float w = scores[j] * inv;
        for (int64_t d = 0; d < hd; d++) o[d] = fmaf(w, v[d], o[d]);
    }
}

// ---- AVX2 core --------------------------------------------------------------------------------

#if defined(__x86_64__)


/// H queries (H ≤ 3, a compile-time constant) against four keys: each (query, key) score is one
/// 8-lane FMA chain over hd (a multiple of 8) then hsum8, and the H queries share every key load.
/// H = 3 needs AVX-512VL's 32 registers (12 accumulators); H ≤ 2 fits AVX2's 16.
TLLM_AVX2 static inline __attribute__((always_inline)) void
dots_x4(const float *const *q, const float *k0, const float *k1, const float *k2, const float *k3, int64_t hd,
        float *const *s, int64_t j, const int H) {
    __m256 a[3][4];
#pragma clang loop unroll(full)
    for (int h = 0; h < H; h++)
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++) a[h][i] = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd; d += 8) {
        __m256 x0 = _mm256_loadu_ps(k0 + d), x1 = _mm256_loadu_ps(k1 + d);
        __m256 x2 = _mm256_loadu_ps(k2 + d), x3 = _mm256_loadu_ps(k3 + d);
#pragma clang loop unroll(full)
        for (int h = 0; h < H; h++) {
            __m256 qv = _mm256_loadu_ps(q[h] + d);
            a[h][0] = _mm256_fmadd_ps(qv, x0, a[h][0]);
            a[h][1] = _mm256_fmadd_ps(qv, x1, a[h][1]);
            a[h][2] = _mm256_fmadd_ps(qv, x2, a[h][2]);
            a[h][3] = _mm256_fmadd_ps(qv, x3, a[h][3]);
        }
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < H; h++) _mm_storeu_ps(s[h] + j, hsum8x4(a[h][0], a[h][1], a[h][2], a[h][3]));
}

#define HD_MAX 256

/// Raw scores q_h · k_j of H queries of the same KV head, j in [0, n).
TLLM_AVX2 static inline __attribute__((always_inline)) void
scores_avx2(const tllm_attend_args *c, const float *const *q, const int32_t *table, int64_t n, int64_t off,
            float *const *s, float *tmp, const int64_t hd, const int H) {
    // Walk the block table once per block: float rows of a block are kvDim apart, four keys go
    // through one call; int8 rows are dequantized one at a time into tmp.
    int64_t tpb = c->tokensPerBlock, ld = c->kvDim;
    for (int64_t b0 = 0; b0 < n; b0 += tpb) {
        const float *base = c->kf ? c->kf + (int64_t)table[b0 / tpb] * tpb * ld + off : NULL;
        int64_t end = n - b0 < tpb ? n : b0 + tpb, j = b0;
        for (; base && j + 4 <= end; j += 4) {
            const float *k = base + (j - b0) * ld;
            dots_x4(q, k, k + ld, k + 2 * ld, k + 3 * ld, hd, s, j, H);
        }
        for (; j < end; j++) {
            const float *k = base ? base + (j - b0) * ld : kv_row(c, 0, table, j, off, tmp);
            __m256 a[3];
#pragma clang loop unroll(full)
            for (int h = 0; h < H; h++) a[h] = _mm256_setzero_ps();
            for (int64_t d = 0; d < hd; d += 8) {
                __m256 kv = _mm256_loadu_ps(k + d);
#pragma clang loop unroll(full)
                for (int h = 0; h < H; h++) a[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q[h] + d), kv, a[h]);
            }
#pragma clang loop unroll(full)
            for (int h = 0; h < H; h++) s[h][j] = hsum8(a[h]);
        }
    }
}

/// Softmax of one head's raw scores in place (unnormalised exponentials); returns 1 / their sum.
TLLM_AVX2 static inline float softmax_avx2(const tllm_attend_args *c, float *scores, int64_t n) {
    // Scale, max, exponentials and their sum, eight positions per step (padding lanes are zero).
    int64_t j;
    __m256 scale = _mm256_set1_ps(c->scale), vmax = _mm256_set1_ps(-INFINITY);
    int64_t padded = (n + 7) / 8 * 8;
    for (j = n; j < padded; j++) scores[j] = -INFINITY;
    for (j = 0; j < padded; j += 8) {
        __m256 s = _mm256_mul_ps(_mm256_loadu_ps(scores + j), scale);
        _mm256_storeu_ps(scores + j, s);
        vmax = _mm256_max_ps(vmax, s);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    __m256 maxv = _mm256_set1_ps(_mm_cvtss_f32(m4)), sumv = _mm256_setzero_ps();
    for (j = 0; j < padded; j += 8) {
        __m256 e = tllm_exp_neg8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), maxv));
        _mm256_storeu_ps(scores + j, e);
        sumv = _mm256_add_ps(sumv, e);
    }
    return 1.0f / hsum8(sumv);
}

/// The weighted sum of one head's values into o (weights scores[j] · inv, j in order).
TLLM_AVX2 static inline __attribute__((always_inline)) void
values_avx2(const tllm_attend_args *c, const int32_t *table, int64_t n, int64_t off, const float *scores, float inv,
            float *tmp, float *o, const int64_t hd) {
    int64_t j;
    // The output row stays in registers for head dimensions up to HD_MAX.
    __m256 acc[HD_MAX / 8];
    int64_t lanes = hd / 8;
    for (int64_t l = 0; l < lanes; l++) acc[l] = _mm256_setzero_ps();
    int64_t tpb = c->tokensPerBlock, ld = c->kvDim;
    for (int64_t b0 = 0; b0 < n; b0 += tpb) {
        // Float caches: rows of a block are kvDim apart; int8 caches dequantize each row into tmp.
        const float *base = c->vf ? c->vf + (int64_t)table[b0 / tpb] * tpb * ld + off : NULL;
        int64_t end = n - b0 < tpb ? n : b0 + tpb;
        for (j = b0; j < end; j++) {
            const float *v = base ? base + (j - b0) * ld : kv_row(c, 1, table, j, off, tmp);
            __m256 w = _mm256_set1_ps(scores[j] * inv);
            for (int64_t l = 0; l < lanes; l++) acc[l] = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8 * l), acc[l]);
        }
    }
    for (int64_t l = 0; l < lanes; l++) _mm256_storeu_ps(o + 8 * l, acc[l]);
}

/// values_avx2 for H (2 or 3) heads of 64 that share a KV head, each value row loaded once: up to
/// 24 accumulators need AVX-512VL's 32 registers; each head's arithmetic is values_avx2's.
TLLM_AVX2 static inline __attribute__((always_inline)) void
values_64(const tllm_attend_args *c, const int32_t *table, int64_t n, int64_t off, float *const *s, const float *inv,
          float *const *o, const int H) {
    __m256 a[3][8];
#pragma clang loop unroll(full)
    for (int h = 0; h < H; h++)
#pragma clang loop unroll(full)
        for (int l = 0; l < 8; l++) a[h][l] = _mm256_setzero_ps();
    int64_t tpb = c->tokensPerBlock, ld = c->kvDim;
    for (int64_t b0 = 0; b0 < n; b0 += tpb) {
        const float *base = c->vf + (int64_t)table[b0 / tpb] * tpb * ld + off;
        int64_t end = n - b0 < tpb ? n : b0 + tpb;
        for (int64_t j = b0; j < end; j++) {
            const float *v = base + (j - b0) * ld;
            __m256 w[3];
#pragma clang loop unroll(full)
            for (int h = 0; h < H; h++) w[h] = _mm256_set1_ps(s[h][j] * inv[h]);
#pragma clang loop unroll(full)
            for (int l = 0; l < 8; l++) {
                __m256 x = _mm256_loadu_ps(v + 8 * l);
#pragma clang loop unroll(full)
                for (int h = 0; h < H; h++) a[h][l] = _mm256_fmadd_ps(w[h], x, a[h][l]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < H; h++)
#pragma clang loop unroll(full)
        for (int l = 0; l < 8; l++) _mm256_storeu_ps(o[h] + 8 * l, a[h][l]);
}

/// H heads (H ≤ 3) of one token that share a KV head: scores, softmax, values.
TLLM_AVX2 static inline __attribute__((always_inline)) void
attend_hd(const tllm_attend_args *c, const float *const *q, const int32_t *table, int64_t n, int64_t off,
          float *const *s, float *tmp, float *const *o, const int64_t hd, const int H, const int wide) {
    scores_avx2(c, q, table, n, off, s, tmp, hd, H);
    float inv[3];
    for (int h = 0; h < H; h++) inv[h] = softmax_avx2(c, s[h], n);
    if (wide && H > 1 && c->vf && hd == 64) {
        values_64(c, table, n, off, s, inv, o, H);
        return;
    }
    for (int h = 0; h < H; h++) values_avx2(c, table, n, off, s[h], inv[h], tmp, o[h], hd);
}

/// One or two heads with AVX2 (16 registers); head dimensions 64 and 128 get unrolled bodies.
TLLM_AVX2 static void attend_avx2(const tllm_attend_args *c, const float *const *q, int H, const int32_t *table,
                                  int64_t n, int64_t off, float *const *s, float *tmp, float *const *o) {
    if (H == 1) {
        switch (c->headDim) {
        case 64: attend_hd(c, q, table, n, off, s, tmp, o, 64, 1, 0); break;
        case 128: attend_hd(c, q, table, n, off, s, tmp, o, 128, 1, 0); break;
        default: attend_hd(c, q, table, n, off, s, tmp, o, c->headDim, 1, 0); break;
        }
        return;
    }
    switch (c->headDim) {
    case 64: attend_hd(c, q, table, n, off, s, tmp, o, 64, 2, 0); break;
    case 128: attend_hd(c, q, table, n, off, s, tmp, o, 128, 2, 0); break;
    default: attend_hd(c, q, table, n, off, s, tmp, o, c->headDim, 2, 0); break;
    }
}

/// Two or three heads of 64 with AVX-512VL: every key and value row loaded once for all of them.
TLLM_AVX512 static void attend_avx512(const tllm_attend_args *c, const float *const *q, int H, const int32_t *table,
                                      int64_t n, int64_t off, float *const *s, float *tmp, float *const *o) {
    if (H == 3) attend_hd(c, q, table, n, off, s, tmp, o, 64, 3, 1);
    else attend_hd(c, q, table, n, off, s, tmp, o, 64, 2, 1);
}
#endif

/// Work item i is one (token, KV head) pair: all the query heads sharing that KV head. Tokens are
/// taken in folded order (first, last, second, second-to-last, ...) so that every chunk of items
/// holds as many long causal rows as short ones.
static void attend_items(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const tllm_attend_args *c = p;
    int64_t group = c->heads / c->kvHeads, hd = c->headDim;
    float *tmp = tllm_scratch(2, 4 * hd);  // three rotated queries, then one dequantized key or value
    float *kv = tmp + 3 * hd;
#if defined(__x86_64__)
    int vector = tllm_use_avx2() && hd % 8 == 0 && hd <= HD_MAX;
    // Heads of a KV group go three at a time where AVX-512VL holds their accumulators, else two.
    int wide = vector && tllm_use_avx512() && hd == 64 && c->kf && c->vf;
#endif
    for (int64_t item = i0; item < i1; item++) {
        int64_t u = item / c->kvHeads, kvh = item % c->kvHeads;
        int64_t t = u % 2 == 0 ? u / 2 : c->T - 1 - u / 2, off = kvh * hd;
        int64_t n = (int64_t)c->pos[t] + 1;
        const int32_t *table = c->blockTables + (int64_t)c->seq[t] * c->maxBlocks;
        float *scores = tllm_scratch(1, 3 * (n + 8));
        for (int64_t h0 = kvh * group, hEnd = (kvh + 1) * group; h0 < hEnd;) {
            int H = 2;
#if defined(__x86_64__)
            if (wide) H = 3;
#endif
            if (H > hEnd - h0) H = (int)(hEnd - h0);
            const float *q[3];
            float *o[3], *s[3];
            for (int i = 0; i < H; i++) {
                q[i] = c->q + t * c->ldq + (h0 + i) * hd;
                o[i] = c->out + t * c->ldo + (h0 + i) * hd;
                s[i] = scores + i * (n + 8);
                if (c->cosTable) {
                    memcpy(tmp + i * hd, q[i], (size_t)hd * 4);
                    tllm_rotate_head(tmp + i * hd, c->cosTable + t * c->ropeHalf, c->sinTable + t * c->ropeHalf,
                                     c->ropeHalf, c->neox);
                    q[i] = tmp + i * hd;
                }
            }
            h0 += H;
#if defined(__x86_64__)
            if (wide && H > 1) { attend_avx512(c, q, H, table, n, off, s, kv, o); continue; }
            if (vector) { attend_avx2(c, q, H, table, n, off, s, kv, o); continue; }
#endif
            for (int i = 0; i < H; i++) attend_scalar(c, q[i], table, n, off, s[i], kv, o[i]);
        }
    }
}

void tllm_attend(const tllm_attend_args *args, int64_t T) {
    tllm_attend_args c = *args;
    c.T = T;
    tllm_parallel_for(T * c.kvHeads, attend_items, &c);
}

void tllm_paged_attention(const float *q, int64_t ldq, int64_t T,
                          int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                          const float *kCache, const float *vCache, int64_t tokensPerBlock,
                          const int32_t *blockTables, int64_t maxBlocks,
                          const int32_t *seq, const int32_t *pos, float *out, int64_t ldo) {
    tllm_attend_args c = {q, ldq, heads, kvHeads, headDim, kvHeads * headDim, tokensPerBlock, maxBlocks, ldo, scale,
                          kCache, vCache, NULL, NULL, NULL, NULL, blockTables, seq, pos, NULL, NULL, 0, 0, out};
    tllm_attend(&c, T);
}

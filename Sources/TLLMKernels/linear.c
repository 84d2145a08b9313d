// Matrix products: row-by-row dot products over dequantized weight rows, and OpenBLAS for float32.
// Every output element is one fixed-order dot product, so a token's result never depends on
// which other tokens share the batch.
#include "dispatch.h"
#include "tllm_fused.h"
#include "tllm_math.h"
#include "tllm_q8.h"
#include "tllm_x8.h"
#include <math.h>
#include <cblas.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float dot_scalar(const float *a, const float *b, int64_t n) {
    // Eight interleaved partial sums, reduced pairwise: the same shape as the AVX2 kernel.
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

#if defined(__x86_64__)

TLLM_AVX2 static float dot_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
#endif

float tllm_dot(const float *a, const float *b, int64_t n) {
#if defined(__x86_64__)
    if (tllm_use_avx2()) return dot_avx2(a, b, n);
#endif
    return dot_scalar(a, b, n);
}

// ---- Tiled linear -----------------------------------------------------------------------------
// Every output element y[t, r] is computed the same way, whatever tile it falls in: one 8-lane
// accumulator chained over k in steps of 8 (acc = fma(w[k:k+8], x[k:k+8], acc)), a fixed
// horizontal sum, then the k % 8 tail in order. Tiles only change how many outputs share the
// loads: 4 rows x 3 tokens while at least 3 tokens remain, 8 rows x 1 token for the rest.

#define ROW_BLOCK 8

static float tail_scalar(const float *w, const float *x, int64_t k0, int64_t K, float s) {
    for (int64_t k = k0; k < K; k++) s += w[k] * x[k];
    return s;
}

static void tile_scalar(const float *const *w, int rows, const float *const *x, int tokens, int64_t K, float *out) {
    // out[r * tokens + t]; the scalar path keeps the same 8-lane shape without FMA.
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < tokens; t++) {
            float acc[8] = {0};
            int64_t k = 0;
            for (; k + 8 <= K; k += 8)
                for (int j = 0; j < 8; j++) acc[j] += w[r][k + j] * x[t][k + j];
            float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
            out[r * tokens + t] = tail_scalar(w[r], x[t], k, K, s);
        }
}

#if defined(__x86_64__)

/// 4 rows x NT tokens (NT ≤ 6): 4 + NT loads per 4·NT FMAs, each output the canonical chain.
/// Inlined into an AVX2 function for NT = 3 (12 accumulators fit AVX2's 16 registers) and into
/// AVX-512VL functions for NT = 4 and 6 (up to 24 accumulators in its 32 registers).
TLLM_AVX2 static inline __attribute__((always_inline)) void
tile_4xn(const float *const *w, const float *const *x, int64_t K, float *D, const int NT) {
    __m256 a[4][6];
    const float *xp[6], *wp[4];
#pragma clang loop unroll(full)
    for (int t = 0; t < 6; t++) xp[t] = x[t < NT ? t : 0];
#pragma clang loop unroll(full)
    for (int r = 0; r < 4; r++) wp[r] = w[r];
#pragma clang loop unroll(full)
    for (int r = 0; r < 4; r++)
#pragma clang loop unroll(full)
        for (int t = 0; t < 6; t++) a[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 xv[6];
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) xv[t] = _mm256_loadu_ps(xp[t] + k);
#pragma clang loop unroll(full)
        for (int r = 0; r < 4; r++) {
            __m256 wr = _mm256_loadu_ps(wp[r] + k);
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) a[r][t] = _mm256_fmadd_ps(wr, xv[t], a[r][t]);
        }
    }
    if (k == K) {
        // A token's four rows are adjacent in D: reduce and store them together.
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) _mm_storeu_ps(D + t * ROW_BLOCK, hsum8x4(a[0][t], a[1][t], a[2][t], a[3][t]));
        return;
    }
    float sums[24];
#pragma clang loop unroll(full)
    for (int r = 0; r < 4; r++)
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) sums[r * NT + t] = hsum8(a[r][t]);
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < NT; t++) D[t * ROW_BLOCK + r] = tail_scalar(w[r], x[t], k, K, sums[r * NT + t]);
}

/// The tiles write D[t * ROW_BLOCK + r] for their 4 rows r and NT tokens t.
TLLM_AVX2 static void tile_4x3(const float *const *w, const float *const *x, int64_t K, float *D) {
    tile_4xn(w, x, K, D, 3);
}
TLLM_AVX512 static void tile_4x6(const float *const *w, const float *const *x, int64_t K, float *D) {
    tile_4xn(w, x, K, D, 6);
}
TLLM_AVX512 static void tile_4x4(const float *const *w, const float *const *x, int64_t K, float *D) {
    tile_4xn(w, x, K, D, 4);
}
#endif

#if defined(__x86_64__)
/// Up to 8 rows x 1 token: independent chains hide the FMA latency when decoding one token.
TLLM_AVX2 static void tile_rows_x1(const float *const *w, int rows, const float *x, int64_t K, float *out) {
    __m256 a[8];
    for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
    int64_t k = 0;
    if (rows == 8) {
        for (; k + 8 <= K; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            for (int r = 0; r < 8; r++) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + k), xv, a[r]);
        }
    } else {
        for (; k + 8 <= K; k += 8) {
            __m256 xv = _mm256_loadu_ps(x + k);
            for (int r = 0; r < rows; r++) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + k), xv, a[r]);
        }
    }
    hsum8_rows(a, rows, out);
    for (int r = 0; r < rows && k < K; r++) out[r] = tail_scalar(w[r], x, k, K, out[r]);
}
#endif

/// Dots of rows [r0, r0 + rows) of W with every token, into D[t * ROW_BLOCK + r]. Quantized
/// rows are dequantized exactly into `scratch` first; every element follows the canonical order.
static void block_dots(const uint8_t *W, tllm_wtype wtype, size_t rowBytes, int64_t N, int64_t K, int64_t r0, int rows,
                       const float *X, int64_t ldx, int64_t T, float *scratch, float *D) {
    if (T < 3 && tllm_gemv_supports(wtype)) {
        // Decode: too few tokens to amortise a dequantized copy; rebuild weights in registers.
        const uint8_t *q[ROW_BLOCK];
        for (int r = 0; r < rows; r++) q[r] = W + (size_t)(r0 + r) * rowBytes;
        int done = 1;
        for (int64_t t = 0; t < T && done; t++)
            done = tllm_gemv_rows(wtype, q, rows, X + t * ldx, K, t + 1 == T ? q[0] + rows * rowBytes : NULL,
                                  (int64_t)(rows * rowBytes), D + t * ROW_BLOCK);
        if (done) return;
    }
    const float *w[ROW_BLOCK];
    for (int r = 0; r < rows; r++) {
        const uint8_t *src = W + (size_t)(r0 + r) * rowBytes;
        if (tllm_x8_base(wtype) != wtype) {
            // Interleaved rows (an _X8 matrix given float32 inputs) are gathered out of their block.
            tllm_matrix_row(W, wtype, N, K, r0 + r, scratch + r * K);
            w[r] = scratch + r * K;
        } else if (wtype != TLLM_F32) {
#if defined(__x86_64__)
            // The same row of the next block streams in while this one is dequantized.
            for (size_t line = 0; line < rowBytes; line += 64)
                _mm_prefetch((const char *)src + (size_t)ROW_BLOCK * rowBytes + line, _MM_HINT_T0);
#endif
            tllm_dequantize_row(wtype, src, scratch + r * K, K);
            w[r] = scratch + r * K;
        } else {
            w[r] = (const float *)src;
        }
    }
    int64_t t = 0;
#if defined(__x86_64__)
    if (tllm_use_avx2()) {
        // Widest tiles first (6 or 4 tokens with AVX-512VL, else 3); 4 where a 6 would leave one
        // token for the slow 8x1 tile. Only how many outputs share the loads changes.
        int wide = tllm_use_avx512();
        while (rows == ROW_BLOCK && T - t >= 3) {
            int nt = !wide || T - t == 3 ? 3 : T - t >= 6 && T - t != 7 ? 6 : 4;
            const float *x[6];
            for (int j = 0; j < nt; j++) x[j] = X + (t + j) * ldx;
            for (int half = 0; half < 2; half++) {
                float *d = D + t * ROW_BLOCK + 4 * half;
                if (nt == 6) tile_4x6(w + 4 * half, x, K, d);
                else if (nt == 4) tile_4x4(w + 4 * half, x, K, d);
                else tile_4x3(w + 4 * half, x, K, d);
            }
            t += nt;
        }
        for (; t < T; t++) tile_rows_x1(w, rows, X + t * ldx, K, D + t * ROW_BLOCK);
    }
#endif
    for (; t < T; t++) {
        const float *x[1] = {X + t * ldx};
        tile_scalar(w, rows, x, 1, K, D + t * ROW_BLOCK);
    }
}

/// The int8 input rows for a call that asked for them and has a weight (of `a` or `b`) that takes
/// them: quantized once on the calling thread's scratch, read by every row block. NULL: float32.
static const uint8_t *quantized_input(tllm_input_type input, tllm_wtype a, tllm_wtype b, const float *X, int64_t ldx,
                                      int64_t T, int64_t K) {
    if (input != TLLM_INPUT_Q8 || K <= 0 || K % 32 != 0 || T <= 0 || !(tllm_q8_supports(a) || tllm_q8_supports(b))) return NULL;
    uint8_t *XQ = (uint8_t *)tllm_scratch(4, (int64_t)(T * tllm_q8_row_bytes(K) / 4));
    tllm_q8_quantize(X, ldx, T, K, XQ);
    return XQ;
}

/// The float32 input prepared for a weight of `type` that runs the float32 x8 kernel
/// (linear_x8.c): once per call on the calling thread's scratch `slot`, read by every row block.
/// NULL: not such a weight, or the input was quantized to int8.
static const float *x8f_input(const uint8_t *XQ, tllm_wtype type, const float *X, int64_t ldx, int64_t T, int64_t K,
                              int slot) {
    if (XQ || !tllm_x8f_supports(type) || K <= 0 || K % 32 != 0) return NULL;
    float *in = tllm_scratch(slot, (int64_t)tllm_x8f_input_floats(T, K));
    tllm_x8f_prepare(type, X, ldx, T, K, in);
    return in;
}

/// Row blocks per parallel item for the float32 x8 kernel: in decode (one or two tokens) a whole
/// group (tllm_x8_layout.h), so every tile streams a group front to back; with more tokens, half
/// a group, for finer load balance (the pair tiles read a slice of every column block anyway).
/// Every other path: 1.
#define X8F_DECODE_ITEM 8
#define X8F_ITEM 4
/// Row blocks one kernel call covers at most (the D scratch holds this many).
#define CALL_BLOCKS 8

static int64_t blocks_per_item(const float *in, int64_t T) { return !in ? 1 : T <= 2 ? X8F_DECODE_ITEM : X8F_ITEM; }

/// Row blocks per kernel call: up to a group for the x8 kernel, else 1.
static int64_t blocks_per_call(const float *in) { return in ? CALL_BLOCKS : 1; }

/// The row blocks parallel items [i0, i1) cover, [first, end), taken `step` per kernel call.
typedef struct { int64_t first, end, step; } block_range;

static block_range item_blocks(int64_t N, const float *in, int64_t T, int64_t i0, int64_t i1) {
    const int64_t blocks = (N + ROW_BLOCK - 1) / ROW_BLOCK, per = blocks_per_item(in, T);
    return (block_range){i0 * per, i1 * per < blocks ? i1 * per : blocks, blocks_per_call(in)};
}

/// Parallel items of a linear over N rows: its row blocks, blocks_per_item at a time.
static int64_t job_items(int64_t N, const float *in, int64_t T) {
    const int64_t blocks = (N + ROW_BLOCK - 1) / ROW_BLOCK, per = blocks_per_item(in, T);
    return (blocks + per - 1) / per;
}

/// The calling thread's scratch for row_blocks_dots over rows of K: room for a row block
/// dequantized to float32, which also holds one laid out for int8 inputs (tllm_q8_prep_bytes(K)
/// is 8.5 K bytes, under the 32 K here), or a panel of the float32 x8 kernel.
static float *row_block_scratch(int64_t K) {
    const int64_t x8f = (int64_t)tllm_x8f_scratch_floats(K);
    return tllm_scratch(0, x8f > ROW_BLOCK * K ? x8f : ROW_BLOCK * K);
}

/// Row blocks [block, block + n) (n ≤ CALL_BLOCKS) against every token, into D[i · 8T + 8t + r]:
/// the float32 x8 kernel where it applies (`in`: the input x8f_input prepared for this weight),
/// else block_dots or its int8-activation twin (when the input was quantized and the weight type
/// has one) a row block at a time. `scratch` comes from row_block_scratch.
static void row_blocks_dots(const uint8_t *W, tllm_wtype wtype, size_t rowBytes, int64_t N, int64_t K, int64_t block,
                            int n, const float *X, int64_t ldx, const uint8_t *XQ, const float *in, int64_t T,
                            float *scratch, float *D) {
    if (in) {
        tllm_x8f_dots(W, wtype, N, K, block, n, in, T, scratch, D);
        return;
    }
    for (int i = 0; i < n; i++) {
        int64_t r0 = (block + i) * ROW_BLOCK;
        int rows = (int)(N - r0 < ROW_BLOCK ? N - r0 : ROW_BLOCK);
        float *d = D + i * ROW_BLOCK * T;
        if (XQ && tllm_q8_supports(wtype)) tllm_q8_block_dots(W, wtype, rowBytes, K, r0, rows, XQ, T, (uint8_t *)scratch, d);
        else block_dots(W, wtype, rowBytes, N, K, r0, rows, X, ldx, T, scratch, d);
    }
}

static inline float gelu_tanh(float v) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}


// ---- GEMM with epilogue: Y = R + act(X·Wᵀ + bias) ------------------------------------------------

typedef struct {
    const uint8_t *W;
    tllm_wtype wtype;
    int64_t N, K, ldx, T, ldy, ldr;
    size_t rowBytes;
    const float *X, *bias, *R, *in;
    const uint8_t *XQ;
    tllm_activation act;
    float *Y;
} linear_ctx;

#if defined(__x86_64__)
/// The scalar epilogue below for a full row block of one token, 8 outputs at once with the same
/// operations (tllm_silu8 is tllm_silu1's twin); GELU stays scalar.
TLLM_AVX2 static void linear_epilogue8(const float *d, const float *bias, tllm_activation act, const float *R,
                                       float *y) {
    __m256 v = _mm256_loadu_ps(d);
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    if (act == TLLM_ACT_SILU) v = tllm_silu8(v);
    if (R) v = _mm256_add_ps(_mm256_loadu_ps(R), v);
    _mm256_storeu_ps(y, v);
}
#endif

static void linear_rows(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const linear_ctx *c = p;
    float *scratch = c->wtype == TLLM_F32 ? NULL : row_block_scratch(c->K);
    const block_range range = item_blocks(c->N, c->in, c->T, i0, i1);
    float *D = tllm_scratch(2, range.step * ROW_BLOCK * c->T);
    for (int64_t first = range.first; first < range.end; first += range.step) {
        const int n = (int)(range.end - first < range.step ? range.end - first : range.step);
        row_blocks_dots(c->W, c->wtype, c->rowBytes, c->N, c->K, first, n, c->X, c->ldx, c->XQ, c->in, c->T, scratch, D);
        for (int i = 0; i < n; i++) {
            const int64_t r0 = (first + i) * ROW_BLOCK;
            const int rows = (int)(c->N - r0 < ROW_BLOCK ? c->N - r0 : ROW_BLOCK);
            const float *Db = D + i * ROW_BLOCK * c->T;
#if defined(__x86_64__)
            if (rows == ROW_BLOCK && c->act != TLLM_ACT_GELU && tllm_use_avx2()) {
                for (int64_t t = 0; t < c->T; t++)
                    linear_epilogue8(Db + t * ROW_BLOCK, c->bias ? c->bias + r0 : NULL, c->act,
                                     c->R ? c->R + t * c->ldr + r0 : NULL, c->Y + t * c->ldy + r0);
                continue;
            }
#endif
            for (int64_t t = 0; t < c->T; t++)
                for (int r = 0; r < rows; r++) {
                    float y = Db[t * ROW_BLOCK + r];
                    if (c->bias) y = y + c->bias[r0 + r];
                    if (c->act == TLLM_ACT_GELU) y = gelu_tanh(y);
                    else if (c->act == TLLM_ACT_SILU) y = tllm_silu1(y);
                    if (c->R) y = c->R[t * c->ldr + r0 + r] + y;
                    c->Y[t * c->ldy + r0 + r] = y;
                }
        }
    }
}

void tllm_linear_fused(const void *W, tllm_wtype wtype, int64_t N, int64_t K,
                       const float *X, int64_t ldx, int64_t T, tllm_input_type input,
                       const float *bias, tllm_activation act, const float *R, int64_t ldr, float *Y, int64_t ldy) {
    if (T <= 0) return;
    const uint8_t *XQ = quantized_input(input, wtype, wtype, X, ldx, T, K);
    const float *in = x8f_input(XQ, wtype, X, ldx, T, K, 5);
    linear_ctx c = {W, wtype, N, K, ldx, T, ldy, ldr, tllm_row_bytes(wtype, K), X, bias, R, in, XQ, act, Y};
    tllm_parallel_for(job_items(N, in, T), linear_rows, &c);
}

void tllm_linear(const void *W, tllm_wtype wtype, int64_t N, int64_t K,
                 const float *X, int64_t ldx, int64_t T,
                 const float *bias, float *Y, int64_t ldy) {
    tllm_linear_fused(W, wtype, N, K, X, ldx, T, TLLM_INPUT_F32, bias, TLLM_ACT_NONE, NULL, 0, Y, ldy);
}

// ---- Gated MLP: silu(X·Wgᵀ + bg) * (X·Wuᵀ + bu), both GEMMs over the same row block ----------------

typedef struct {
    const uint8_t *Wg, *Wu;
    tllm_wtype tg, tu;
    int64_t N, K, ldx, T, ldo;
    size_t gBytes, uBytes;
    const float *X, *bg, *bu, *inG, *inU;
    const uint8_t *XQ;
    float *out;
} gated_ctx;

#if defined(__x86_64__)
/// silu(g + bg) · (u + bu) for a full row block of one token: tllm_silu1's arithmetic, 8 at once.
TLLM_AVX2 static void gated_epilogue8(const float *g, const float *u, const float *bg, const float *bu, int64_t r0,
                                      float *out) {
    __m256 gv = _mm256_loadu_ps(g), uv = _mm256_loadu_ps(u);
    if (bg) gv = _mm256_add_ps(gv, _mm256_loadu_ps(bg + r0));
    if (bu) uv = _mm256_add_ps(uv, _mm256_loadu_ps(bu + r0));
    _mm256_storeu_ps(out, _mm256_mul_ps(tllm_silu8(gv), uv));
}
#endif

static void gated_rows(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const gated_ctx *c = p;
    float *scratch = row_block_scratch(c->K);
    const block_range range = item_blocks(c->N, c->inG ? c->inG : c->inU, c->T, i0, i1);
    float *Dg = tllm_scratch(2, range.step * ROW_BLOCK * c->T), *Du = tllm_scratch(3, range.step * ROW_BLOCK * c->T);
    for (int64_t first = range.first; first < range.end; first += range.step) {
        const int n = (int)(range.end - first < range.step ? range.end - first : range.step);
        row_blocks_dots(c->Wg, c->tg, c->gBytes, c->N, c->K, first, n, c->X, c->ldx, c->XQ, c->inG, c->T, scratch, Dg);
        row_blocks_dots(c->Wu, c->tu, c->uBytes, c->N, c->K, first, n, c->X, c->ldx, c->XQ, c->inU, c->T, scratch, Du);
        for (int i = 0; i < n; i++) {
            const int64_t r0 = (first + i) * ROW_BLOCK;
            const int rows = (int)(c->N - r0 < ROW_BLOCK ? c->N - r0 : ROW_BLOCK);
            const float *g8 = Dg + i * ROW_BLOCK * c->T, *u8 = Du + i * ROW_BLOCK * c->T;
            for (int64_t t = 0; t < c->T; t++) {
                float *o = c->out + t * c->ldo + r0;
#if defined(__x86_64__)
                if (rows == ROW_BLOCK && tllm_use_avx2()) { gated_epilogue8(g8 + t * ROW_BLOCK, u8 + t * ROW_BLOCK, c->bg, c->bu, r0, o); continue; }
#endif
                for (int r = 0; r < rows; r++) {
                    float g = g8[t * ROW_BLOCK + r], u = u8[t * ROW_BLOCK + r];
                    if (c->bg) g = g + c->bg[r0 + r];
                    if (c->bu) u = u + c->bu[r0 + r];
                    o[r] = tllm_silu1(g) * u;
                }
            }
        }
    }
}

void tllm_gated_linear(const void *Wg, tllm_wtype tg, const void *Wu, tllm_wtype tu, int64_t N, int64_t K,
                       const float *X, int64_t ldx, int64_t T, tllm_input_type input,
                       const float *bg, const float *bu, float *out, int64_t ldo) {
    if (T <= 0) return;
    const uint8_t *XQ = quantized_input(input, tg, tu, X, ldx, T, K);
    const float *inG = x8f_input(XQ, tg, X, ldx, T, K, 5);
    // The up matrix shares the gate's prepared input unless its codes take another order.
    const float *inU = inG && tllm_x8f_supports(tu) && tllm_x8f_same_input(tg, tu) ? inG : x8f_input(XQ, tu, X, ldx, T, K, 6);
    gated_ctx c = {Wg, Wu, tg, tu, N, K, ldx, T, ldo, tllm_row_bytes(tg, K), tllm_row_bytes(tu, K), X, bg, bu, inG, inU, XQ, out};
    tllm_parallel_for(job_items(N, inG ? inG : inU, T), gated_rows, &c);
}

typedef struct {
    const float *W, *X, *bias;
    float *Y;
    int64_t N, K, ldx, T, ldy;
} blas_ctx;

static void blas_columns(void *p, int64_t n0, int64_t n1, int thread) {
    (void)thread;
    const blas_ctx *c = p;
    int64_t cols = n1 - n0;
    // Y[:, n0:n1] = X · W[n0:n1, :]ᵀ
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->T, (int)cols, (int)c->K, 1.0f,
                c->X, (int)c->ldx, c->W + n0 * c->K, (int)c->K, 0.0f, c->Y + n0, (int)c->ldy);
    if (c->bias)
        for (int64_t t = 0; t < c->T; t++)
            for (int64_t n = n0; n < n1; n++) c->Y[t * c->ldy + n] += c->bias[n];
}

void tllm_linear_f32_blas(const float *W, int64_t N, int64_t K,
                          const float *X, int64_t ldx, int64_t T,
                          const float *bias, float *Y, int64_t ldy) {
    static int single_threaded = 0;
    if (!single_threaded) { openblas_set_num_threads(1); single_threaded = 1; }
    blas_ctx c = {W, X, bias, Y, N, K, ldx, T, ldy};
    // Column slices depend only on N and the thread count, never on T.
    tllm_parallel_for(N, blas_columns, &c);
}

typedef struct {
    const uint8_t *W;
    tllm_wtype wtype;
    int64_t rows, dim;
    const int32_t *ids;
    float *out;
} embedding_ctx;

static void embedding_rows(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const embedding_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) tllm_matrix_row(c->W, c->wtype, c->rows, c->dim, c->ids[t], c->out + t * c->dim);
}

void tllm_embedding(const void *W, tllm_wtype wtype, int64_t rows, int64_t dim,
                    const int32_t *ids, int64_t T, float *out) {
    embedding_ctx c = {W, wtype, rows, dim, ids, out};
    tllm_parallel_for(T, embedding_rows, &c);
}

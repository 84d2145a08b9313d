// Matrix products: row-by-row dot products over dequantized weight rows, and OpenBLAS for float32.
// Every output element is one fixed-order dot product, so a token's result never depends on
// which other tokens share the batch.
#include "dispatch.h"
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
TLLM_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

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
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
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

typedef struct {
    const uint8_t *W;
    tllm_wtype wtype;
    int64_t K, ldx, T, ldy;
    size_t rowBytes;
    const float *X, *bias;
    float *Y;
} linear_ctx;

static void linear_rows(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const linear_ctx *c = p;
    float *row = c->wtype == TLLM_F32 ? NULL : tllm_scratch(0, c->K);
    for (int64_t r = r0; r < r1; r++) {
        const float *w = (const float *)(c->W + (size_t)r * c->rowBytes);
        if (row) { tllm_dequantize_row(c->wtype, w, row, c->K); w = row; }
        float b = c->bias ? c->bias[r] : 0.0f;
        for (int64_t t = 0; t < c->T; t++) {
            float y = tllm_dot(w, c->X + t * c->ldx, c->K);
            c->Y[t * c->ldy + r] = c->bias ? y + b : y;
        }
    }
}

void tllm_linear(const void *W, tllm_wtype wtype, int64_t N, int64_t K,
                 const float *X, int64_t ldx, int64_t T,
                 const float *bias, float *Y, int64_t ldy) {
    linear_ctx c = {W, wtype, K, ldx, T, ldy, tllm_row_bytes(wtype, K), X, bias, Y};
    tllm_parallel_for(N, linear_rows, &c);
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
    int64_t dim;
    size_t rowBytes;
    const int32_t *ids;
    float *out;
} embedding_ctx;

static void embedding_rows(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const embedding_ctx *c = p;
    for (int64_t t = t0; t < t1; t++)
        tllm_dequantize_row(c->wtype, c->W + (size_t)c->ids[t] * c->rowBytes, c->out + t * c->dim, c->dim);
}

void tllm_embedding(const void *W, tllm_wtype wtype, int64_t dim,
                    const int32_t *ids, int64_t T, float *out) {
    embedding_ctx c = {W, wtype, dim, tllm_row_bytes(wtype, dim), ids, out};
    tllm_parallel_for(T, embedding_rows, &c);
}

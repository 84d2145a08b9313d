// Fused kernels for the built-in plugins: embedding with learned positions; RMSNorm and GELU over
// rows. (The GEMM epilogue and gated-MLP kernels share the tiled GEMM core in linear.c.)
// Arithmetic per element is that of the unfused ops (linear.c, norm.c), so results match them.
#include "dispatch.h"
#include "tllm_fused.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static inline float gelu_tanh(float v) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

// The GEMM with epilogue and the gated MLP GEMM live in linear.c, on the shared tiled core.

// ---- Embedding (+ learned positions) ------------------------------------------------------------

typedef struct {
    const uint8_t *tok, *pos;
    tllm_wtype tokType, posType;
    int64_t tokRows, posRows, dim, ldo;
    const int32_t *ids, *positions;
    float *out;
} embed_ctx;

static void embed_rows(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const embed_ctx *c = p;
    float *extra = c->pos ? tllm_scratch(0, c->dim) : NULL;
    for (int64_t t = t0; t < t1; t++) {
        float *o = c->out + t * c->ldo;
        tllm_matrix_row(c->tok, c->tokType, c->tokRows, c->dim, c->ids[t], o);
        if (!extra) continue;
        tllm_matrix_row(c->pos, c->posType, c->posRows, c->dim, c->positions[t], extra);
        for (int64_t i = 0; i < c->dim; i++) o[i] = o[i] + extra[i];
    }
}

void tllm_embedding_fused(const void *tok, tllm_wtype tokType, int64_t tokRows, const void *pos, tllm_wtype posType,
                          int64_t posRows, int64_t dim, const int32_t *ids, const int32_t *positions, int64_t T,
                          float *out, int64_t ldo) {
    embed_ctx c = {tok, pos, tokType, posType, tokRows, posRows, dim, ldo, ids, positions, out};
    tllm_parallel_for(T, embed_rows, &c);
}

// ---- RMSNorm and GELU over rows -----------------------------------------------------------------

typedef struct {
    const float *x, *w;
    float eps;
    int64_t ldx, dim, ldy;
    float *y;
} rows_ctx;

#if defined(__x86_64__)
TLLM_AVX2 static void scale_mul_avx2(const float *x, float scale, const float *w, int64_t n, float *y) {
    __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) y[i] = (x[i] * scale) * w[i];
}
#endif

static void rmsnorm_task(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const rows_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) {
        const float *x = c->x + t * c->ldx;
        float *y = c->y + t * c->ldy;
        float ss = tllm_dot(x, x, c->dim);
        float scale = 1.0f / sqrtf(ss / (float)c->dim + c->eps);
#if defined(__x86_64__)
        if (tllm_use_avx2()) { scale_mul_avx2(x, scale, c->w, c->dim, y); continue; }
#endif
        for (int64_t i = 0; i < c->dim; i++) y[i] = (x[i] * scale) * c->w[i];
    }
}

void tllm_rmsnorm_rows(const float *x, int64_t ldx, const float *w, float eps, int64_t T, int64_t dim,
                       float *y, int64_t ldy) {
    rows_ctx c = {x, w, eps, ldx, dim, ldy, y};
    tllm_parallel_for(T, rmsnorm_task, &c);
}

static void gelu_task(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const rows_ctx *c = p;
    for (int64_t t = t0; t < t1; t++)
        for (int64_t i = 0; i < c->dim; i++) c->y[t * c->ldy + i] = gelu_tanh(c->x[t * c->ldx + i]);
}

void tllm_gelu_rows(const float *x, int64_t ldx, int64_t T, int64_t n, float *out, int64_t ldo) {
    rows_ctx c = {x, NULL, 0.0f, ldx, n, ldo, out};
    tllm_parallel_for(T, gelu_task, &c);
}

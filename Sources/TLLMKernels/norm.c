// Row-wise and elementwise kernels: normalisation, rotary embedding, activations.
#include "dispatch.h"
#include "tllm_attention.h"
#include "tllm_fused.h"
#include "tllm_math.h"
#include <math.h>

typedef struct {
    const float *x, *w, *b;
    float eps;
    int64_t dim;
    float *y;
} norm_ctx;

void tllm_rmsnorm(const float *x, const float *w, float eps, int64_t T, int64_t dim, float *y) {
    tllm_rmsnorm_rows(x, dim, w, eps, T, dim, y, dim);   // one implementation, in fused.c
}

static void layernorm_rows(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const norm_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) {
        const float *x = c->x + t * c->dim;
        float *y = c->y + t * c->dim;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < c->dim; i++) mean += x[i];
        mean /= (double)c->dim;
        for (int64_t i = 0; i < c->dim; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= (double)c->dim;
        float inv = (float)(1.0 / sqrt(var + c->eps));
        for (int64_t i = 0; i < c->dim; i++) y[i] = ((x[i] - (float)mean) * inv) * c->w[i] + c->b[i];
    }
}

void tllm_layernorm(const float *x, const float *w, const float *b, float eps,
                    int64_t T, int64_t dim, float *y) {
    norm_ctx c = {x, w, b, eps, dim, y};
    tllm_parallel_for(T, layernorm_rows, &c);
}

void tllm_rope(float *x, int64_t ld, int64_t T, int64_t heads, int64_t headDim, int64_t ropeDim,
               const int32_t *positions, double theta, int neox) {
    const int64_t half = ropeDim / 2;
    if (half <= 0) return;
    const float *cs, *sn;
    tllm_rope_tables(theta, ropeDim, positions, T, tllm_scratch(3, 2 * T * half), &cs, &sn);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < heads; h++) tllm_rotate_head(x + t * ld + h * headDim, cs + t * half, sn + t * half, half, neox);
}

/// out[i] = silu(g[i]) · (u ? u[i] : 1), the arithmetic of tllm_math.h (so fused and unfused
/// SwiGLU agree bit for bit).
#if defined(__x86_64__)
/// The whole groups of 8 of silu_mul_row; returns how many elements it did.
TLLM_AVX2 static int64_t silu_mul_avx2(const float *g, const float *u, int64_t n, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 s = tllm_silu8(_mm256_loadu_ps(g + i));
        _mm256_storeu_ps(out + i, u ? _mm256_mul_ps(s, _mm256_loadu_ps(u + i)) : s);
    }
    return i;
}
#endif

static void silu_mul_row(const float *g, const float *u, int64_t n, float *out) {
    int64_t i = 0;
#if defined(__x86_64__)
    if (tllm_use_avx2()) i = silu_mul_avx2(g, u, n, out);
#endif
    for (; i < n; i++) out[i] = u ? tllm_silu1(g[i]) * u[i] : tllm_silu1(g[i]);
}

void tllm_silu_mul(const float *gate, int64_t ldg, const float *up, int64_t ldu,
                   int64_t T, int64_t n, float *out, int64_t ldo) {
    for (int64_t t = 0; t < T; t++) silu_mul_row(gate + t * ldg, up + t * ldu, n, out + t * ldo);
}

void tllm_silu(const float *x, int64_t n, float *out) { silu_mul_row(x, NULL, n, out); }

void tllm_mul(const float *a, const float *b, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void tllm_gelu(const float *x, int64_t n, float *out) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void tllm_add(const float *a, const float *b, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

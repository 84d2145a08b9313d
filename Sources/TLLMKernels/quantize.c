// Build-time quantization: float rows into the engine's int8 / int4 / FP8 formats, the AWQ
// calibration loss, column and row scaling, and CRC-32C checksums for the engine file.
#include "dispatch.h"
#include "tllm_quant.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// ---- FP8 E4M3 -------------------------------------------------------------------------------

uint8_t tllm_f32_to_fp8_e4m3(float x) {
    const float *table = tllm_fp8_table();
    uint8_t sign = signbit(x) ? 0x80 : 0;
    float a = fabsf(x);
    if (isnan(a)) return 0x7f;
    if (a >= 448.0f) return sign | 0x7e;
    // Largest code c in [0, 0x7e] with table[c] <= a (positive codes are increasing).
    int lo = 0, hi = 0x7e;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (table[mid] <= a) lo = mid; else hi = mid - 1;
    }
    int c = lo;
    if (c < 0x7e) {
        float below = a - table[c], above = table[c + 1] - a;
        if (above < below || (above == below && (c & 1))) c++;
    }
    return sign | (uint8_t)c;
}

// ---- Row quantizers -------------------------------------------------------------------------

static void quantize_int8_row(const float *x, int64_t n, uint8_t *out) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    float scale = amax / 127.0f;
    memcpy(out, &scale, 4);
    for (int64_t i = 0; i < n; i++) {
        long q = scale > 0.0f ? lrintf(x[i] / scale) : 0;
        out[4 + i] = (uint8_t)(int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
    }
}

static void quantize_fp8_row(const float *x, int64_t n, uint8_t *out) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    float scale = amax / 448.0f;
    memcpy(out, &scale, 4);
    for (int64_t i = 0; i < n; i++) out[4 + i] = scale > 0.0f ? tllm_f32_to_fp8_e4m3(x[i] / scale) : 0;
}

static void quantize_int4_row(const float *x, int64_t n, int64_t g, uint8_t *out) {
    // Written so the compiler vectorizes it (select-style min/max, rounding by adding and
    // subtracting 1.5·2^23, which rounds to nearest even for |r| < 2^22 as lrintf does): AWQ calls
    // it for every row at every grid point. Same results as lrintf((v - m) / d) clamped to 0...15.
    int64_t half = g / 2;
    float q[128];
    for (int64_t b = 0; b < n / g; b++, out += 4 + half) {
        const float *v = x + b * g;
        float mn = v[0], mx = v[0];
        for (int64_t j = 1; j < g; j++) { mn = v[j] < mn ? v[j] : mn; mx = v[j] > mx ? v[j] : mx; }
        uint16_t dh = tllm_f32_to_f16((mx - mn) / 15.0f), mh = tllm_f32_to_f16(mn);
        float d = tllm_f16_to_f32(dh), m = tllm_f16_to_f32(mh);
        memcpy(out, &dh, 2);
        memcpy(out + 2, &mh, 2);
        if (d > 0.0f) {
            for (int64_t j = 0; j < g; j++) {
                float r = ((v[j] - m) / d + 12582912.0f) - 12582912.0f;
                q[j] = r < 0.0f ? 0.0f : r > 15.0f ? 15.0f : r;
            }
        } else {
            for (int64_t j = 0; j < g; j++) q[j] = 0.0f;
        }
        for (int64_t j = 0; j < half; j++) out[4 + j] = (uint8_t)((int)q[j] | ((int)q[j + half] << 4));
    }
}

static void quantize_row(tllm_wtype type, const float *x, int64_t n, uint8_t *out) {
    switch (type) {
    case TLLM_INT8_ROW: quantize_int8_row(x, n, out); break;
    case TLLM_FP8_ROW: quantize_fp8_row(x, n, out); break;
    default: quantize_int4_row(x, n, tllm_int4_group(type), out); break;
    }
}

typedef struct {
    tllm_wtype type;
    const float *src;
    int64_t n;
    size_t rowBytes;
    uint8_t *dst;
} quantize_ctx;

static void quantize_rows_task(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const quantize_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) quantize_row(c->type, c->src + r * c->n, c->n, c->dst + (size_t)r * c->rowBytes);
}

void tllm_quantize_rows(tllm_wtype type, const float *src, int64_t rows, int64_t n, void *dst) {
    quantize_ctx c = {type, src, n, tllm_row_bytes(type, n), dst};
    tllm_parallel_for(rows, quantize_rows_task, &c);
}

// ---- AWQ loss -------------------------------------------------------------------------------

typedef struct {
    const float *W, *s, *X;
    int64_t K, group, samples;
    tllm_wtype type;
    double *rowLoss;
} awq_ctx;

static void awq_rows(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const awq_ctx *c = p;
    float *scaled = tllm_scratch(2, 2 * c->K);   // w ⊙ s, then the error (Q(w⊙s)/s − w)
    float *deq = scaled + c->K;
    uint8_t *bytes = (uint8_t *)tllm_scratch(3, (int64_t)tllm_row_bytes(c->type, c->K) / 4 + 1);
    for (int64_t r = r0; r < r1; r++) {
        const float *w = c->W + r * c->K;
        for (int64_t k = 0; k < c->K; k++) scaled[k] = w[k] * c->s[k];
        quantize_int4_row(scaled, c->K, c->group, bytes);
        tllm_dequantize_row(c->type, bytes, deq, c->K);
        for (int64_t k = 0; k < c->K; k++) scaled[k] = deq[k] / c->s[k] - w[k];
        double loss = 0.0;
        for (int64_t t = 0; t < c->samples; t++) {
            double e = tllm_dot(scaled, c->X + t * c->K, c->K);
            loss += e * e;
        }
        c->rowLoss[r] = loss;
    }
}

double tllm_awq_loss(const float *W, int64_t N, int64_t K, const float *s, int64_t group,
                     const float *X, int64_t samples) {
    tllm_wtype type = group == 32 ? TLLM_INT4_G32 : group == 64 ? TLLM_INT4_G64 : TLLM_INT4_G128;
    double *rowLoss = malloc((size_t)N * sizeof(double));
    awq_ctx c = {W, s, X, K, group, samples, type, rowLoss};
    tllm_parallel_for(N, awq_rows, &c);
    double total = 0.0;
    for (int64_t r = 0; r < N; r++) total += rowLoss[r];
    free(rowLoss);
    return total;
}

typedef struct { float *W; int64_t K; const float *s; int rows; } scale_ctx;

static void scale_task(void *p, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const scale_ctx *c = p;
    for (int64_t r = r0; r < r1; r++) {
        float *w = c->W + r * c->K;
        if (c->rows) { for (int64_t k = 0; k < c->K; k++) w[k] *= c->s[r]; }
        else { for (int64_t k = 0; k < c->K; k++) w[k] *= c->s[k]; }
    }
}

void tllm_scale_columns(float *W, int64_t N, int64_t K, const float *s) {
    scale_ctx c = {W, K, s, 0};
    tllm_parallel_for(N, scale_task, &c);
}

void tllm_scale_rows(float *W, int64_t N, int64_t K, const float *s) {
    scale_ctx c = {W, K, s, 1};
    tllm_parallel_for(N, scale_task, &c);
}

// ---- CRC-32C --------------------------------------------------------------------------------

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hardware = 0;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; n > 0; n--, p++) c32 = _mm_crc32_u8(c32, *p);
    return c32;
}
#endif

uint32_t tllm_crc32c(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_hardware) return ~crc_sse42(crc, p, n);
#endif
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

typedef struct { const void *const *data; const size_t *lengths; uint32_t *out; } crc_ctx;

static void crc_task(void *p, int64_t i0, int64_t i1, int thread) {
    (void)thread;
    const crc_ctx *c = p;
    for (int64_t i = i0; i < i1; i++) c->out[i] = tllm_crc32c(0, c->data[i], c->lengths[i]);
}

void tllm_crc32c_many(const void *const *data, const size_t *lengths, int64_t count, uint32_t *out) {
    crc_ctx c = {data, lengths, out};
    tllm_parallel_for(count, crc_task, &c);
}

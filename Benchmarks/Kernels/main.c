// bench-kernels: one micro-benchmark per hot kernel, each reported against this machine's
// ceilings measured in the same run — DRAM read bandwidth (GB/s) for the kernels that stream
// weights, FMA peak (GFLOP/s) for the ones that multiply.
//
//   swift build -c release --product bench-kernels
//   TLLM_NUM_THREADS=2 .build/release/bench-kernels [--quick | --ceilings]
//
// Shapes are SmolLM2-135M's (hidden 576, MLP 1536, 9 heads × 64, 3 KV heads, vocabulary 49152,
// 30 layers); weights are random but well-formed blocks, and a decode step's worth of distinct
// matrices (~96 MB, three times the L3) is cycled so that weights come from DRAM as in a real
// decode. Each figure is the median of several timed runs; one JSON line per kernel.
#include "tllm_fused.h"
#include "tllm_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {  // SplitMix64
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float uniform(void) { return (float)((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

static void *alloc(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) { fprintf(stderr, "bench-kernels: out of memory (%zu bytes)\n", bytes); exit(1); }
    return p;
}

/// A weight matrix of N rows × K in `type`, random values, scales set to small sane fp16 values.
static void *random_weights(tllm_wtype type, int64_t N, int64_t K) {
    size_t rowBytes = tllm_row_bytes(type, K), bytes = rowBytes * (size_t)N;
    uint8_t *w = alloc(bytes);
    for (size_t i = 0; i < bytes; i += 8) { uint64_t v = next(); memcpy(w + i, &v, bytes - i < 8 ? bytes - i : 8); }
    if (type == TLLM_F32) for (size_t i = 0; i < bytes / 4; i++) ((float *)w)[i] = uniform() * 0.05f;
    int64_t block = type == TLLM_Q4_1 ? 20 : type == TLLM_Q4_0 ? 18 : type == TLLM_Q8_0 ? 34 : 0;
    for (int64_t n = 0; block && n < N; n++)
        for (int64_t b = 0; b < K / 32; b++) {
            uint8_t *p = w + (size_t)n * rowBytes + (size_t)(b * block);
            uint16_t d = tllm_f32_to_f16(0.01f + 0.01f * fabsf(uniform())), m = tllm_f32_to_f16(-0.08f * fabsf(uniform()));
            memcpy(p, &d, 2);
            if (type == TLLM_Q4_1) memcpy(p + 2, &m, 2);
        }
    return w;
}

static float *random_floats(int64_t n) {
    float *x = alloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) x[i] = uniform();
    return x;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*work_fn)(void *ctx);
/// Median seconds of `reps` runs of fn after one warm-up.
static double time_median(work_fn fn, void *ctx, int reps) {
    double t[64];
    fn(ctx);
    for (int i = 0; i < reps; i++) { double s = now(); fn(ctx); t[i] = now() - s; }
    qsort(t, (size_t)reps, sizeof(double), cmp);
    return t[reps / 2];
}

// ---- Ceilings ---------------------------------------------------------------------------------

typedef struct { const float *buf; int64_t n; float sums[64]; } stream_ctx;

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float sum_avx2(const float *p, int64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

static void stream_task(void *p, int64_t b, int64_t e, int thread) {
    stream_ctx *c = p;
    int64_t per = c->n / 1024;
    float s = 0;
    for (int64_t i = b; i < e; i++) {
#if defined(__x86_64__)
        s += sum_avx2(c->buf + i * per, per);
#else
        for (int64_t j = 0; j < per; j++) s += c->buf[i * per + j];
#endif
    }
    c->sums[thread] += s;
}
static void stream_run(void *p) { tllm_parallel_for(1024, stream_task, p); }

typedef struct { int64_t iters; float sink[64]; } peak_ctx;

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float fma_chains(int64_t iters) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (int64_t k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    return _mm256_cvtss_f32(s);
}
#endif

static void peak_task(void *p, int64_t b, int64_t e, int thread) {
    peak_ctx *c = p;
#if defined(__x86_64__)
    for (int64_t i = b; i < e; i++) c->sink[thread] += fma_chains(c->iters);
#else
    (void)b; (void)e; (void)thread; (void)c;
#endif
}
static void peak_run(void *p) { tllm_parallel_for(tllm_num_threads(), peak_task, p); }

// ---- Kernels ----------------------------------------------------------------------------------

enum { HIDDEN = 576, MLP = 1536, HEADS = 9, KV_HEADS = 3, HEAD_DIM = 64, VOCAB = 49152, LAYERS = 30 };
/// Rows of a layer's stacked Q, K and V (the engine's fused QKV linear).
enum { QKV = HIDDEN + 2 * KV_HEADS * HEAD_DIM };

/// One decode step's distinct weights: per layer q, k, v, o, gate, up, down; then the LM head.
typedef struct {
    tllm_wtype type, headType;
    void *qkv[LAYERS], *o[LAYERS], *gate[LAYERS], *up[LAYERS], *down[LAYERS], *head;
    int64_t T;
    /// float32 inputs, or int8 (W4A8, the opt-in `--activation int8`).
    tllm_input_type input;
    float *x, *xm, *y, *ym, *logits;
} model_ctx;

/// As a gguf_native engine stores them: Q4_0, Q4_1 and Q8_0 matrices interleaved in 8-row blocks
/// (the LM head too), grouped for float32 inputs.
static void *as_built(void *w, tllm_wtype *type, int64_t N, int64_t K, tllm_input_type input) {
    if (!(*type == TLLM_Q4_0 || *type == TLLM_Q4_1 || *type == TLLM_Q8_0) || N % 8 != 0) return w;
    void *x8 = alloc(tllm_row_bytes(*type, K) * (size_t)N);
    // gguf_native engines: the grouped layout for float32 inputs, the plain 8-row one for int8.
    if (input == TLLM_INPUT_Q8) {
        tllm_repack_x8(*type, w, N, K, x8);
        *type = *type == TLLM_Q4_0 ? TLLM_Q4_0_X8 : *type == TLLM_Q4_1 ? TLLM_Q4_1_X8 : TLLM_Q8_0_X8;
    } else {
        tllm_repack_x8g(*type, w, N, K, x8);
        *type = *type == TLLM_Q4_0 ? TLLM_Q4_0_X8G : *type == TLLM_Q4_1 ? TLLM_Q4_1_X8G : TLLM_Q8_0_X8G;
    }
    free(w);
    return x8;
}

static void model_init(model_ctx *c, tllm_wtype type, tllm_wtype headType, int64_t T, tllm_input_type input) {
    c->type = type; c->headType = headType; c->T = T; c->input = input;
    for (int l = 0; l < LAYERS; l++) {
        c->qkv[l] = random_weights(type, QKV, HIDDEN);
        c->o[l] = random_weights(type, HIDDEN, HIDDEN);
        c->gate[l] = random_weights(type, MLP, HIDDEN);
        c->up[l] = random_weights(type, MLP, HIDDEN);
        c->down[l] = random_weights(type, HIDDEN, MLP);
        tllm_wtype t = type;
        c->qkv[l] = as_built(c->qkv[l], &t, QKV, HIDDEN, input); t = type;
        c->o[l] = as_built(c->o[l], &t, HIDDEN, HIDDEN, input); t = type;
        c->gate[l] = as_built(c->gate[l], &t, MLP, HIDDEN, input); t = type;
        c->up[l] = as_built(c->up[l], &t, MLP, HIDDEN, input); t = type;
        c->down[l] = as_built(c->down[l], &t, HIDDEN, MLP, input);
        c->type = t;
    }
    c->head = as_built(random_weights(headType, VOCAB, HIDDEN), &c->headType, VOCAB, HIDDEN, input);
    c->x = random_floats(T * HIDDEN); c->y = random_floats(T * QKV);
    c->xm = random_floats(T * MLP); c->ym = random_floats(T * MLP);
    c->logits = alloc((size_t)VOCAB * 4);
}

static void model_free(model_ctx *c) {
    for (int l = 0; l < LAYERS; l++) {
        free(c->qkv[l]); free(c->o[l]); free(c->gate[l]); free(c->up[l]); free(c->down[l]);
    }
    free(c->head); free(c->x); free(c->y); free(c->xm); free(c->ym); free(c->logits);
}

static size_t model_bytes(const model_ctx *c) {
    size_t per = tllm_row_bytes(c->type, HIDDEN) * (2 * HIDDEN + 2 * KV_HEADS * HEAD_DIM + 2 * MLP)
               + tllm_row_bytes(c->type, MLP) * HIDDEN;
    return per * LAYERS + tllm_row_bytes(c->headType, HIDDEN) * VOCAB;
}

static double model_flops(const model_ctx *c, int withHead) {
    double per = 2.0 * HIDDEN * (2 * HIDDEN + 2 * KV_HEADS * HEAD_DIM + 3 * MLP);
    return (double)c->T * (per * LAYERS + (withHead ? 2.0 * HIDDEN * VOCAB : 0));
}

/// Every linear of a decode step in model order, as the default engine runs them (Q, K and V
/// stacked into one, the gated MLP as one kernel, residuals in the epilogues), then the head.
static void model_run(void *p) {
    model_ctx *c = p;
    int64_t T = c->T;
    tllm_input_type in = c->input;
    for (int l = 0; l < LAYERS; l++) {
        tllm_linear_fused(c->qkv[l], c->type, QKV, HIDDEN, c->x, HIDDEN, T, in, NULL, TLLM_ACT_NONE, NULL, 0, c->y, QKV);
        tllm_linear_fused(c->o[l], c->type, HIDDEN, HIDDEN, c->x, HIDDEN, T, in, NULL, TLLM_ACT_NONE, c->x, HIDDEN, c->y, HIDDEN);
        tllm_gated_linear(c->gate[l], c->type, c->up[l], c->type, MLP, HIDDEN, c->x, HIDDEN, T, in, NULL, NULL, c->xm, MLP);
        tllm_linear_fused(c->down[l], c->type, HIDDEN, MLP, c->xm, MLP, T, in, NULL, TLLM_ACT_NONE, c->x, HIDDEN, c->y, HIDDEN);
    }
    if (T == 1) tllm_linear_fused(c->head, c->headType, VOCAB, HIDDEN, c->x, HIDDEN, 1, in, NULL, TLLM_ACT_NONE, NULL, 0, c->logits, VOCAB);
}

typedef struct { void *W; tllm_wtype type; int64_t N, K, T; float *x, *y; tllm_input_type input; } linear_ctx;
static void linear_run(void *p) {
    linear_ctx *c = p;
    tllm_linear_fused(c->W, c->type, c->N, c->K, c->x, c->K, c->T, c->input, NULL, TLLM_ACT_NONE, NULL, 0, c->y, c->N);
}

typedef struct { float *x, *w, *y; int64_t T; } norm_ctx;
static void norm_run(void *p) {
    norm_ctx *c = p;
    for (int i = 0; i < 1000; i++) tllm_rmsnorm_rows(c->x, HIDDEN, c->w, 1e-5f, c->T, HIDDEN, c->y, HIDDEN);
}

typedef struct {
    float *q, *k, *v, *out;
    int32_t *tables, *seq, *pos;
    int64_t ctx, blocks;
} attn_ctx;
static void attn_run(void *p) {
    attn_ctx *c = p;
    for (int i = 0; i < 100; i++)
        tllm_paged_attention(c->q, HEADS * HEAD_DIM, 1, HEADS, KV_HEADS, HEAD_DIM, 0.125f, c->k, c->v, 32,
                             c->tables, c->blocks, c->seq, c->pos, c->out, HEADS * HEAD_DIM);
}

static const char *type_name(tllm_wtype t) {
    switch (t) {
    case TLLM_F32: return "f32"; case TLLM_Q4_0: return "q4_0"; case TLLM_Q4_1: return "q4_1";
    case TLLM_Q8_0: return "q8_0"; default: return "other";
    }
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int ceilingsOnly = argc > 1 && strcmp(argv[1], "--ceilings") == 0;
    int reps = quick ? 3 : 9;
    int threads = tllm_num_threads();
    printf("# bench-kernels: %d thread(s), %s\n", threads, tllm_isa_name());

    // Ceilings.
    stream_ctx sc = {.n = 64 << 20};  // 256 MB, eight times the L3
    float *buf = random_floats(sc.n);
    sc.buf = buf;
    double bw = (double)sc.n * 4 / time_median(stream_run, &sc, reps) / 1e9;
    free(buf);
    printf("{\"kernel\": \"dram_read\", \"threads\": %d, \"GB_per_s\": %.2f}\n", threads, bw);
    peak_ctx pc = {.iters = 2000000};
    double peak = (double)threads * pc.iters * 12 * 16 / time_median(peak_run, &pc, reps) / 1e9;
    printf("{\"kernel\": \"fma_peak\", \"threads\": %d, \"GFLOP_per_s\": %.1f}\n", threads, peak);
    if (ceilingsOnly) return 0;

    // Decode: a whole step of distinct weights per run, so they stream from DRAM.
    // The int8-input rows are the opt-in W4A8 path (--activation int8), not float32.
    tllm_wtype types[] = {TLLM_Q4_1, TLLM_Q8_0, TLLM_Q4_0, TLLM_Q4_1, TLLM_Q8_0};
    tllm_input_type inputs[] = {TLLM_INPUT_F32, TLLM_INPUT_F32, TLLM_INPUT_F32, TLLM_INPUT_Q8, TLLM_INPUT_Q8};
    for (int i = 0; i < 5; i++) {
        if (quick && i == 1) i = 3;
        model_ctx m;
        model_init(&m, types[i], TLLM_Q8_0, 1, inputs[i]);
        double s = time_median(model_run, &m, reps);
        double gbs = (double)model_bytes(&m) / s / 1e9;
        printf("{\"kernel\": \"decode_step_linears\", \"weights\": \"%s\", \"head\": \"q8_0\", \"input\": \"%s\", \"tokens\": 1, "
               "\"MB\": %.1f, \"ms\": %.3f, \"steps_per_s\": %.1f, \"GB_per_s\": %.2f, \"of_dram_read\": %.2f}\n",
               type_name(types[i]), inputs[i] ? "int8" : "f32", model_bytes(&m) / 1e6, s * 1e3, 1 / s, gbs, gbs / bw);
        model_free(&m);
    }
    // Batched decode (16 sequences) and prefill (512 tokens): GEMMs over the layers' weights.
    int64_t batches[] = {16, 512};
    for (int i = 0; i < 4; i++) {
        model_ctx m;
        tllm_input_type in = i < 2 ? TLLM_INPUT_F32 : TLLM_INPUT_Q8;
        model_init(&m, TLLM_Q4_1, TLLM_Q8_0, batches[i % 2], in);
        double s = time_median(model_run, &m, quick ? 3 : 5);
        double gf = model_flops(&m, 0) / s / 1e9;
        printf("{\"kernel\": \"layer_linears\", \"weights\": \"q4_1\", \"input\": \"%s\", \"tokens\": %lld, \"ms\": %.3f, "
               "\"tokens_per_s\": %.1f, \"GFLOP_per_s\": %.1f, \"of_fma_peak\": %.2f}\n", in ? "int8" : "f32",
               (long long)batches[i % 2], s * 1e3, batches[i % 2] / s, gf, gf / peak);
        model_free(&m);
    }
    // Single matrices, hot in cache: the kernel's arithmetic rate without DRAM in the way.
    tllm_wtype hot[] = {TLLM_Q4_1, TLLM_Q8_0, TLLM_F32, TLLM_Q4_1, TLLM_Q8_0};
    for (int i = 0; i < 5; i++)
        for (int64_t T = 1; T <= 16; T *= 16) {
            tllm_input_type in = i < 3 ? TLLM_INPUT_F32 : TLLM_INPUT_Q8;
            tllm_wtype t = hot[i];
            void *W = as_built(random_weights(hot[i], MLP, HIDDEN), &t, MLP, HIDDEN, in);
            linear_ctx lc = {W, t, MLP, HIDDEN, T, random_floats(T * HIDDEN), alloc((size_t)(T * MLP) * 4), in};
            double s = time_median(linear_run, &lc, 31);
            double gf = 2.0 * MLP * HIDDEN * T / s / 1e9;
            printf("{\"kernel\": \"linear_hot\", \"weights\": \"%s\", \"input\": \"%s\", \"N\": %d, \"K\": %d, \"tokens\": %lld, "
                   "\"us\": %.2f, \"GFLOP_per_s\": %.1f, \"of_fma_peak\": %.2f, \"weight_GB_per_s\": %.2f}\n", type_name(hot[i]),
                   in ? "int8" : "f32", MLP, HIDDEN, (long long)T, s * 1e6, gf, gf / peak,
                   tllm_row_bytes(hot[i], HIDDEN) * (double)MLP / s / 1e9);
            free(lc.W); free(lc.x); free(lc.y);
        }
    // RMSNorm over one and 512 rows.
    for (int64_t T = 1; T <= 512; T *= 512) {
        norm_ctx nc = {random_floats(T * HIDDEN), random_floats(HIDDEN), alloc((size_t)(T * HIDDEN) * 4), T};
        double s = time_median(norm_run, &nc, reps) / 1000;
        printf("{\"kernel\": \"rmsnorm\", \"tokens\": %lld, \"dim\": %d, \"us\": %.3f, \"GB_per_s\": %.2f}\n",
               (long long)T, HIDDEN, s * 1e6, 8.0 * T * HIDDEN / s / 1e9);
        free(nc.x); free(nc.w); free(nc.y);
    }
    // Decode attention of one token over 512 cached positions (paged, 32-token blocks).
    {
        int64_t ctx = 512, blocks = ctx / 32, kvDim = KV_HEADS * HEAD_DIM;
        attn_ctx ac = {random_floats(HEADS * HEAD_DIM), random_floats(ctx * kvDim), random_floats(ctx * kvDim),
                       alloc(HEADS * HEAD_DIM * 4), alloc((size_t)blocks * 4), alloc(4), alloc(4), ctx, blocks};
        for (int64_t b = 0; b < blocks; b++) ac.tables[b] = (int32_t)b;
        ac.seq[0] = 0; ac.pos[0] = (int32_t)(ctx - 1);
        double s = time_median(attn_run, &ac, reps) / 100;
        printf("{\"kernel\": \"paged_attention_decode\", \"context\": %lld, \"us\": %.2f, \"KV_GB_per_s\": %.2f}\n",
               (long long)ctx, s * 1e6, 2.0 * ctx * kvDim * 4 / s / 1e9);
    }
    return 0;
}

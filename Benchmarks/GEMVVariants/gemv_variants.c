// gemv-variants: the Q4_1 decode GEMV written several ways, timed on one 1536 x 576 matrix hot in
// cache on one thread (the shape of SmolLM2-135M's MLP), to show where the in-register GEMV's
// time goes. "exact" variants must produce the bits of the shipped kernel's arithmetic (every
// weight rebuilt as fma(d, q, m), one 8-lane FMA chain per row, hsum8) and are checked; "timing
// only" variants leave work out on purpose and compute something else.
//
//   clang -O3 -mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512dq -ISources/TLLMKernels \
//       -ISources/TLLMKernels/include Benchmarks/GEMVVariants/gemv_variants.c -o /tmp/gemv-variants
//   /tmp/gemv-variants
//
// These variants keep the GGUF row layout. Since 2026-11-21 gguf_native engines interleave their Q4
// matrices and run linear_x8.c instead (Docs/Performance.md, "Float32 decode, third pass"); the
// row kernel measured here still serves engines stored without interleaving.
//
// "shipped" is quant_gemv.c's loop over tllm_blocks.h's rebuild, without its DRAM prefetch (the
// matrix is hot).
// Needs an AVX-512VL CPU. Not part of the package build.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
// The shipped rebuild (tllm_q4_1_block, tllm_widen8) and horizontal sum (hsum8), not copies.
#include "tllm_blocks.h"

// table variant: t_lo = fma(d, 0..7, m), t_hi = fma(d, 8..15, m); w = permutex2var(t_lo, idx, t_hi)
static inline void q41_block_perm(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256 i0 = _mm256_setr_ps(0,1,2,3,4,5,6,7), i1 = _mm256_setr_ps(8,9,10,11,12,13,14,15);
    __m256 tlo = _mm256_fmadd_ps(d, i0, m), thi = _mm256_fmadd_ps(d, i1, m);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    w[0] = _mm256_permutex2var_ps(tlo, b0, thi);
    w[1] = _mm256_permutex2var_ps(tlo, b1, thi);
    w[2] = _mm256_permutex2var_ps(tlo, _mm256_srli_epi32(b0, 4), thi);
    w[3] = _mm256_permutex2var_ps(tlo, _mm256_srli_epi32(b1, 4), thi);
}
// 16-lane variant: one zmm widen of 16 bytes
static inline void q41_block_perm16(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256 i0 = _mm256_setr_ps(0,1,2,3,4,5,6,7), i1 = _mm256_setr_ps(8,9,10,11,12,13,14,15);
    __m256 tlo = _mm256_fmadd_ps(d, i0, m), thi = _mm256_fmadd_ps(d, i1, m);
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 4)));
    __m512i h = _mm512_srli_epi32(b, 4);
    w[0] = _mm256_permutex2var_ps(tlo, _mm512_castsi512_si256(b), thi);
    w[1] = _mm256_permutex2var_ps(tlo, _mm512_extracti64x4_epi64(b, 1), thi);
    w[2] = _mm256_permutex2var_ps(tlo, _mm512_castsi512_si256(h), thi);
    w[3] = _mm256_permutex2var_ps(tlo, _mm512_extracti64x4_epi64(h, 1), thi);
}

static inline void v_norebuild(const uint8_t *p, __m256 w[4]) {
    const __m256i low4 = _mm256_set1_epi32(0x0f);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    w[0] = _mm256_cvtepi32_ps(_mm256_and_si256(b0, low4));
    w[1] = _mm256_cvtepi32_ps(_mm256_and_si256(b1, low4));
    w[2] = _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4));
    w[3] = _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4));
}
static inline void v_vpermps(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256 i0 = _mm256_setr_ps(0,1,2,3,4,5,6,7);
    __m256 tlo = _mm256_fmadd_ps(d, i0, m);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    w[0] = _mm256_permutevar8x32_ps(tlo, b0);
    w[1] = _mm256_permutevar8x32_ps(tlo, b1);
    w[2] = _mm256_permutevar8x32_ps(tlo, _mm256_srli_epi32(b0, 4));
    w[3] = _mm256_permutevar8x32_ps(tlo, _mm256_srli_epi32(b1, 4));
}
static inline void v_loadonly(const uint8_t *p, __m256 w[4]) {
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    w[0] = _mm256_castsi256_ps(b0); w[1] = _mm256_castsi256_ps(b1);
    w[2] = _mm256_castsi256_ps(_mm256_srli_epi32(b0, 4)); w[3] = _mm256_castsi256_ps(_mm256_srli_epi32(b1, 4));
}

// repacked: bytes 4..19 = 4 dwords, dword j nibble i = weight 8j+i
static inline void r_cvt(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256i sh = _mm256_setr_epi32(0,4,8,12,16,20,24,28), low4 = _mm256_set1_epi32(15);
    for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32(*(const int *)(p + 4 + 4 * j)), sh);
        w[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(v, low4)), m);
    }
}
static inline void r_perm(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256 i0 = _mm256_setr_ps(0,1,2,3,4,5,6,7), i1 = _mm256_setr_ps(8,9,10,11,12,13,14,15);
    __m256 tlo = _mm256_fmadd_ps(d, i0, m), thi = _mm256_fmadd_ps(d, i1, m);
    const __m256i sh = _mm256_setr_epi32(0,4,8,12,16,20,24,28);
    for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32(*(const int *)(p + 4 + 4 * j)), sh);
        w[j] = _mm256_permutex2var_ps(tlo, v, thi);
    }
}
static inline void r_perm512(const uint8_t *p, __m256 w[4]) {
    __m512 d = _mm512_set1_ps(_cvtsh_ss(*(const uint16_t *)p)), m = _mm512_set1_ps(_cvtsh_ss(*(const uint16_t *)(p + 2)));
    const __m512 i0 = _mm512_setr_ps(0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15);
    __m512 t = _mm512_fmadd_ps(d, i0, m);
    const __m256i sh = _mm256_setr_epi32(0,4,8,12,16,20,24,28);
    for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_srlv_epi32(_mm256_set1_epi32(*(const int *)(p + 4 + 4 * j)), sh);
        w[j] = _mm512_castps512_ps256(_mm512_permutexvar_ps(_mm512_castsi256_si512(v), t));
    }
}

static inline void m_sub(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    const __m256i msk = _mm256_set1_epi32(0x780000), mag = _mm256_set1_epi32(0x41800000);
    const __m256 sixteen = _mm256_set1_ps(16.f);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    __m256i s[4] = {_mm256_slli_epi32(b0, 19), _mm256_slli_epi32(b1, 19), _mm256_slli_epi32(b0, 15), _mm256_slli_epi32(b1, 15)};
    for (int j = 0; j < 4; j++) {
        __m256 M = _mm256_castsi256_ps(_mm256_ternarylogic_epi32(s[j], msk, mag, 0xEA)); // (A&B)|C
        w[j] = _mm256_fmadd_ps(d, _mm256_sub_ps(M, sixteen), m);
    }
}
static inline void m_cfold(const uint8_t *p, __m256 w[4]) {
    __m256 dm = _mm256_cvtph_ps(_mm_castps_si128(_mm_broadcast_ss((const float *)p)));
    __m256 d = _mm256_shuffle_ps(dm, dm, 0x00), m = _mm256_shuffle_ps(dm, dm, 0x55);
    __m256 c = _mm256_fmadd_ps(d, _mm256_set1_ps(-16.f), m);
    const __m256i msk = _mm256_set1_epi32(0x780000), mag = _mm256_set1_epi32(0x41800000);
    __m256i b0 = tllm_widen8(p + 4), b1 = tllm_widen8(p + 12);
    __m256i s[4] = {_mm256_slli_epi32(b0, 19), _mm256_slli_epi32(b1, 19), _mm256_slli_epi32(b0, 15), _mm256_slli_epi32(b1, 15)};
    for (int j = 0; j < 4; j++) {
        __m256 M = _mm256_castsi256_ps(_mm256_ternarylogic_epi32(s[j], msk, mag, 0xEA));
        w[j] = _mm256_fmadd_ps(d, M, c);
    }
}
#define GEMV(BLOCK) \
static void gemv_##BLOCK(const uint8_t *W, int64_t N, int64_t K, const float *x, float *out) { \
    int64_t nb = K / 32; size_t rb = nb * 20; \
    for (int64_t r0 = 0; r0 < N; r0 += 8) { \
        __m256 acc[8]; for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps(); \
        for (int64_t b = 0; b < nb; b++) { \
            const float *xb = x + b * 32; \
            __m256 xv[4] = {_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8), _mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24)}; \
            for (int r = 0; r < 8; r++) { __m256 wv[4]; BLOCK(W + (r0 + r) * rb + b * 20, wv); \
                for (int k = 0; k < 4; k++) acc[r] = _mm256_fmadd_ps(wv[k], xv[k], acc[r]); } \
        } \
        for (int r = 0; r < 8; r++) out[r0 + r] = hsum8(acc[r]); \
    } }
GEMV(tllm_q4_1_block)
GEMV(q41_block_perm)
GEMV(q41_block_perm16)
GEMV(v_norebuild)
GEMV(v_vpermps)
GEMV(v_loadonly)
GEMV(r_cvt)
GEMV(r_perm)
GEMV(r_perm512)
GEMV(m_sub)
GEMV(m_cfold)

static void gemv_z2(const uint8_t *W, int64_t N, int64_t K, const float *x, float *out) {
    int64_t nb = K / 32; size_t rb = nb * 20;
    const __m512i low4 = _mm512_set1_epi32(0x0f);
    for (int64_t r0 = 0; r0 < N; r0 += 8) {
        __m512 acc[4]; for (int r = 0; r < 4; r++) acc[r] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + b * 32;
            __m512 xv[4]; for (int k = 0; k < 4; k++) xv[k] = _mm512_broadcast_f32x8(_mm256_loadu_ps(xb + 8 * k));
            for (int r = 0; r < 4; r++) {
                const uint8_t *p = W + (r0 + 2 * r) * rb + b * 20, *q = p + rb;
                // d m (row a), d m (row b) -> 16 lanes: d_a x8 | d_b x8
                __m128i hh = _mm_unpacklo_epi32(_mm_cvtsi32_si128(*(const int *)p), _mm_cvtsi32_si128(*(const int *)q));
                __m256 dm = _mm256_cvtph_ps(hh); // d_a m_a d_b m_b ...
                __m512 dmz = _mm512_castps256_ps512(dm);
                __m512 d = _mm512_permutexvar_ps(_mm512_setr_epi32(0,0,0,0,0,0,0,0,2,2,2,2,2,2,2,2), dmz);
                __m512 m = _mm512_permutexvar_ps(_mm512_setr_epi32(1,1,1,1,1,1,1,1,3,3,3,3,3,3,3,3), dmz);
                __m128i lo0 = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)(p + 4))), (const double *)(q + 4)));
                __m128i lo1 = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)(p + 12))), (const double *)(q + 12)));
                __m512i b0 = _mm512_cvtepu8_epi32(lo0), b1 = _mm512_cvtepu8_epi32(lo1);
                __m512 w0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(b0, low4)), m);
                __m512 w1 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(b1, low4)), m);
                __m512 w2 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_srli_epi32(b0, 4)), m);
                __m512 w3 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_srli_epi32(b1, 4)), m);
                acc[r] = _mm512_fmadd_ps(w0, xv[0], acc[r]);
                acc[r] = _mm512_fmadd_ps(w1, xv[1], acc[r]);
                acc[r] = _mm512_fmadd_ps(w2, xv[2], acc[r]);
                acc[r] = _mm512_fmadd_ps(w3, xv[3], acc[r]);
            }
        }
        for (int r = 0; r < 4; r++) { out[r0 + 2 * r] = hsum8(_mm512_castps512_ps256(acc[r])); out[r0 + 2 * r + 1] = hsum8(_mm512_extractf32x8_ps(acc[r], 1)); }
    } }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
typedef void (*fn)(const uint8_t *, int64_t, int64_t, const float *, float *);
typedef struct { const char *name; fn f; int repacked, exact; const char *what; } variant;
static const variant variants[] = {
    {"shipped", gemv_tllm_q4_1_block, 0, 1, "the kernel in quant_gemv.c: widen, mask/shift, convert, fma(d,q,m), fma"},
    {"table2", gemv_q41_block_perm, 0, 1, "16-entry table fma(d,0..15,m), weights by vpermt2ps"},
    {"table2-zmm-widen", gemv_q41_block_perm16, 0, 1, "the same, 16 bytes widened by one zmm vpmovzxbd"},
    {"repacked-convert", gemv_r_cvt, 1, 1, "nibbles repacked 8 per dword: broadcast, vpsrlvd, convert, rebuild"},
    {"repacked-table2", gemv_r_perm, 1, 1, "repacked nibbles, table by vpermt2ps"},
    {"repacked-table-zmm", gemv_r_perm512, 1, 1, "repacked nibbles, 16-entry zmm vpermps"},
    {"magic-number", gemv_m_sub, 0, 1, "q as float via ((q << 19) OR the bits of 16.0f) - 16 instead of a convert"},
    {"two-rows-per-zmm", gemv_z2, 0, 1, "rows r and r+1 in the halves of one zmm (same 8-lane chains)"},
    {"magic-folded", gemv_m_cfold, 0, 0, "fma(d, 16+q, m-16d): one FMA fewer per block, different rounding"},
    {"no-rebuild", gemv_v_norebuild, 0, 0, "timing only: q converted but never scaled"},
    {"table1", gemv_v_vpermps, 0, 0, "timing only: 8-entry vpermps table (wrong for q > 7)"},
    {"unpack+fma only", gemv_v_loadonly, 0, 0, "timing only: widen, shift, accumulate raw bits"},
};
#define NV (int)(sizeof variants / sizeof variants[0])

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(void) {
    int64_t N = 1536, K = 576; size_t rb = K / 32 * 20;
    uint8_t *W = malloc(N * rb), *W2 = malloc(N * rb);
    srand(1);
    for (int64_t r = 0; r < N; r++) for (int64_t b = 0; b < K / 32; b++) {
        uint8_t *p = W + r * rb + b * 20;
        _Float16 d = (_Float16)((rand() % 1000) / 30000.0 + 0.001), m = (_Float16)(-(rand() % 1000) / 3000.0);
        memcpy(p, &d, 2); memcpy(p + 2, &m, 2); for (int i = 0; i < 16; i++) p[4 + i] = rand();
    }
    // The repacked layout: the same block, nibbles reordered so dword j holds weights 8j..8j+7.
    for (int64_t r = 0; r < N; r++) for (int64_t b = 0; b < K / 32; b++) {
        uint8_t *p = W + r * rb + b * 20, *q = W2 + r * rb + b * 20; memcpy(q, p, 4); memset(q + 4, 0, 16);
        for (int e = 0; e < 32; e++) { int nib = e < 16 ? (p[4 + e] & 15) : (p[4 + e - 16] >> 4); q[4 + e / 2] |= nib << (4 * (e & 1)); }
    }
    float *x = malloc(K * 4), *ref = malloc(N * 4), *out = malloc(N * 4);
    for (int i = 0; i < K; i++) x[i] = (rand() % 2000 - 1000) / 100.0f;
    gemv_tllm_q4_1_block(W, N, K, x, ref);
    enum { ROUNDS = 5 };
    double best[NV][ROUNDS];
    for (int round = 0; round < ROUNDS; round++)      // variants alternate within each round
        for (int v = 0; v < NV; v++) {
            const uint8_t *w = variants[v].repacked ? W2 : W;
            double b = 1e9;
            for (int rep = 0; rep < 100; rep++) {
                double t = now();
                for (int i = 0; i < 10; i++) variants[v].f(w, N, K, x, out);
                t = (now() - t) / 10;
                if (t < b) b = t;
            }
            best[v][round] = b;
        }
    double base = 0;
    printf("| variant | bits as shipped | us | weights/ns | vs shipped | what |\n| --- | --- | ---: | ---: | ---: | --- |\n");
    for (int v = 0; v < NV; v++) {
        variants[v].f(variants[v].repacked ? W2 : W, N, K, x, out);
        const char *bits = !variants[v].exact ? "n/a" : memcmp(out, ref, N * 4) ? "MISMATCH" : "yes";
        qsort(best[v], ROUNDS, sizeof(double), cmp);
        double t = best[v][ROUNDS / 2];
        if (v == 0) base = t;
        printf("| %s | %s | %.1f | %.1f | %.2fx | %s |\n", variants[v].name, bits, t * 1e6, N * K / t / 1e9, base / t, variants[v].what);
    }
    return 0;
}

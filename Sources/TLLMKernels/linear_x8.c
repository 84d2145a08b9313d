// Linear layers with float32 activations over 8-row interleaved Q4 weights (Q4_0_X8, Q4_1_X8):
// the default engine's kernel for GGUF Q4 matrices, in decode and prefill alike.
//
// Rebuilding every weight as fma(d, q, m) before multiplying costs more than the multiply (see
// Docs/Performance.md). This kernel factors the block scale out instead. A nibble u placed in the
// top mantissa bits of 1.0f is the float f = 1 + u/16, exactly, in two bit operations (a shift
// and an and-or); so for a Q4_1 block (w = d·u + m)
//
//     Σ w·x = 16d · Σ f·x + (m − 16d) · Σ x,      and for Q4_0 (w = d·(u − 8)): 16d · Σ f·x − 24d · Σ x.
//
// The canonical order for one output y[t, r] (every path — scalar, AVX2, AVX-512VL, one token or
// many — performs exactly these float operations, so the result never depends on the batch or
// the CPU):
//
//     y = 0
//     for each block b of 32 columns, in k order:
//         F = 0
//         for g = 0 … 3, then n = 0 … 7 (the nibbles of row r's code dword g, low bits first):
//             F = fma(f(u), x[32b + e(g, n)], F)     with e(g, n) = 4g + n/2 + 16·(n mod 2)
//         y = fma(16·d, F, y)
//         y = fma(c, S[b], y)           c = fma(−16, d, m) for Q4_1, −24·d for Q4_0 (both exact in d)
//
// where S[b] is the block's input sum in the order of tllm_x8f_block_sums. e(g, n) is where the
// layout (tllm_kernels.h) puts that nibble: byte j of a code dword holds columns 4g + j (low
// nibble) and 4g + j + 16 (high nibble). The rounding differs from the rebuilt weights' (the
// subtraction of 16d·Σx cancels part of 16d·Σf·x) but stays at float32's level: the reference
// logit tests bound it.
#include "dispatch.h"
#include "tllm_x8.h"
#include <math.h>
#include <string.h>

int tllm_x8f_supports(tllm_wtype type) { return type == TLLM_Q4_0_X8 || type == TLLM_Q4_1_X8; }

/// Bytes of one 8-row × 32-column block: the 8 fp16 d (Q4_1: then the 8 fp16 m), then 128 bytes of codes.
static int64_t header_bytes(int q41) { return q41 ? 32 : 16; }

static float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return tllm_f16_to_f32(h);
}

// ---- Block sums -------------------------------------------------------------------------------
// S[t · (K/32) + b] = ((x0..7 + x8..15) + (x16..23 + x24..31)) lane-wise, then hsum8's tree.

static float block_sum_scalar(const float *x) {
    float v[8];
    for (int j = 0; j < 8; j++) v[j] = (x[j] + x[8 + j]) + (x[16 + j] + x[24 + j]);
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

#if defined(__x86_64__)
TLLM_AVX2 static float block_sum_avx2(const float *x) {
    __m256 a = _mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8));
    __m256 b = _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24));
    return hsum8(_mm256_add_ps(a, b));
}
#endif

void tllm_x8f_block_sums(const float *X, int64_t ldx, int64_t T, int64_t K, float *S) {
    float (*sum)(const float *) = block_sum_scalar;
#if defined(__x86_64__)
    if (tllm_use_avx2()) sum = block_sum_avx2;
#endif
    const int64_t nb = K / 32;
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < nb; b++) S[t * nb + b] = sum(X + t * ldx + 32 * b);
}

// ---- Scalar: the definition, one output at a time ----------------------------------------------

static float nibble_f(uint32_t dword, int n) {
    uint32_t bits = 0x3F800000u | ((dword >> (4 * n)) & 0x0fu) << 19;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void dots_scalar(const uint8_t *run, size_t runBytes, int q41, int64_t K, int nblk, const float *X, int64_t ldx,
                        const float *S, int64_t T, float *D) {
    const int64_t nb = K / 32, header = header_bytes(q41), bytes = header + 128;
    for (int i = 0; i < nblk; i++)
        for (int64_t t = 0; t < T; t++)
            for (int r = 0; r < 8; r++) {
                const float *x = X + t * ldx;
                float y = 0;
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *blk = run + (size_t)i * runBytes + b * bytes;
                    float F = 0;
                    for (int g = 0; g < 4; g++) {
                        uint32_t dword;
                        memcpy(&dword, blk + header + 32 * g + 4 * r, 4);
                        for (int n = 0; n < 8; n++) F = fmaf(nibble_f(dword, n), x[32 * b + 4 * g + n / 2 + 16 * (n % 2)], F);
                    }
                    float d = f16(blk + 2 * r), c = q41 ? fmaf(-16.0f, d, f16(blk + 16 + 2 * r)) : -24.0f * d;
                    y = fmaf(16.0f * d, F, y);
                    y = fmaf(c, S[t * nb + b], y);
                }
                D[(size_t)i * 8 * T + t * 8 + r] = y;
            }
}

// ---- AVX2 and AVX-512VL: decode tiles and prefill panels ---------------------------------------
// One ymm holds a row block's 8 rows; its 8 code dwords of a group give 8 columns' f vectors
// (nibble n: shift it to bits 19–22, keep those, or in 1.0f), each meeting the broadcast input
// of its column. The kernels are compiled twice (linear_x8_tile.h): AVX2 with and + or, and
// AVX-512VL with one vpternlogd and 32 registers for wider tiles. Same bits either way.

#if defined(__x86_64__)
TLLM_AVX2 static inline __m256 nibble_f_avx2(__m256i v, int n) {
    const int shift = 19 - 4 * n;
    __m256i s = shift >= 0 ? _mm256_slli_epi32(v, shift) : _mm256_srli_epi32(v, -shift);
    s = _mm256_and_si256(s, _mm256_set1_epi32(0x00780000));
    return _mm256_castsi256_ps(_mm256_or_si256(s, _mm256_set1_epi32(0x3F800000)));
}

TLLM_AVX512 static inline __m256 nibble_f_avx512(__m256i v, int n) {
    const int shift = 19 - 4 * n;
    __m256i s = shift >= 0 ? _mm256_slli_epi32(v, shift) : _mm256_srli_epi32(v, -shift);
    // (s & mask) | one
    return _mm256_castsi256_ps(_mm256_ternarylogic_epi32(s, _mm256_set1_epi32(0x00780000), _mm256_set1_epi32(0x3F800000), 0xEA));
}

/// Floats of one row block's column block in a prepared panel: 32 f vectors, 16·d, c.
#define PANEL_FLOATS (34 * 8)
/// Row blocks one panel holds.
#define PANEL_RB 4

#define X8F_ATTR TLLM_AVX2
#define X8F_NIBBLE nibble_f_avx2
#define X8F_SCALES scales_avx2
#define X8F_TILE tile_avx2
#define X8F_PREPARE prepare_avx2
#define X8F_PANEL panel_avx2
#include "linear_x8_tile.h"

#define X8F_ATTR TLLM_AVX512
#define X8F_NIBBLE nibble_f_avx512
#define X8F_SCALES scales_avx512
#define X8F_TILE tile_avx512
#define X8F_PREPARE prepare_avx512
#define X8F_PANEL panel_avx512
#include "linear_x8_tile.h"

#define X8F_ATTR_avx2 TLLM_AVX2
#define X8F_ATTR_avx512 TLLM_AVX512

/// Decode tiles, one function per row-block count so each gets its own register allocation.
#define TILE_FN(ISA, RB)                                                                                      \
    X8F_ATTR_##ISA static void ISA##_tile_##RB(const uint8_t *run, size_t runBytes, int q41, int64_t K,        \
                                               const float *x, const float *S, const uint8_t *next, int64_t ldd, \
                                               float *D) {                                                      \
        tile_##ISA(run, runBytes, q41, K, x, S, RB, next, ldd, D);                                             \
    }
TILE_FN(avx2, 4)
TILE_FN(avx2, 2)
TILE_FN(avx2, 1)
TILE_FN(avx512, 8)
TILE_FN(avx512, 4)
TILE_FN(avx512, 2)
TILE_FN(avx512, 1)

/// Panel tiles, likewise per shape: 4 row blocks × up to 3 tokens or 1 × up to 6 (AVX-512VL,
/// whose 32 registers hold 12 or 6 accumulators plus the inputs), 1 × up to 3 (AVX2).
#define PANEL_FN(ISA, RB, NT)                                                                                  \
    X8F_ATTR_##ISA static void ISA##_panel_##RB##x##NT(const float *panel, int64_t K, const float *X, int64_t ldx, \
                                                       const float *S, int64_t ldd, float *D) {                 \
        panel_##ISA(panel, K, X, ldx, S, RB, NT, ldd, D);                                                      \
    }
PANEL_FN(avx2, 1, 1)
PANEL_FN(avx2, 1, 2)
PANEL_FN(avx2, 1, 3)
PANEL_FN(avx512, 4, 1)
PANEL_FN(avx512, 4, 2)
PANEL_FN(avx512, 4, 3)
PANEL_FN(avx512, 1, 1)
PANEL_FN(avx512, 1, 2)
PANEL_FN(avx512, 1, 3)
PANEL_FN(avx512, 1, 4)
PANEL_FN(avx512, 1, 5)
PANEL_FN(avx512, 1, 6)

typedef void (*tile_fn)(const uint8_t *, size_t, int, int64_t, const float *, const float *, const uint8_t *, int64_t,
                        float *);
typedef void (*panel_fn)(const float *, int64_t, const float *, int64_t, const float *, int64_t, float *);

/// Covers nblk row blocks × T tokens (`wide`: the AVX-512VL kernels).
static void dots_tiled(const uint8_t *run, size_t runBytes, int q41, int64_t K, int nblk, const float *X, int64_t ldx,
                       const float *S, int64_t T, float *panel, float *D, int wide) {
    const int64_t nb = K / 32, ldd = 8 * T;   // ldd: floats between row blocks in D
    if (T <= 2) {
        // Decode: as many row blocks as registers allow, each its own weight stream. A second
        // token reads the same few kilobytes again, from cache.
        for (int64_t t = 0; t < T; t++)
            for (int i = 0, rb; i < nblk; i += rb) {
                const int left = nblk - i;
                tile_fn fn;
                if (wide && left >= 8) { rb = 8; fn = avx512_tile_8; }
                else if (left >= 4) { rb = 4; fn = wide ? avx512_tile_4 : avx2_tile_4; }
                else if (left >= 2) { rb = 2; fn = wide ? avx512_tile_2 : avx2_tile_2; }
                else { rb = 1; fn = wide ? avx512_tile_1 : avx2_tile_1; }
                // The next tile's weights (past the last: the next call's) stream in meanwhile.
                fn(run + (size_t)i * runBytes, runBytes, q41, K, X + t * ldx, S + t * nb, run + (size_t)(i + rb) * runBytes,
                   ldd, D + i * ldd + 8 * t);
            }
        return;
    }
    // Three or more: f vectors made once per row block into `panel`, then tiles over the tokens.
    static panel_fn const avx2Panels[4] = {NULL, avx2_panel_1x1, avx2_panel_1x2, avx2_panel_1x3};
    static panel_fn const avx512One[7] = {NULL, avx512_panel_1x1, avx512_panel_1x2, avx512_panel_1x3,
                                          avx512_panel_1x4, avx512_panel_1x5, avx512_panel_1x6};
    static panel_fn const avx512Four[4] = {NULL, avx512_panel_4x1, avx512_panel_4x2, avx512_panel_4x3};
    for (int i = 0, rb; i < nblk; i += rb) {
        rb = wide && nblk - i >= PANEL_RB ? PANEL_RB : 1;
        for (int j = 0; j < rb; j++) {
            const uint8_t *blocks = run + (size_t)(i + j) * runBytes;
            float *out = panel + j * nb * PANEL_FLOATS;
            if (wide) prepare_avx512(blocks, q41, K, out);
            else prepare_avx2(blocks, q41, K, out);
        }
        const int ntMax = !wide ? 3 : rb == PANEL_RB ? 3 : 6;
        for (int64_t t = 0; t < T; t += ntMax) {
            const int nt = T - t >= ntMax ? ntMax : (int)(T - t);
            panel_fn fn = !wide ? avx2Panels[nt] : rb == PANEL_RB ? avx512Four[nt] : avx512One[nt];
            fn(panel, K, X + t * ldx, ldx, S + t * nb, ldd, D + i * ldd + 8 * t);
        }
    }
}
#endif

size_t tllm_x8f_scratch_floats(int64_t K) { return (size_t)(PANEL_RB * (K / 32) * PANEL_FLOATS); }

void tllm_x8f_dots(const uint8_t *W, tllm_wtype type, int64_t K, int64_t blk0, int nblk, const float *X, int64_t ldx,
                   const float *S, int64_t T, float *scratch, float *D) {
    const int q41 = type == TLLM_Q4_1_X8;
    const size_t runBytes = 8 * tllm_row_bytes(type, K);
    const uint8_t *run = W + (size_t)blk0 * runBytes;
#if defined(__x86_64__)
    if (tllm_use_avx2()) {
        dots_tiled(run, runBytes, q41, K, nblk, X, ldx, S, T, scratch, D, tllm_use_avx512());
        return;
    }
#endif
    (void)scratch;
    dots_scalar(run, runBytes, q41, K, nblk, X, ldx, S, T, D);
}

// Linear layers with float32 activations over the grouped 8-row interleaved GGUF types
// (Q4_0_X8G, Q4_1_X8G, Q8_0_X8G; tllm_x8_layout.h): the default engine's kernel for its GGUF
// matrices, in decode and prefill alike. The grouped layout puts a column block's code vectors
// in the order a tile reads them, so a tile streams its group front to back: from DRAM, one
// thread then overlaps the transfer with the arithmetic (an 8-row block per run, read as eight
// interleaved streams, did not: Docs/Performance.md, "Float32 decode, sixth pass").
//
// Rebuilding every weight as fma(d, q, m) before multiplying costs more than the multiply (see
// Docs/Performance.md). This kernel multiplies the codes themselves and applies the block scale
// once per block, for Q4_1 (w = d·u + m), Q4_0 (w = d·(u − 8)) and Q8_0 (w = d·q = d·(u − 128)
// with u = q + 128, which the grouped Q8_0 layout stores in place of q):
//
//     Σ w·x = d · Σ u·x + m' · Σ x,      m' = m, −8d or −128d.
//
// And it makes each code a float in one bit operation: a code u kept where it lies in its dword
// (bits pos … pos + 3, or pos … pos + 7 for Q8_0), everything else cleared, is the subnormal float
// u · 2^(pos − 149) — exactly, so an fma with the input pre-scaled by 2^(c − pos) adds
// u · x · 2^(c − 149), the same real number for every slot. One `and` per 8 weights, no shift, no
// conversion; subnormal operands cost nothing on the CPUs this was measured on, and the kernel
// clears DAZ/FTZ while it runs (with DAZ set, every code would read as zero). Q8_0's codes are
// stored biased (u = q + 128) so that they too take one `and`: adding the 128 here took a second
// operation per 8 weights, and on Zen 4 `vpternlogd` and `and` + `xor` both compete with the FMAs
// for vector ports (the head's Q8_0 tile ran at 29 G weights/s on one core against the Q4 tiles'
// 40; Docs/Performance.md, "Float32 decode, ninth pass").
//
// Preparing a token (tllm_x8f_prepare), once per call: with M the largest |x| of its K inputs,
// c = clamp(126 − ⌊log2 M⌋, 0, 127) (126 when M is 0 or some input is Inf or NaN), so no scaled
// input overflows; then for each block b of 32 columns and slot p < 32
//
//     xs[32b + p] = x[32b + col(p)] · 2^(c − pos(p))          (exact unless it underflows)
//     S'[b]       = S_b · 2^(c − 149)                         S_b = the block's input sum in the
//                                                             order of block_sum_scalar
//
// where slot p of a Q4 block is nibble n = p mod 8 of code dword g = p / 8 (column
// 4g + n/2 + 16·(n mod 2), pos = 4n for n < 5, else 4n − 12 after the dword moves down 12 bits)
// and slot p of a Q8_0 block is byte j = p mod 4 of dword g = p / 4 (column p, pos = 8·(j mod 2),
// bytes 2 and 3 after the dword moves down 16 bits). The canonical order for one output y[t, r]
// (every path — scalar, AVX2, AVX-512VL, one token or many — performs exactly these float
// operations, so the result never depends on the batch or the CPU):
//
//     y' = 0
//     for each block b of 32 columns, in k order:
//         F = 0
//         for p = 0 … 31:  F = fma(f(p), xs[32b + p], F)      f(p): slot p's code as a subnormal
//         y' = fma(d, F, y')
//         y' = fma(m', S'[b], y')
//     y = (y' · s1) · s2                                       s1 · s2 = 2^(149 − c), both exact
//
// F sums the codes' products with no cancellation (the rounding of a plain dot product of u and
// x); only products below about 2^-107 M lose bits to underflow.
#include "dispatch.h"
#include "tllm_x8.h"
#include "tllm_x8_layout.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0 };

/// Column blocks a decode tile prefetches ahead of the one it reads (tllm_set_decode_prefetch):
/// by default 4, about 5 KB of Q4_1 (9 KB of Q8_0); near a group's end that is the start of the
/// next group, which is next in memory.
static _Atomic int decode_prefetch = 4;

void tllm_set_decode_prefetch(int columnBlocks) { decode_prefetch = columnBlocks > 0 ? columnBlocks : 0; }
int tllm_decode_prefetch(void) { return decode_prefetch; }

/// Floats of one row block's column block in a prepared panel: 32 f vectors, d, m'.
#define PANEL_FLOATS (34 * 8)

int tllm_x8f_supports(tllm_wtype type) { return x8_grouped(type); }

int tllm_x8f_same_input(tllm_wtype a, tllm_wtype b) { return (a == TLLM_Q8_0_X8G) == (b == TLLM_Q8_0_X8G); }

static int kind_of(tllm_wtype type) {
    return type == TLLM_Q4_0_X8G ? KIND_Q4_0 : type == TLLM_Q4_1_X8G ? KIND_Q4_1 : KIND_Q8_0;
}

/// The GGUF type of a weight kind (its sizes and layout: tllm_x8_layout.h).
static inline tllm_wtype kind_base(int kind) { return kind == KIND_Q4_0 ? TLLM_Q4_0 : kind == KIND_Q4_1 ? TLLM_Q4_1 : TLLM_Q8_0; }
/// Bytes of a row block's scale header: the 8 fp16 d (Q4_1: then the 8 fp16 m).
static inline int64_t header_bytes(int kind) { return x8_header_bytes(kind_base(kind)); }

/// Floats of one prepared token: K scaled inputs, K/32 block sums, the two output factors (padded).
static inline int64_t input_floats(int64_t K) { return (K + K / 32 + 2 + 15) / 16 * 16; }

size_t tllm_x8f_input_floats(int64_t T, int64_t K) { return (size_t)(T * input_floats(K)); }

static float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return tllm_f16_to_f32(h);
}

/// The bit position of slot p's code within its (possibly moved) dword.
static inline int slot_pos(int q8, int p) { return q8 ? 8 * (p % 2) : p % 8 < 5 ? 4 * (p % 8) : 4 * (p % 8) - 12; }

/// The bits of slot p's code within its (possibly moved) dword: keeping only these makes its f.
static inline uint32_t slot_mask(int q8, int p) { return (q8 ? 0xffu : 0xfu) << slot_pos(q8, p); }

/// The column within its block of slot p.
static int slot_column(int q8, int p) { return q8 ? p : 4 * (p / 8) + (p % 8) / 2 + 16 * (p % 2); }

/// Clears DAZ and FTZ for the kernel (the codes are subnormal floats); returns what to restore.
static unsigned subnormals_on(void) {
#if defined(__x86_64__)
    const unsigned csr = _mm_getcsr();
    if (csr & 0x8040u) _mm_setcsr(csr & ~0x8040u);
    return csr;
#else
    return 0;
#endif
}

static void subnormals_restore(unsigned csr) {
#if defined(__x86_64__)
    if (csr & 0x8040u) _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

// ---- Preparing the input ----------------------------------------------------------------------

static float block_sum_scalar(const float *x) {
    float v[8];
    for (int j = 0; j < 8; j++) v[j] = (x[j] + x[8 + j]) + (x[16 + j] + x[24 + j]);
    return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

/// c for a token whose largest |x| is M (`finite`: no Inf or NaN among its inputs).
static int token_exponent(float M, int finite) {
    if (!finite || M == 0) return 126;
    const int c = 126 - ilogbf(M);
    return c < 0 ? 0 : c > 127 ? 127 : c;
}

/// 2^e for a normal exponent (−126 ≤ e ≤ 127), from its bits (ldexpf where it may be subnormal).
static float pow2(int e) {
    const uint32_t bits = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// The token's block sums (scaled), output factors and per-slot multipliers from its c.
static void token_factors(int c, int q8, float *S, int64_t nb, float *scale, float mult[32]) {
    const float sumScale = ldexpf(1.0f, c - 149);
    for (int64_t b = 0; b < nb; b++) S[b] *= sumScale;
    const int k = 149 - c, k1 = k < 127 ? k : 127;
    scale[0] = pow2(k1);
    scale[1] = pow2(k - k1);
    for (int p = 0; p < 32; p++) mult[p] = pow2(c - slot_pos(q8, p));
}

static void prepare_scalar(int q8, const float *x, int64_t K, float *in) {
    const int64_t nb = K / 32;
    float *xs = in, *S = in + K, mult[32];
    float M = 0;
    int finite = 1;
    for (int64_t k = 0; k < K; k++) {
        const float a = fabsf(x[k]);
        if (!(a <= 3.40282347e38f)) finite = 0;
        else if (a > M) M = a;
    }
    for (int64_t b = 0; b < nb; b++) S[b] = block_sum_scalar(x + 32 * b);
    token_factors(token_exponent(M, finite), q8, S, nb, S + nb, mult);
    for (int64_t b = 0; b < nb; b++)
        for (int p = 0; p < 32; p++) xs[32 * b + p] = x[32 * b + slot_column(q8, p)] * mult[p];
}

#if defined(__x86_64__)
TLLM_AVX2 static void prepare_avx2(int q8, const float *x, int64_t K, float *in) {
    const int64_t nb = K / 32;
    float *xs = in, *S = in + K, mult[32];
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)), big = _mm256_set1_ps(3.40282347e38f);
    __m256 M = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256 v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + 32 * b + 8 * j);
            const __m256 a = _mm256_and_ps(v[j], absMask);
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));   // Inf or NaN
            M = _mm256_max_ps(M, a);
        }
        S[b] = hsum8(_mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3])));
    }
    float lanes[8], Mmax = 0;
    _mm256_storeu_ps(lanes, M);
    for (int j = 0; j < 8; j++) Mmax = lanes[j] > Mmax ? lanes[j] : Mmax;
    token_factors(token_exponent(Mmax, _mm256_movemask_ps(bad) == 0), q8, S, nb, S + nb, mult);
    if (q8) {
        const __m256 m = _mm256_loadu_ps(mult);   // slots repeat every 8 (and every 2)
        for (int64_t k = 0; k < K; k += 8) _mm256_storeu_ps(xs + k, _mm256_mul_ps(_mm256_loadu_ps(x + k), m));
        return;
    }
    const __m256 m = _mm256_loadu_ps(mult);
    for (int64_t b = 0; b < nb; b++)
        for (int g = 0; g < 4; g++) {
            // Slots 8g … 8g+7 are columns 4g, 4g+16, 4g+1, 4g+17, …: the two halves interleaved.
            const __m128 lo = _mm_loadu_ps(x + 32 * b + 4 * g), hi = _mm_loadu_ps(x + 32 * b + 16 + 4 * g);
            const __m256 cols = _mm256_set_m128(_mm_unpackhi_ps(lo, hi), _mm_unpacklo_ps(lo, hi));
            _mm256_storeu_ps(xs + 32 * b + 8 * g, _mm256_mul_ps(cols, m));
        }
}
#endif

void tllm_x8f_prepare(tllm_wtype type, const float *X, int64_t ldx, int64_t T, int64_t K, float *in) {
    const int q8 = type == TLLM_Q8_0_X8G;
    const unsigned csr = subnormals_on();
    for (int64_t t = 0; t < T; t++) {
#if defined(__x86_64__)
        if (tllm_use_avx2()) { prepare_avx2(q8, X + t * ldx, K, in + t * input_floats(K)); continue; }
#endif
        prepare_scalar(q8, X + t * ldx, K, in + t * input_floats(K));
    }
    subnormals_restore(csr);
}

// ---- Scalar: the definition, one output at a time ----------------------------------------------

static float code_f(uint32_t dword, int q8, int p) {
    // Later slots read the dword moved down, as the vector kernels do; a stored Q8_0 code is already u = q + 128.
    const uint32_t moved = q8 ? (p % 4 < 2 ? dword : dword >> 16) : (p % 8 < 5 ? dword : dword >> 12);
    const uint32_t bits = moved & slot_mask(q8, p);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// Row blocks i0 … i0 + nblk − 1 of a group of R (tllm_x8_layout.h) against T tokens.
static void dots_scalar(const uint8_t *group, int R, int i0, int kind, int64_t K, int nblk, const float *in, int64_t T,
                        float *D) {
    const int64_t nb = K / 32;
    const int q8 = kind == KIND_Q8_0, P = q8 ? 4 : 8;
    for (int i = 0; i < nblk; i++) {
        const x8_place at = x8_in_group(group, kind_base(kind), R, i0 + i);
        for (int64_t t = 0; t < T; t++) {
            const float *xs = in + t * input_floats(K), *S = xs + K, *scale = S + nb;
            for (int r = 0; r < 8; r++) {
                float y = 0;
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *blk = at.base + b * at.bStride, *h = blk + at.header;
                    float F = 0;
                    for (int p = 0; p < 32; p++) {
                        uint32_t dword;
                        memcpy(&dword, blk + at.code + (p / P) * at.gStride + 4 * r, 4);
                        F = fmaf(code_f(dword, q8, p), xs[32 * b + p], F);
                    }
                    const float d = f16(h + 2 * r);
                    const float m = kind == KIND_Q4_1 ? f16(h + 16 + 2 * r) : kind == KIND_Q4_0 ? -8.0f * d : -128.0f * d;
                    y = fmaf(d, F, y);
                    y = fmaf(m, S[b], y);
                }
                D[(size_t)i * 8 * T + t * 8 + r] = (y * scale[0]) * scale[1];
            }
        }
    }
}

// ---- AVX2 and AVX-512VL: decode tiles and prefill panels ---------------------------------------
// One ymm holds a row block's 8 rows; its 8 code dwords of a group give P slots' f vectors (keep
// the slot's bits), each meeting the broadcast input of its slot. The kernels are compiled twice
// (linear_x8_tile.h): AVX2, and AVX-512VL with 32 registers for wider tiles. Same bits either way.

#if defined(__x86_64__)
TLLM_AVX2 static inline __m256 code_f_avx2(__m256i v, const int q8, const int p) {
    const uint32_t mask = slot_mask(q8, p);
    return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)mask)));
}

/// Asks for the column block `ahead` on from `blk` (bStride bytes each, a whole number of cache
/// lines in a full group) to be brought into L2. The hardware prefetcher alone leaves the two
/// threads' streams short of DRAM's rate; `prefetcht0` (into L1) made decode slower
/// (Docs/Performance.md, "Float32 decode, seventh pass"). Past a matrix's last group the
/// addresses may be outside it: a prefetch never faults, it is only a hint.
static inline __attribute__((always_inline)) void x8_prefetch_ahead(const uint8_t *blk, int64_t bStride, int ahead) {
    // Computed as an integer: the address may lie past the matrix, where pointer arithmetic may not go.
    const char *p = (const char *)((uintptr_t)blk + (uintptr_t)(ahead * bStride));
    for (int64_t o = 0; o < bStride; o += 64) _mm_prefetch(p + o, _MM_HINT_T1);
}

#define X8F_ATTR TLLM_AVX2
#define X8F_CODE code_f_avx2
#define X8F_SCALES scales_avx2
#define X8F_ADVANCE advance_avx2
#define X8F_TILE tile_avx2
#define X8F_PREPARE prepare_panel_avx2
#define X8F_PANEL panel_avx2
#include "linear_x8_tile.h"

#define X8F_ATTR TLLM_AVX512
#define X8F_CODE code_f_avx2
#define X8F_SCALES scales_avx512
#define X8F_ADVANCE advance_avx512
#define X8F_TILE tile_avx512
#define X8F_PREPARE prepare_panel_avx512
#define X8F_PANEL panel_avx512
#include "linear_x8_tile.h"

#define X8F_ATTR_avx2 TLLM_AVX2
#define X8F_ATTR_avx512 TLLM_AVX512

/// Decode tiles and panel preparers, one function per weight kind (and tile row-block count) so
/// each gets its own register allocation and immediate offsets.
#define TILE_FN(ISA, KIND, RB)                                                                                  \
    X8F_ATTR_##ISA static void ISA##_tile_##KIND##_##RB(const uint8_t *group, int R, int i0, int64_t K,         \
                                                        const float *in, int64_t ldd, float *D) {                 \
        tile_##ISA(group, R, i0, KIND, K, in, RB, ldd, D);                                                       \
    }
#define KIND_FNS(ISA, KIND)                                                                                     \
    X8F_ATTR_##ISA static void ISA##_prepare_##KIND(const uint8_t *group, int R, int i, int64_t K, float *panel) { \
        prepare_panel_##ISA(group, R, i, KIND, K, panel);                                                       \
    }                                                                                                           \
    TILE_FN(ISA, KIND, 4) TILE_FN(ISA, KIND, 2) TILE_FN(ISA, KIND, 1)
KIND_FNS(avx2, KIND_Q4_0)
KIND_FNS(avx2, KIND_Q4_1)
KIND_FNS(avx2, KIND_Q8_0)
KIND_FNS(avx512, KIND_Q4_0)
KIND_FNS(avx512, KIND_Q4_1)
KIND_FNS(avx512, KIND_Q8_0)
TILE_FN(avx512, KIND_Q4_0, 8)
TILE_FN(avx512, KIND_Q4_1, 8)
TILE_FN(avx512, KIND_Q8_0, 8)

/// Panel tiles, likewise per shape (the panel is the same for every code family): one row block ×
/// up to 6 tokens (AVX-512VL, whose 32 registers hold the 6 accumulators and inputs) or up to 3
/// (AVX2).
#define PANEL_FN(ISA, RB, NT)                                                                                  \
    X8F_ATTR_##ISA static void ISA##_panel_##RB##x##NT(const float *panel, int64_t K, const float *in, int64_t ldd, \
                                                       float *D) {                                              \
        panel_##ISA(panel, K, in, RB, NT, ldd, D);                                                             \
    }
PANEL_FN(avx2, 1, 1)
PANEL_FN(avx2, 1, 2)
PANEL_FN(avx2, 1, 3)
PANEL_FN(avx512, 1, 1)
PANEL_FN(avx512, 1, 2)
PANEL_FN(avx512, 1, 3)
PANEL_FN(avx512, 1, 4)
PANEL_FN(avx512, 1, 5)
PANEL_FN(avx512, 1, 6)

// ---- AVX-512F: two row blocks × many tokens --------------------------------------------------
// Three or more tokens on AVX-512F: one zmm holds two row blocks' 16 rows, its codes made as
// they are used (as in the decode tiles) and met by each of up to 8 tokens' inputs, y in
// registers. Same float operations per output as everywhere else.

TLLM_AVX512 static inline __attribute__((always_inline)) __m512 code_f_pair(__m512i v, const int q8, const int p) {
    const uint32_t mask = slot_mask(q8, p);
    return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)mask)));
}

/// d and m' of a column block for row blocks i (low lanes) and i + 1 (high lanes), their headers
/// adjacent at `h`.
TLLM_AVX512 static inline __attribute__((always_inline)) void
scales_pair(const uint8_t *h, const int kind, __m512 *d, __m512 *m) {
    if (kind == KIND_Q4_1) {
        // d0 m0 d1 m1, 16 bytes each.
        *d = _mm512_cvtph_ps(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)(h + 32)), _mm_loadu_si128((const __m128i *)h)));
        *m = _mm512_cvtph_ps(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)(h + 48)),
                                              _mm_loadu_si128((const __m128i *)(h + 16))));
    } else {
        *d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
        *m = _mm512_mul_ps(_mm512_set1_ps(kind == KIND_Q4_0 ? -8.0f : -128.0f), *d);
    }
}

/// Row blocks i0 and i0 + 1 of a group of R (their code vectors adjacent: one 64-byte load each)
/// against NT prepared tokens (`in`, one input_floats(K) apart): row block i0, token t lands at
/// D + 8t, row block i0 + 1 at D + ldd + 8t.
TLLM_AVX512 static inline __attribute__((always_inline)) void
pair_tile(const uint8_t *restrict group, int R, int i0, const int kind, int64_t K, const float *restrict in,
          const int NT, int64_t ldd, float *restrict D) {
    const int q8 = kind == KIND_Q8_0;
    const int64_t nb = K / 32, ldin = input_floats(K);
    const int G = q8 ? 8 : 4, P = q8 ? 4 : 8;
    const x8_place at = x8_in_group(group, kind_base(kind), R, i0);
    __m512 y[8];
#pragma clang loop unroll(full)
    for (int t = 0; t < NT; t++) y[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = at.base + b * at.bStride;
        const float *xs = in + 32 * b;
        __m512 F[8];
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) F[t] = _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int g = 0; g < G; g++) {
            __m512i v = _mm512_loadu_si512((const void *)(blk + at.code + g * at.gStride));
#pragma clang loop unroll(full)
            for (int n = 0; n < P; n++) {
                if (!q8 && n == 5) v = _mm512_srli_epi32(v, 12);
                if (q8 && n == 2) v = _mm512_srli_epi32(v, 16);
                const __m512 f = code_f_pair(v, q8, n);
#pragma clang loop unroll(full)
                for (int t = 0; t < NT; t++) F[t] = _mm512_fmadd_ps(f, _mm512_set1_ps(xs[t * ldin + P * g + n]), F[t]);
            }
        }
        __m512 d, m;
        scales_pair(blk + at.header, kind, &d, &m);
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++)
            y[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(in[t * ldin + K + b]), _mm512_fmadd_ps(d, F[t], y[t]));
    }
#pragma clang loop unroll(full)
    for (int t = 0; t < NT; t++) {
        const float *scale = in + t * ldin + K + nb;
        const __m512 v = _mm512_mul_ps(_mm512_mul_ps(y[t], _mm512_set1_ps(scale[0])), _mm512_set1_ps(scale[1]));
        _mm256_storeu_ps(D + 8 * t, _mm512_castps512_ps256(v));
        _mm256_storeu_ps(D + ldd + 8 * t, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    }
}

typedef void (*pair_fn)(const uint8_t *, int, int, int64_t, const float *, int64_t, float *);
#define PAIR_FN(KIND, NT)                                                                                      \
    TLLM_AVX512 static void pair_##KIND##_##NT(const uint8_t *group, int R, int i0, int64_t K, const float *in, \
                                               int64_t ldd, float *D) {                                        \
        pair_tile(group, R, i0, KIND, K, in, NT, ldd, D);                                                      \
    }
#define PAIR_FNS(KIND) PAIR_FN(KIND, 1) PAIR_FN(KIND, 2) PAIR_FN(KIND, 3) PAIR_FN(KIND, 4) \
    PAIR_FN(KIND, 5) PAIR_FN(KIND, 6) PAIR_FN(KIND, 7) PAIR_FN(KIND, 8)
PAIR_FNS(KIND_Q4_0)
PAIR_FNS(KIND_Q4_1)
PAIR_FNS(KIND_Q8_0)
#define PAIRS(KIND) {NULL, pair_##KIND##_1, pair_##KIND##_2, pair_##KIND##_3, pair_##KIND##_4, \
    pair_##KIND##_5, pair_##KIND##_6, pair_##KIND##_7, pair_##KIND##_8}
/// Tokens one pair tile takes at most.
#define PAIR_NT 8

typedef void (*tile_fn)(const uint8_t *, int, int, int64_t, const float *, int64_t, float *);
typedef void (*prepare_fn)(const uint8_t *, int, int, int64_t, float *);
typedef void (*panel_fn)(const float *, int64_t, const float *, int64_t, float *);

#define TILES(ISA, KIND) {ISA##_tile_##KIND##_4, ISA##_tile_##KIND##_2, ISA##_tile_##KIND##_1}

/// The decode tile for `left` row blocks still to cover: its row-block count in *rb.
static tile_fn pick_tile(int wide, int kind, int left, int *rb) {
    static tile_fn const eights[3] = {avx512_tile_KIND_Q4_0_8, avx512_tile_KIND_Q4_1_8, avx512_tile_KIND_Q8_0_8};
    static tile_fn const avx512Tiles[3][3] = {TILES(avx512, KIND_Q4_0), TILES(avx512, KIND_Q4_1), TILES(avx512, KIND_Q8_0)};
    static tile_fn const avx2Tiles[3][3] = {TILES(avx2, KIND_Q4_0), TILES(avx2, KIND_Q4_1), TILES(avx2, KIND_Q8_0)};
    if (wide && left >= 8) {
        *rb = 8;
        return eights[kind];
    }
    const int pick = left >= 4 ? 0 : left >= 2 ? 1 : 2;
    *rb = 4 >> pick;
    return (wide ? avx512Tiles : avx2Tiles)[kind][pick];
}

/// Asks for row blocks i0 … i0 + nblk − 1 of a group of R (their codes and scale headers in every
/// column block) to be brought into L2.
static void prefetch_slices(const uint8_t *group, int R, int i0, int nblk, int kind, int64_t K) {
    const int G = kind == KIND_Q8_0 ? 8 : 4;
    const x8_place at = x8_in_group(group, kind_base(kind), R, i0);
    const int64_t codes = 32 * (int64_t)nblk, headers = header_bytes(kind) * nblk;
    for (int64_t b = 0; b < K / 32; b++) {
        const char *blk = (const char *)at.base + b * at.bStride;
        for (int g = 0; g < G; g++)
            for (int64_t o = 0; o < codes; o += 64) _mm_prefetch(blk + at.code + g * at.gStride + o, _MM_HINT_T1);
        for (int64_t o = 0; o < headers; o += 64) _mm_prefetch(blk + at.header + o, _MM_HINT_T1);
    }
}

/// Covers row blocks i0 … i0 + nblk − 1 of a group of R × T tokens (`wide`: the AVX-512 kernels).
static void dots_tiled(const uint8_t *group, int R, int i0, int kind, int64_t K, int nblk, const float *in, int64_t T,
                       float *panel, float *D, int wide) {
    const int64_t ldd = 8 * T, ldin = input_floats(K);   // ldd: floats between row blocks in D
    if (T <= 2) {
        // Decode: as many row blocks as registers allow, read as one stream. A second token reads
        // the same few kilobytes again, from cache.
        for (int64_t t = 0; t < T; t++)
            for (int i = 0, rb; i < nblk; i += rb)
                pick_tile(wide, kind, nblk - i, &rb)(group, R, i0 + i, K, in + t * ldin, ldd, D + i * ldd + 8 * t);
        return;
    }
    // Three or more. AVX-512F: pairs of row blocks, up to PAIR_NT tokens per pass over their
    // weights; a row block left over (and every one on AVX2): its f vectors made once into
    // `panel`, then panel tiles over the tokens.
    // Each pair below reads a slice of every column block: have this call's slices on their way
    // to L2 first (at 16 tokens: layer linears 21–24 → 20–21 ms, 2 threads).
    prefetch_slices(group, R, i0, nblk, kind, K);
    int i = 0;
    if (wide) {
        static pair_fn const pairs[3][PAIR_NT + 1] = {PAIRS(KIND_Q4_0), PAIRS(KIND_Q4_1), PAIRS(KIND_Q8_0)};
        for (; i + 2 <= nblk; i += 2)
            for (int64_t t = 0; t < T; t += PAIR_NT) {
                const int nt = T - t >= PAIR_NT ? PAIR_NT : (int)(T - t);
                pairs[kind][nt](group, R, i0 + i, K, in + t * ldin, ldd, D + i * ldd + 8 * t);
            }
    }
    static panel_fn const avx2Panels[4] = {NULL, avx2_panel_1x1, avx2_panel_1x2, avx2_panel_1x3};
    static panel_fn const avx512Panels[7] = {NULL, avx512_panel_1x1, avx512_panel_1x2, avx512_panel_1x3,
                                             avx512_panel_1x4, avx512_panel_1x5, avx512_panel_1x6};
    static prepare_fn const avx2Prepare[3] = {avx2_prepare_KIND_Q4_0, avx2_prepare_KIND_Q4_1, avx2_prepare_KIND_Q8_0};
    static prepare_fn const avx512Prepare[3] = {avx512_prepare_KIND_Q4_0, avx512_prepare_KIND_Q4_1, avx512_prepare_KIND_Q8_0};
    for (; i < nblk; i++) {
        (wide ? avx512Prepare : avx2Prepare)[kind](group, R, i0 + i, K, panel);
        const int ntMax = wide ? 6 : 3;
        for (int64_t t = 0; t < T; t += ntMax) {
            const int nt = T - t >= ntMax ? ntMax : (int)(T - t);
            (wide ? avx512Panels : avx2Panels)[nt](panel, K, in + t * ldin, ldd, D + i * ldd + 8 * t);
        }
    }
}
#endif

size_t tllm_x8f_scratch_floats(int64_t K) { return (size_t)((K / 32) * PANEL_FLOATS); }

void tllm_x8f_dots(const uint8_t *W, tllm_wtype type, int64_t N, int64_t K, int64_t blk0, int nblk, const float *in,
                   int64_t T, float *scratch, float *D) {
    const int kind = kind_of(type);
    const tllm_wtype base = tllm_x8_base(type);
    const int64_t blocks = N / 8;
    const unsigned csr = subnormals_on();
    (void)scratch;
    // Group by group (tllm_x8_layout.h): the kernels address row blocks within one.
    for (int64_t first = blk0, end = blk0 + nblk; first < end;) {
        const int64_t s = first / X8_GROUP, last = (s + 1) * X8_GROUP < end ? (s + 1) * X8_GROUP : end;
        const uint8_t *group = x8_group(W, base, K, s);
        const int R = x8_group_size(blocks, s), i0 = (int)(first - s * X8_GROUP), n = (int)(last - first);
        float *d = D + (first - blk0) * 8 * T;
#if defined(__x86_64__)
        if (tllm_use_avx2()) dots_tiled(group, R, i0, kind, K, n, in, T, scratch, d, tllm_use_avx512());
        else
#endif
            dots_scalar(group, R, i0, kind, K, n, in, T, d);
        first = last;
    }
    subnormals_restore(csr);
}

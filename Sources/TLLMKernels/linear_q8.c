// Linear layers with int8 activations (W4A8 / W8A8, llama.cpp's q8_1 arithmetic): opt-in, faster,
// and less accurate than the float32 path.
//
// Each token row is quantized in blocks of 32 values: d = amax / 127, q = rint(x · (1/d)) in
// [-127, 127], with the block's integer sum Σq and s = d · Σq kept beside it (a block whose d is
// below FLT_MIN gets all-zero codes; one holding an Inf or NaN gets d = s = NaN, so its outputs are
// NaN as float32 arithmetic would make them). A weight block of 32 values (Q4_0, Q4_1 or Q8_0, as
// stored in the GGUF or interleaved in 8-row blocks) then meets it in integer arithmetic, which is
// exact, so only the float steps below fix the result. The canonical order for one output y[t, r]
// (every path — scalar, AVX2, AVX-512 VNNI, one token or many, either layout — performs exactly
// these float operations, so the result never depends on the batch or the CPU):
//
//     y = 0
//     for each block b in k order:
//         isum = Σ_i u_i · q_i − offset · Σq          (exact; u = stored code, see below)
//         y = fma(float(isum), d_w · d_x, y)
//         Q4_1 only: y = fma(m_w, s_x, y)            (the block minimum times Σx ≈ d_x · Σq)
//
// with u = the nibble and offset 8 for Q4_0 (w = d · (u − 8)), the nibble and offset 0 for Q4_1
// (w = d · u + m), and for Q8_0 the signed byte with offset 0 — or, where vpdpbusd needs unsigned
// codes, the byte + 128 with offset 128.
#include "dispatch.h"
#include "tllm_q8.h"
#include "tllm_x8_layout.h"
#include <float.h>
#include <math.h>
#include <string.h>

static int is_x8(tllm_wtype type) { return type == TLLM_Q4_0_X8 || type == TLLM_Q4_1_X8 || type == TLLM_Q8_0_X8; }

int tllm_q8_supports(tllm_wtype type) {
    return type == TLLM_Q4_0 || type == TLLM_Q4_1 || type == TLLM_Q8_0 || is_x8(type);
}

// ---- Activations ------------------------------------------------------------------------------
// One token's row: K int8 codes, then K/32 floats d, K/32 floats s, K/32 int32 Σq.

static int64_t codes_bytes(int64_t K) { return (K + 63) / 64 * 64; }

size_t tllm_q8_row_bytes(int64_t K) {
    return (size_t)((codes_bytes(K) + 12 * (K / 32) + 63) / 64 * 64);
}

static float *row_d(uint8_t *row, int64_t K) { return (float *)(row + codes_bytes(K)); }
static float *row_s(uint8_t *row, int64_t K) { return row_d(row, K) + K / 32; }
static int32_t *row_sum(uint8_t *row, int64_t K) { return (int32_t *)(row_s(row, K) + K / 32); }

/// The scale of a block with this amax, and the multiplier its codes use (0: all codes 0).
static void block_scale(float amax, int finite, float *dx, float *id) {
    *dx = finite ? amax / 127.0f : NAN;
    *id = finite && *dx >= FLT_MIN ? 1.0f / *dx : 0.0f;
}

/// One block: its scale and codes (rint, round-half-even, as cvtps2dq does).
static void quantize_block_scalar(const float *x, int8_t *q, float *d, float *s, int32_t *sum) {
    float amax = 0;
    int finite = 1;
    for (int i = 0; i < 32; i++) {
        finite &= fabsf(x[i]) <= FLT_MAX;
        amax = fmaxf(amax, fabsf(x[i]));
    }
    float dx, id;
    block_scale(amax, finite, &dx, &id);
    int32_t total = 0;
    for (int i = 0; i < 32; i++) {
        float v = finite ? rintf(x[i] * id) : 0;
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        q[i] = (int8_t)v;
        total += q[i];
    }
    *d = dx;
    *sum = total;
    *s = dx * (float)total;
}

#if defined(__x86_64__)
TLLM_AVX2 static void quantize_block_avx2(const float *x, int8_t *q, float *d, float *s, int32_t *sum) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    const __m256 largest = _mm256_set1_ps(FLT_MAX);
    __m256 v[4], m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        __m256 a = _mm256_andnot_ps(signBit, v[k]);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, largest, _CMP_NLE_UQ));   // Inf or NaN
        m = _mm256_max_ps(m, a);
    }
    const int finite = _mm256_movemask_ps(bad) == 0;
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    float amax = _mm_cvtss_f32(h), dx, id;   // the max of finite values: the same in any order
    block_scale(amax, finite, &dx, &id);
    if (!finite)
        for (int k = 0; k < 4; k++) v[k] = _mm256_setzero_ps();
    const __m256 idv = _mm256_set1_ps(id), hi = _mm256_set1_ps(127), lo = _mm256_set1_ps(-127);
    __m256i c[4];
    for (int k = 0; k < 4; k++)
        c[k] = _mm256_cvtps_epi32(_mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_round_ps(_mm256_mul_ps(v[k], idv),
                                                                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))));
    __m256i total = _mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    // int32 → int16 → int8 with the lane order restored after the in-lane packs.
    __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
    w = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, w);
    *d = dx;
    *sum = _mm_cvtsi128_si32(t);
    *s = dx * (float)*sum;
}
#endif

static void quantize_row(const float *x, int64_t K, uint8_t *row) {
    float *d = row_d(row, K), *s = row_s(row, K);
    int32_t *sum = row_sum(row, K);
    for (int64_t b = 0; b < K / 32; b++) {
#if defined(__x86_64__)
        if (tllm_use_avx2()) { quantize_block_avx2(x + 32 * b, (int8_t *)row + 32 * b, d + b, s + b, sum + b); continue; }
#endif
        quantize_block_scalar(x + 32 * b, (int8_t *)row + 32 * b, d + b, s + b, sum + b);
    }
}

typedef struct {
    const float *X;
    int64_t ldx, K;
    uint8_t *dst;
} quantize_ctx;

static void quantize_rows(void *p, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const quantize_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) quantize_row(c->X + t * c->ldx, c->K, c->dst + (size_t)t * tllm_q8_row_bytes(c->K));
}

void tllm_q8_quantize(const float *X, int64_t ldx, int64_t T, int64_t K, uint8_t *dst) {
    quantize_ctx c = {X, ldx, K, dst};
    // A decode step's few rows are quicker inline than a trip through the pool.
    if (T < 8) quantize_rows(&c, 0, T, 0);
    else tllm_parallel_for(T, quantize_rows, &c);
}

// ---- Weights: a row block laid out for the integer dot products --------------------------------
// Three or more tokens: the 8 rows of a block are laid out once in scratch in the interleaved
// form of tllm_kernels.h (Q4_0_X8 / Q4_1_X8 / Q8_0_X8). Rows past `rows` are zero, d = m = 0
// included, so every lane computes and unused lanes stay 0.

static float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return tllm_f16_to_f32(h);
}

size_t tllm_q8_prep_bytes(int64_t K) { return (size_t)(K / 32) * (size_t)x8_block_bytes(TLLM_Q8_0); }

/// Code offset the integer sum subtracts, per type and path.
static int32_t code_offset(tllm_wtype type, int vnni) {
    return type == TLLM_Q4_0 ? 8 : type == TLLM_Q8_0 && vnni ? 128 : 0;
}

/// Where row block r of an interleaved matrix W (N rows of K) lies: for the _X8 types its own run
/// of column blocks, each the scale header then the codes; for the _X8G types its place in its
/// group (tllm_x8_layout.h).
static x8_place row_block_place(const uint8_t *W, tllm_wtype type, int64_t N, int64_t K, int64_t r) {
    const tllm_wtype base = tllm_x8_base(type);
    if (x8_grouped(type)) return x8_row_block(W, base, K, (N + 7) / 8, r);
    return x8_run(W + (size_t)(r * (K / 32) * x8_block_bytes(base)), base);
}

/// Flips the top bit of each of the 4 code bytes at `p`: Q8_0's q ⇄ q + 128 (the grouped layout's
/// biased codes, tllm_kernels.h).
static void flip_q8_codes(uint8_t *p) {
    for (int j = 0; j < 4; j++) p[j] ^= 0x80;
}

/// Copies between GGUF rows w[0 … rows) and one interleaved row block at `at` (K / 32 column
/// blocks), in the direction `toX8` says; `biased`: Q8_0 codes are stored as q + 128 (the grouped
/// layout). Packing fills rows past `rows` with zeros.
static void move_x8(uint8_t *const *w, int rows, tllm_wtype type, int64_t K, x8_place at, int toX8, int biased) {
    const int64_t nb = K / 32, bytes = (int64_t)tllm_row_bytes(type, 32);
    const int groups = x8_code_vectors(type), halves = (int)(x8_header_bytes(type) / 16);
#define MOVE(a, c, n) (toX8 ? memcpy(a, c, n) : memcpy(c, a, n))
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = (uint8_t *)at.base + b * at.bStride, *head = blk + at.header, *codes = blk + at.code;
        for (int r = 0; r < 8; r++) {
            if (r >= rows) {
                if (!toX8) continue;
                for (int h = 0; h < halves; h++) memset(head + 16 * h + 2 * r, 0, 2);
                for (int g = 0; g < groups; g++) memset(codes + g * at.gStride + 4 * r, 0, 4);
                continue;
            }
            uint8_t *src = w[r] + b * bytes;
            for (int h = 0; h < halves; h++) MOVE(head + 16 * h + 2 * r, src + 2 * h, 2);   // d, then m
            for (int g = 0; g < groups; g++) {
                MOVE(codes + g * at.gStride + 4 * r, src + 2 * halves + 4 * g, 4);
                if (biased) flip_q8_codes(toX8 ? codes + g * at.gStride + 4 * r : src + 2 * halves + 4 * g);
            }
        }
    }
#undef MOVE
}

/// Lays out rows w[0 … rows) of GGUF blocks as one interleaved 8-row block run (scratch for 3+ tokens).
static void prepare_x8(const uint8_t *const *w, int rows, tllm_wtype type, int64_t K, uint8_t *prep) {
    move_x8((uint8_t *const *)w, rows, type, K, x8_run(prep, type), 1, 0);   // reads w only
}

/// tllm_repack_x8, tllm_repack_x8g and tllm_unpack_x8: every 8 rows of a matrix, one row block
/// each (`type`: the interleaved type).
static void move_matrix_x8(tllm_wtype type, uint8_t *rows, int64_t N, int64_t K, uint8_t *x8, int toX8) {
    const tllm_wtype base = tllm_x8_base(type);
    const size_t rowBytes = tllm_row_bytes(base, K);
    for (int64_t r0 = 0; r0 < N; r0 += 8) {
        const int count = N - r0 < 8 ? (int)(N - r0) : 8;
        uint8_t *w[8];
        for (int r = 0; r < count; r++) w[r] = rows + (size_t)(r0 + r) * rowBytes;
        move_x8(w, count, base, K, row_block_place(x8, type, N, K, r0 / 8), toX8, type == TLLM_Q8_0_X8G);
    }
}

void tllm_matrix_row(const void *W, tllm_wtype type, int64_t N, int64_t K, int64_t row, float *dst) {
    const size_t rowBytes = tllm_row_bytes(type, K);
    const tllm_wtype base = tllm_x8_base(type);
    if (base == type) {
        tllm_dequantize_row(type, (const uint8_t *)W + (size_t)row * rowBytes, dst, K);
        return;
    }
    // Gather the row's GGUF blocks out of its row block (move_x8's inverse, for one row).
    const x8_place at = row_block_place((const uint8_t *)W, type, N, K, row / 8);
    const int64_t nb = K / 32;
    const int groups = x8_code_vectors(base), halves = (int)(x8_header_bytes(base) / 16), r = (int)(row % 8);
    uint8_t block[34];   // the largest GGUF block (Q8_0)
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = at.base + b * at.bStride;
        for (int h = 0; h < halves; h++) memcpy(block + 2 * h, blk + at.header + 16 * h + 2 * r, 2);
        for (int g = 0; g < groups; g++) {
            memcpy(block + 2 * halves + 4 * g, blk + at.code + g * at.gStride + 4 * r, 4);
            if (type == TLLM_Q8_0_X8G) flip_q8_codes(block + 2 * halves + 4 * g);
        }
        tllm_dequantize_row(base, block, dst + 32 * b, 32);
    }
}

tllm_wtype tllm_x8_base(tllm_wtype type) {
    switch (type) {
    case TLLM_Q4_0_X8: case TLLM_Q4_0_X8G: return TLLM_Q4_0;
    case TLLM_Q4_1_X8: case TLLM_Q4_1_X8G: return TLLM_Q4_1;
    case TLLM_Q8_0_X8: case TLLM_Q8_0_X8G: return TLLM_Q8_0;
    default: return type;
    }
}

/// The _X8 (grouped: _X8G) type made from a GGUF base type.
static tllm_wtype interleaved_type(tllm_wtype base, int grouped) {
    if (base == TLLM_Q4_0) return grouped ? TLLM_Q4_0_X8G : TLLM_Q4_0_X8;
    if (base == TLLM_Q4_1) return grouped ? TLLM_Q4_1_X8G : TLLM_Q4_1_X8;
    return grouped ? TLLM_Q8_0_X8G : TLLM_Q8_0_X8;
}

void tllm_repack_x8(tllm_wtype base, const void *src, int64_t N, int64_t K, void *dst) {
    move_matrix_x8(interleaved_type(base, 0), (uint8_t *)src, N, K, dst, 1);   // reads src only
}

void tllm_repack_x8g(tllm_wtype base, const void *src, int64_t N, int64_t K, void *dst) {
    move_matrix_x8(interleaved_type(base, 1), (uint8_t *)src, N, K, dst, 1);   // reads src only
}

void tllm_unpack_x8(tllm_wtype type, const void *src, int64_t N, int64_t K, void *dst) {
    move_matrix_x8(type, dst, N, K, (uint8_t *)src, 0);   // reads src only
}

void tllm_q8_0_x8g_flip_codes(void *W, int64_t N, int64_t K) {
    const int groups = x8_code_vectors(TLLM_Q8_0);
    for (int64_t r = 0; r < (N + 7) / 8; r++) {
        const x8_place at = row_block_place((const uint8_t *)W, TLLM_Q8_0_X8G, N, K, r);
        for (int64_t b = 0; b < K / 32; b++)
            for (int g = 0; g < groups; g++)
                for (int row = 0; row < 8; row++) flip_q8_codes((uint8_t *)at.base + b * at.bStride + at.code + g * at.gStride + 4 * row);
    }
}

#if defined(__x86_64__)
#define TLLM_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))

/// The eight rows' integer sums [r0 … r7] from their 8-lane partial sums (exact in any order).
TLLM_AVX2 static inline __m256i reduce8_epi32(const __m256i p[8]) {
    __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

// Decode (one or two tokens): laying a row block out first costs more than the dot products, so
// these read the GGUF blocks directly: the same integer sums and float steps as above.

/// The eight rows' block scales d (and Q4_1 minimums m) as floats, from the 4 bytes at each
/// row's block start (eight loads: a vpgatherdd here made the whole kernel 20 % slower).
TLLM_AVX2 static inline void gather_scales(const uint8_t *block0, size_t rowBytes, __m256 *d, __m256 *m) {
    int32_t v[8];
    for (int r = 0; r < 8; r++) memcpy(&v[r], block0 + r * rowBytes, 4);
    __m256i g = _mm256_loadu_si256((const __m256i *)v);
    const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                          0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    __m256i s = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, pick), 0xd8);  // d0…d7, m0…m7 as fp16
    *d = _mm256_cvtph_ps(_mm256_castsi256_si128(s));
    *m = _mm256_cvtph_ps(_mm256_extracti128_si256(s, 1));
}

/// A block's 16 nibble bytes as 32 codes in element order (low nibbles, then high nibbles).
TLLM_AVX2 static inline __m256i unpack_nibbles(const uint8_t *p) {
    __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
    return _mm256_and_si256(_mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/// The float steps of one block for eight rows (lane r: row r), from their scales and minimums.
TLLM_AVX2 static inline __m256 block_step(__m256i isum, __m256 d, __m256 m, float dx, float sx, int withMin, __m256 y) {
    y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d, _mm256_set1_ps(dx)), y);
    if (withMin) y = _mm256_fmadd_ps(m, _mm256_set1_ps(sx), y);
    return y;
}

/// One row's 8-lane partial sums of a block from its stored codes at `c` (AVX2: u8 × s8 pairs
/// through maddubs, Q8_0's sign moved onto x; VNNI: one vpdpbusd, Q8_0 codes + 128).
TLLM_AVX2 static inline __m256i row_dot_avx2(const uint8_t *c, __m256i x, const tllm_wtype type) {
    __m256i prod;
    if (type == TLLM_Q8_0) {
        __m256i u = _mm256_loadu_si256((const __m256i *)c);
        prod = _mm256_maddubs_epi16(_mm256_sign_epi8(u, u), _mm256_sign_epi8(x, u));
    } else {
        prod = _mm256_maddubs_epi16(unpack_nibbles(c), x);
    }
    return _mm256_madd_epi16(prod, _mm256_set1_epi16(1));
}

TLLM_VNNI static inline __m256i row_dot_vnni(const uint8_t *c, __m256i x, const tllm_wtype type) {
    __m256i u = type == TLLM_Q8_0 ? _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)c), _mm256_set1_epi8((char)0x80))
                                  : unpack_nibbles(c);
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, x);
}

/// The decode loop shared by the AVX2 and VNNI bodies: per block, the x codes are loaded once,
/// each row's partial sums (ROW_DOT) reduced to the eight rows' block sums, then the float steps.
#define DIRECT_LOOP(ROW_DOT, OFFSET)                                                                 \
    const int64_t nb = K / 32, bytes = (int64_t)tllm_row_bytes(type, 32);                            \
    const int64_t codes = type == TLLM_Q4_1 ? 4 : 2;                                                 \
    const float *dx = row_d((uint8_t *)xrow, K), *sx = row_s((uint8_t *)xrow, K);                    \
    const int32_t *qsum = row_sum((uint8_t *)xrow, K);                                               \
    const int32_t offset = OFFSET;                                                                   \
    const int linesPerBlock = next ? (int)((8 * rowBytes / 64 + nb) / nb) : 0;                       \
    __m256 y = _mm256_setzero_ps();                                                                  \
    for (int64_t b = 0; b < nb; b++) {                                                               \
        for (int j = 0; j < linesPerBlock; j++) _mm_prefetch((const char *)next + (b * linesPerBlock + j) * 64, _MM_HINT_T0); \
        const uint8_t *blk = w0 + b * bytes;                                                         \
        __m256i x = _mm256_loadu_si256((const __m256i *)(xrow + 32 * b)), p[8];                      \
        for (int r = 0; r < 8; r++) p[r] = ROW_DOT(blk + r * rowBytes + codes, x, type);             \
        __m256i isum = reduce8_epi32(p);                                                             \
        if (offset) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(offset * qsum[b]));              \
        __m256 d, m;                                                                                 \
        gather_scales(blk, rowBytes, &d, &m);                                                        \
        y = block_step(isum, d, m, dx[b], sx[b], type == TLLM_Q4_1, y);                              \
    }                                                                                                \
    _mm256_storeu_ps(out, y);

TLLM_AVX2 static void direct_avx2(const uint8_t *w0, size_t rowBytes, tllm_wtype type, int64_t K, const uint8_t *xrow,
                                  const uint8_t *next, float *out) {
    DIRECT_LOOP(row_dot_avx2, code_offset(type, 0))
}

/// One row block against one token with VNNI; `type` is a constant in each caller below.
TLLM_VNNI static inline __attribute__((always_inline)) void
direct_vnni_body(const uint8_t *w0, size_t rowBytes, const tllm_wtype type, int64_t K, const uint8_t *xrow,
                 const uint8_t *next, float *out) {
    DIRECT_LOOP(row_dot_vnni, code_offset(type, 1))
}

TLLM_VNNI static void direct_vnni(const uint8_t *w0, size_t rowBytes, tllm_wtype type, int64_t K, const uint8_t *xrow,
                                  const uint8_t *next, float *out) {
    switch (type) {
    case TLLM_Q4_1: direct_vnni_body(w0, rowBytes, TLLM_Q4_1, K, xrow, next, out); break;
    case TLLM_Q4_0: direct_vnni_body(w0, rowBytes, TLLM_Q4_0, K, xrow, next, out); break;
    default: direct_vnni_body(w0, rowBytes, TLLM_Q8_0, K, xrow, next, out); break;
    }
}
#endif

// ---- 8-row interleaved weights: Q4_0_X8, Q4_1_X8, and the laid-out blocks of any type ------------
// Lane r of one vpdpbusd holds row r's four codes of a column group, against those four input
// codes broadcast: the eight rows' block sums come out in one vector with no horizontal step,
// and a row block's bytes are contiguous. Same integer sums and float steps as above. `base` is
// Q4_0, Q4_1 or Q8_0; Q8_0 codes are stored signed and VNNI adds 128 as it loads them (offset 128).

static void x8_scalar(const uint8_t *blk0, tllm_wtype base, int64_t K, const uint8_t *XQ, size_t stride, int64_t T,
                      float *D) {
    const int64_t nb = K / 32, header = x8_header_bytes(base), bytes = x8_block_bytes(base);
    const int32_t offset = code_offset(base, 0);
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *xrow = XQ + (size_t)t * stride;
        const int8_t *q = (const int8_t *)xrow;
        const float *dx = row_d((uint8_t *)xrow, K), *sx = row_s((uint8_t *)xrow, K);
        const int32_t *qsum = row_sum((uint8_t *)xrow, K);
        for (int r = 0; r < 8; r++) {
            float y = 0;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = blk0 + b * bytes;
                int32_t isum = 0;
                for (int g = 0; g < (base == TLLM_Q8_0 ? 8 : 4); g++)
                    for (int j = 0; j < 4; j++) {
                        uint8_t c = blk[header + 32 * g + 4 * r + j];
                        if (base == TLLM_Q8_0) isum += (int8_t)c * q[32 * b + 4 * g + j];
                        else isum += (c & 0x0f) * q[32 * b + 4 * g + j] + (c >> 4) * q[32 * b + 16 + 4 * g + j];
                    }
                isum -= offset * qsum[b];
                y = fmaf((float)isum, f16(blk + 2 * r) * dx[b], y);
                if (base == TLLM_Q4_1) y = fmaf(f16(blk + 16 + 2 * r), sx[b], y);
            }
            D[t * 8 + r] = y;
        }
    }
}

#if defined(__x86_64__)
/// The loop shared by the AVX2 and VNNI bodies: per column block, the 8 code vectors (Q4: column
/// groups 0–3 from low nibbles, 4–7 from high; Q8_0: groups 0–7 as stored) are loaded once and
/// used for every token. DOT(acc, codes, x4) adds lane-wise Σ codes · x over each lane's four bytes.
#define X8_LOOP(DOT, OFFSET, Q8_UNSIGNED)                                                                   \
    const int64_t nb = K / 32, header = x8_header_bytes(base), bytes = x8_block_bytes(base);                           \
    const int32_t offset = OFFSET;                                                                          \
    const __m256i low4 = _mm256_set1_epi8(0x0f);                                                            \
    __m256 y1 = _mm256_setzero_ps();                                                                        \
    if (T > 1)                                                                                              \
        for (int64_t t = 0; t < T; t++) _mm256_storeu_ps(D + t * 8, y1);                                   \
    for (int64_t b = 0; b < nb; b++) {                                                                      \
        const uint8_t *blk = blk0 + b * bytes;                                                              \
        if (next)                                                                                           \
            for (int64_t line = 0; line < bytes; line += 64) _mm_prefetch((const char *)next + b * bytes + line, _MM_HINT_T0); \
        __m256i codes[8];                                                                                   \
        for (int g = 0; g < 4; g++) {                                                                       \
            __m256i c = _mm256_loadu_si256((const __m256i *)(blk + header + 32 * g));                       \
            if (base == TLLM_Q8_0) {                                                                        \
                __m256i c4 = _mm256_loadu_si256((const __m256i *)(blk + header + 32 * (g + 4)));            \
                const __m256i flip = _mm256_set1_epi8((char)0x80);                                          \
                codes[g] = Q8_UNSIGNED ? _mm256_xor_si256(c, flip) : c;                                     \
                codes[g + 4] = Q8_UNSIGNED ? _mm256_xor_si256(c4, flip) : c4;                               \
            } else {                                                                                        \
                codes[g] = _mm256_and_si256(c, low4);                                                       \
                codes[g + 4] = _mm256_and_si256(_mm256_srli_epi16(c, 4), low4);                             \
            }                                                                                               \
        }                                                                                                   \
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));                            \
        const __m256 m = base == TLLM_Q4_1 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16))) : d; \
        for (int64_t t = 0; t < T; t++) {                                                                   \
            const uint8_t *xrow = XQ + (size_t)t * stride;                                                  \
            const int32_t *x4 = (const int32_t *)(xrow + 32 * b);                                           \
            __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();                               \
            for (int g = 0; g < 4; g++) {                                                                   \
                a0 = DOT(a0, codes[g], _mm256_set1_epi32(x4[g]));                                           \
                a1 = DOT(a1, codes[g + 4], _mm256_set1_epi32(x4[g + 4]));                                   \
            }                                                                                               \
            __m256i isum = _mm256_add_epi32(a0, a1);                                                        \
            if (offset) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(offset * row_sum((uint8_t *)xrow, K)[b])); \
            __m256 y = T == 1 ? y1 : _mm256_loadu_ps(D + t * 8);                                            \
            y = block_step(isum, d, m, row_d((uint8_t *)xrow, K)[b], row_s((uint8_t *)xrow, K)[b], base == TLLM_Q4_1, y); \
            if (T == 1) y1 = y;                                                                             \
            else _mm256_storeu_ps(D + t * 8, y);                                                            \
        }                                                                                                   \
    }                                                                                                       \
    if (T == 1) _mm256_storeu_ps(D, y1);

/// AVX2: u8 × s8 pairs through maddubs, then pairs of pairs through madd (no saturation: Q4 codes
/// are ≤ 15; Q8_0's signed codes move their sign onto x, |code| ≤ 128).
#define DOT_AVX2(acc, codes, x)                                                                              \
    _mm256_add_epi32(acc, _mm256_madd_epi16(base == TLLM_Q8_0                                               \
        ? _mm256_maddubs_epi16(_mm256_sign_epi8(codes, codes), _mm256_sign_epi8(x, codes))                   \
        : _mm256_maddubs_epi16(codes, x), ones))
#define DOT_VNNI(acc, codes, x) _mm256_dpbusd_epi32(acc, codes, x)

TLLM_AVX2 static inline __attribute__((always_inline)) void
x8_avx2_body(const uint8_t *blk0, const tllm_wtype base, int64_t K, const uint8_t *XQ, size_t stride, int64_t T,
             const uint8_t *next, float *D) {
    const __m256i ones = _mm256_set1_epi16(1);
    X8_LOOP(DOT_AVX2, code_offset(base, 0), 0)
}

TLLM_VNNI static inline __attribute__((always_inline)) void
x8_vnni_body(const uint8_t *blk0, const tllm_wtype base, int64_t K, const uint8_t *XQ, size_t stride, int64_t T,
             const uint8_t *next, float *D) {
    X8_LOOP(DOT_VNNI, code_offset(base, 1), 1)
}

TLLM_AVX2 static void x8_avx2(const uint8_t *blk0, tllm_wtype base, int64_t K, const uint8_t *XQ, size_t stride, int64_t T,
                              const uint8_t *next, float *D) {
    switch (base) {
    case TLLM_Q4_1: x8_avx2_body(blk0, TLLM_Q4_1, K, XQ, stride, T, next, D); break;
    case TLLM_Q4_0: x8_avx2_body(blk0, TLLM_Q4_0, K, XQ, stride, T, next, D); break;
    default: x8_avx2_body(blk0, TLLM_Q8_0, K, XQ, stride, T, next, D); break;
    }
}

/// One token keeps its outputs in a register (the decode GEMV); more go through D.
#define X8_VNNI_CASE(B)                                                                                      \
    if (T == 1) x8_vnni_body(blk0, B, K, XQ, stride, 1, next, D);                                           \
    else x8_vnni_body(blk0, B, K, XQ, stride, T, next, D);

TLLM_VNNI static void x8_vnni(const uint8_t *blk0, tllm_wtype base, int64_t K, const uint8_t *XQ, size_t stride, int64_t T,
                              const uint8_t *next, float *D) {
    switch (base) {
    case TLLM_Q4_1: X8_VNNI_CASE(TLLM_Q4_1) break;
    case TLLM_Q4_0: X8_VNNI_CASE(TLLM_Q4_0) break;
    default: X8_VNNI_CASE(TLLM_Q8_0) break;
    }
}
#endif

/// Eight rows in the interleaved layout against T tokens, on the widest path this CPU has.
static void x8_dots(const uint8_t *blk0, tllm_wtype base, int64_t K, const uint8_t *XQ, int64_t T, const uint8_t *next,
                    float *D) {
    const size_t stride = tllm_q8_row_bytes(K);
#if defined(__x86_64__)
    if (tllm_use_vnni()) { x8_vnni(blk0, base, K, XQ, stride, T, next, D); return; }
    if (tllm_use_avx2()) { x8_avx2(blk0, base, K, XQ, stride, T, next, D); return; }
#endif
    (void)next;
    x8_scalar(blk0, base, K, XQ, stride, T, D);
}

void tllm_q8_block_dots(const uint8_t *W, tllm_wtype type, size_t rowBytes, int64_t K, int64_t r0, int rows,
                        const uint8_t *XQ, int64_t T, uint8_t *prep, float *D) {
    if (is_x8(type)) {
        // Row counts are multiples of 8 (tllm_repack_x8), so r0 starts a contiguous 8-row block.
        const uint8_t *blk0 = W + (size_t)r0 * rowBytes;
        x8_dots(blk0, tllm_x8_base(type), K, XQ, T, blk0 + 8 * rowBytes, D);
        return;
    }
    const uint8_t *w[8];
    for (int r = 0; r < rows; r++) w[r] = W + (size_t)(r0 + r) * rowBytes;
    const uint8_t *next = W + (size_t)(r0 + rows) * rowBytes;
#if defined(__x86_64__)
    if (T <= 2 && rows == 8 && tllm_use_avx2()) {
        const size_t stride = tllm_q8_row_bytes(K);
        for (int64_t t = 0; t < T; t++) {
            const uint8_t *xrow = XQ + (size_t)t * stride, *pf = t + 1 == T ? next : NULL;
            if (tllm_use_vnni()) direct_vnni(w[0], rowBytes, type, K, xrow, pf, D + t * 8);
            else direct_avx2(w[0], rowBytes, type, K, xrow, pf, D + t * 8);
        }
        return;
    }
    // The same rows of the next block stream in while these are laid out and multiplied.
    for (size_t line = 0; line < (size_t)rows * rowBytes; line += 64) _mm_prefetch((const char *)next + line, _MM_HINT_T0);
#endif
    prepare_x8(w, rows, type, K, prep);
    x8_dots(prep, type, K, XQ, T, NULL, D);
}

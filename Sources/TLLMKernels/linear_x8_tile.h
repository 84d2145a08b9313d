// Included twice by linear_x8.c: the kernels of the canonical order stated there, compiled for
// X8F_ATTR, with X8F_CODE making the f vector of a slot. Weights are addressed as row blocks
// i0 … of a group of R, through x8_in_group (tllm_x8_layout.h): row block i0 + i's code vector g
// of column block b at base + b · bStride + code + g · gStride + 32i. X8F_TILE serves
// one token (decode): RB row blocks, read front to back as one stream, f vectors made as they are
// used. X8F_PREPARE +
// X8F_PANEL serve many on AVX2 (and a row block the AVX-512F pair tiles of linear_x8.c leave
// over): f vectors made once per row block into a panel, then RB row blocks × NT tokens read it. RB, NT and the weight kind are compile-time constants at every call, so the
// loops unroll, the block offsets are immediates and the accumulators stay in registers. D
// receives row block i, token t at D + i · ldd + 8t.

/// A row block's scale step for one column block: d, and m' (m for Q4_1, −8d for Q4_0, −128d for Q8_0).
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_SCALES(const uint8_t *blk, const int kind, __m256 *d, __m256 *m) {
    *d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
    *m = kind == KIND_Q4_1 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16)))
                           : _mm256_mul_ps(_mm256_set1_ps(kind == KIND_Q4_0 ? -8.0f : -128.0f), *d);
}

/// One step of slot iteration over a code vector: before Q4 slot 5 the dwords move down 12 bits,
/// before Q8 slot 2 down 16 (the codes still ahead then sit low enough to stay subnormal).
X8F_ATTR static inline __attribute__((always_inline)) __m256i X8F_ADVANCE(__m256i v, const int q8, const int n) {
    if (!q8 && n == 5) return _mm256_srli_epi32(v, 12);
    if (q8 && n == 2) return _mm256_srli_epi32(v, 16);
    return v;
}

/// Row blocks i0 … i0 + RB − 1 of a group of R against one token, the group read front to back.
/// A tile that reads its whole group asks for the column block a few blocks on to be brought into
/// L2 as it starts each one (x8_prefetch_ahead, decode_prefetch: linear_x8.c).
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_TILE(const uint8_t *restrict group, int R, int i0, const int kind, int64_t K, const float *restrict in,
         const int RB, int64_t ldd, float *restrict D) {
    const int q8 = kind == KIND_Q8_0;
    const int64_t nb = K / 32, hdr = header_bytes(kind);
    const int G = q8 ? 8 : 4, P = q8 ? 4 : 8;   // code vectors per block, slots per code vector
    const x8_place at = x8_in_group(group, kind_base(kind), R, i0);
    const float *xs = in, *S = in + K, *scale = S + nb;
    __m256 y[8];
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++) y[i] = _mm256_setzero_ps();
    // Prefetch only where the tile reads its whole group (then every line of a column block).
    const int ahead = R == RB && i0 == 0 ? atomic_load_explicit(&decode_prefetch, memory_order_relaxed) : 0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = at.base + b * at.bStride, *codes = blk + at.code;
        if (ahead) x8_prefetch_ahead(blk, at.bStride, ahead);
        __m256 F[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) F[i] = _mm256_setzero_ps();
#pragma clang loop unroll(full)
        for (int g = 0; g < G; g++) {
            __m256i v[8];
#pragma clang loop unroll(full)
            for (int i = 0; i < RB; i++) v[i] = _mm256_loadu_si256((const __m256i *)(codes + g * at.gStride + 32 * i));
#pragma clang loop unroll(full)
            for (int n = 0; n < P; n++) {
                const __m256 xb = _mm256_broadcast_ss(xs + 32 * b + P * g + n);
#pragma clang loop unroll(full)
                for (int i = 0; i < RB; i++) {
                    v[i] = X8F_ADVANCE(v[i], q8, n);
                    F[i] = _mm256_fmadd_ps(X8F_CODE(v[i], q8, n), xb, F[i]);
                }
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            __m256 d, m;
            X8F_SCALES(blk + at.header + hdr * i, kind, &d, &m);
            y[i] = _mm256_fmadd_ps(m, _mm256_broadcast_ss(S + b), _mm256_fmadd_ps(d, F[i], y[i]));
        }
    }
    const __m256 s1 = _mm256_broadcast_ss(scale), s2 = _mm256_broadcast_ss(scale + 1);
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++) _mm256_storeu_ps(D + i * ldd, _mm256_mul_ps(_mm256_mul_ps(y[i], s1), s2));
}

/// Row block i of a group of R laid out for X8F_PANEL: per column block, the 32 f vectors in slot
/// order, then d and m' (PANEL_FLOATS floats).
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_PREPARE(const uint8_t *group, int R, int i, const int kind, int64_t K, float *panel) {
    const int q8 = kind == KIND_Q8_0;
    const int64_t nb = K / 32;
    const int G = q8 ? 8 : 4, P = q8 ? 4 : 8;
    const x8_place at = x8_in_group(group, kind_base(kind), R, i);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = at.base + b * at.bStride;
        float *out = panel + b * PANEL_FLOATS;
#pragma clang loop unroll(full)
        for (int g = 0; g < G; g++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(blk + at.code + g * at.gStride));
#pragma clang loop unroll(full)
            for (int n = 0; n < P; n++) {
                v = X8F_ADVANCE(v, q8, n);
                _mm256_store_ps(out + 8 * (P * g + n), X8F_CODE(v, q8, n));
            }
        }
        __m256 d, m;
        X8F_SCALES(blk + at.header, kind, &d, &m);
        _mm256_store_ps(out + 256, d);
        _mm256_store_ps(out + 264, m);
    }
}

/// RB prepared row blocks (consecutive in `panel`) against NT prepared tokens (`in`, one
/// tllm_x8f_input_floats(1, K) apart); y lives in D between column blocks.
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_PANEL(const float *restrict panel, int64_t K, const float *restrict in, const int RB, const int NT, int64_t ldd,
          float *restrict D) {
    const int64_t nb = K / 32, ldin = input_floats(K);
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++)
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(D + i * ldd + 8 * t, _mm256_setzero_ps());
    for (int64_t b = 0; b < nb; b++) {
        __m256 F[4][6];
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++)
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) F[i][t] = _mm256_setzero_ps();
        for (int p = 0; p < 32; p++) {
            __m256 xb[6];
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) xb[t] = _mm256_broadcast_ss(in + t * ldin + 32 * b + p);
#pragma clang loop unroll(full)
            for (int i = 0; i < RB; i++) {
                const __m256 f = _mm256_load_ps(panel + (i * nb + b) * PANEL_FLOATS + 8 * p);
#pragma clang loop unroll(full)
                for (int t = 0; t < NT; t++) F[i][t] = _mm256_fmadd_ps(f, xb[t], F[i][t]);
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            const float *scales = panel + (i * nb + b) * PANEL_FLOATS + 256;
            const __m256 d = _mm256_load_ps(scales), m = _mm256_load_ps(scales + 8);
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) {
                float *y = D + i * ldd + 8 * t;
                __m256 v = _mm256_fmadd_ps(d, F[i][t], _mm256_loadu_ps(y));
                _mm256_storeu_ps(y, _mm256_fmadd_ps(m, _mm256_broadcast_ss(in + t * ldin + K + b), v));
            }
        }
    }
#pragma clang loop unroll(full)
    for (int t = 0; t < NT; t++) {
        const float *scale = in + t * ldin + K + nb;
        const __m256 s1 = _mm256_broadcast_ss(scale), s2 = _mm256_broadcast_ss(scale + 1);
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            float *y = D + i * ldd + 8 * t;
            _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(y), s1), s2));
        }
    }
}

#undef X8F_ATTR
#undef X8F_CODE
#undef X8F_SCALES
#undef X8F_ADVANCE
#undef X8F_TILE
#undef X8F_PREPARE
#undef X8F_PANEL

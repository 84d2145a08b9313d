// Included twice by linear_x8.c: defines X8F_TILE, one tile of RB row blocks × NT tokens of the
// canonical order stated there, compiled for X8F_ATTR with X8F_NIBBLE making each f vector; and
// X8F_PREPARE + X8F_PANEL, the same arithmetic for many tokens over f vectors made once.
// RB ≤ 8 and NT ≤ 4 are compile-time constants at every call, so the loops unroll and the
// accumulators stay in registers. `S` and `X` start at the tile's first token; D receives row
// block i, token t at D + i · ldd + 8t. `next` (may be NULL) is prefetched as the tile streams.

X8F_ATTR static inline __attribute__((always_inline)) void
X8F_TILE(const uint8_t *restrict run, size_t runBytes, const int q41, int64_t K, const float *restrict X, int64_t ldx,
         const float *restrict S, const int RB, const int NT, int64_t ldd, const uint8_t *next, float *restrict D) {
    const int64_t nb = K / 32, header = q41 ? 32 : 16, bytes = header + 128;
    const __m256 sixteen = _mm256_set1_ps(16.0f), minus24 = _mm256_set1_ps(-24.0f);
    __m256 y[8][4];
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++)
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) y[i][t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = run + b * bytes;
        if (next)
#pragma clang loop unroll(full)
            for (int i = 0; i < RB; i++)
                for (int64_t line = 0; line < bytes; line += 64)
                    _mm_prefetch((const char *)next + (size_t)i * runBytes + b * bytes + line, _MM_HINT_T0);
        __m256 F[8][4];
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++)
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) F[i][t] = _mm256_setzero_ps();
#pragma clang loop unroll(full)
        for (int g = 0; g < 4; g++) {
            __m256i v[8];
#pragma clang loop unroll(full)
            for (int i = 0; i < RB; i++) v[i] = _mm256_loadu_si256((const __m256i *)(blk + (size_t)i * runBytes + header + 32 * g));
#pragma clang loop unroll(full)
            for (int n = 0; n < 8; n++) {
                const int64_t e = 32 * b + 4 * g + n / 2 + 16 * (n % 2);
                __m256 xb[4];
#pragma clang loop unroll(full)
                for (int t = 0; t < NT; t++) xb[t] = _mm256_broadcast_ss(X + t * ldx + e);
#pragma clang loop unroll(full)
                for (int i = 0; i < RB; i++) {
                    const __m256 f = X8F_NIBBLE(v[i], n);
#pragma clang loop unroll(full)
                    for (int t = 0; t < NT; t++) F[i][t] = _mm256_fmadd_ps(f, xb[t], F[i][t]);
                }
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            const uint8_t *scales = blk + (size_t)i * runBytes;
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)scales));
            const __m256 c = q41 ? _mm256_fnmadd_ps(sixteen, d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + 16))))
                                 : _mm256_mul_ps(minus24, d);
            const __m256 d16 = _mm256_mul_ps(sixteen, d);
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) {
                y[i][t] = _mm256_fmadd_ps(d16, F[i][t], y[i][t]);
                y[i][t] = _mm256_fmadd_ps(c, _mm256_broadcast_ss(S + t * nb + b), y[i][t]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++)
#pragma clang loop unroll(full)
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(D + i * ldd + 8 * t, y[i][t]);
}

/// Lays out RB row blocks for X8F_PANEL: per row block and column block, the 32 f vectors in the
/// canonical order (g, then n), then 16·d and c (PANEL_FLOATS floats in all).
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_PREPARE(const uint8_t *run, size_t runBytes, const int q41, int64_t K, const int RB, float *panel) {
    const int64_t nb = K / 32, header = q41 ? 32 : 16, bytes = header + 128;
    const __m256 sixteen = _mm256_set1_ps(16.0f), minus24 = _mm256_set1_ps(-24.0f);
    for (int i = 0; i < RB; i++)
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *blk = run + (size_t)i * runBytes + b * bytes;
            float *out = panel + (i * nb + b) * PANEL_FLOATS;
#pragma clang loop unroll(full)
            for (int g = 0; g < 4; g++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + header + 32 * g));
#pragma clang loop unroll(full)
                for (int n = 0; n < 8; n++) _mm256_store_ps(out + 8 * (8 * g + n), X8F_NIBBLE(v, n));
            }
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
            const __m256 c = q41 ? _mm256_fnmadd_ps(sixteen, d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16))))
                                 : _mm256_mul_ps(minus24, d);
            _mm256_store_ps(out + 256, _mm256_mul_ps(sixteen, d));
            _mm256_store_ps(out + 264, c);
        }
}

/// X8F_TILE's arithmetic over a panel X8F_PREPARE laid out (RB row blocks at `panel`), for many
/// tokens: the f vectors are loaded instead of made, and y lives in D between column blocks.
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_PANEL(const float *restrict panel, int64_t K, const float *restrict X, int64_t ldx, const float *restrict S,
          const int RB, const int NT, int64_t ldd, float *restrict D) {
    const int64_t nb = K / 32;
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
        for (int g = 0; g < 4; g++)
#pragma clang loop unroll(full)
            for (int n = 0; n < 8; n++) {
                const int64_t e = 32 * b + 4 * g + n / 2 + 16 * (n % 2);
                __m256 xb[6];
#pragma clang loop unroll(full)
                for (int t = 0; t < NT; t++) xb[t] = _mm256_broadcast_ss(X + t * ldx + e);
#pragma clang loop unroll(full)
                for (int i = 0; i < RB; i++) {
                    const __m256 f = _mm256_load_ps(panel + (i * nb + b) * PANEL_FLOATS + 8 * (8 * g + n));
#pragma clang loop unroll(full)
                    for (int t = 0; t < NT; t++) F[i][t] = _mm256_fmadd_ps(f, xb[t], F[i][t]);
                }
            }
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            const float *scales = panel + (i * nb + b) * PANEL_FLOATS + 256;
            const __m256 d16 = _mm256_load_ps(scales), c = _mm256_load_ps(scales + 8);
#pragma clang loop unroll(full)
            for (int t = 0; t < NT; t++) {
                float *y = D + i * ldd + 8 * t;
                __m256 v = _mm256_fmadd_ps(d16, F[i][t], _mm256_loadu_ps(y));
                _mm256_storeu_ps(y, _mm256_fmadd_ps(c, _mm256_broadcast_ss(S + t * nb + b), v));
            }
        }
    }
}

#undef X8F_ATTR
#undef X8F_NIBBLE
#undef X8F_TILE
#undef X8F_PREPARE
#undef X8F_PANEL

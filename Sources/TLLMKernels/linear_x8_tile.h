// Included twice by linear_x8.c: the kernels of the canonical order stated there, compiled for
// X8F_ATTR with X8F_NIBBLE making each f vector. X8F_TILE serves one token (decode): RB row
// blocks, each its own weight stream, f vectors made as they are used. X8F_PREPARE + X8F_PANEL
// serve many: f vectors made once per row block into a panel, then RB row blocks × NT tokens
// read it. RB and NT are compile-time constants at every call, so the loops unroll and the
// accumulators stay in registers. D receives row block i, token t at D + i · ldd + 8t.

/// A row block's scale step for one column block: 16·d and c (fma(−16, d, m) for Q4_1, −24·d for Q4_0).
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_SCALES(const uint8_t *blk, const int q41, __m256 *d16, __m256 *c) {
    const __m256 sixteen = _mm256_set1_ps(16.0f);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk));
    *c = q41 ? _mm256_fnmadd_ps(sixteen, d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16))))
             : _mm256_mul_ps(_mm256_set1_ps(-24.0f), d);
    *d16 = _mm256_mul_ps(sixteen, d);
}

/// RB row blocks against one token; `next` (the following tile's weights) is prefetched meanwhile.
X8F_ATTR static inline __attribute__((always_inline)) void
X8F_TILE(const uint8_t *restrict run, size_t runBytes, const int q41, int64_t K, const float *restrict x,
         const float *restrict S, const int RB, const uint8_t *next, int64_t ldd, float *restrict D) {
    const int64_t nb = K / 32, header = q41 ? 32 : 16, bytes = header + 128;
    __m256 y[8];
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++) y[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = run + b * bytes;
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++)
            for (int64_t line = 0; line < bytes; line += 64)
                _mm_prefetch((const char *)next + (size_t)i * runBytes + b * bytes + line, _MM_HINT_T0);
        __m256 F[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) F[i] = _mm256_setzero_ps();
#pragma clang loop unroll(full)
        for (int g = 0; g < 4; g++) {
            __m256i v[8];
#pragma clang loop unroll(full)
            for (int i = 0; i < RB; i++) v[i] = _mm256_loadu_si256((const __m256i *)(blk + (size_t)i * runBytes + header + 32 * g));
#pragma clang loop unroll(full)
            for (int n = 0; n < 8; n++) {
                const __m256 xb = _mm256_broadcast_ss(x + 32 * b + 4 * g + n / 2 + 16 * (n % 2));
#pragma clang loop unroll(full)
                for (int i = 0; i < RB; i++) F[i] = _mm256_fmadd_ps(X8F_NIBBLE(v[i], n), xb, F[i]);
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < RB; i++) {
            __m256 d16, c;
            X8F_SCALES(blk + (size_t)i * runBytes, q41, &d16, &c);
            y[i] = _mm256_fmadd_ps(c, _mm256_broadcast_ss(S + b), _mm256_fmadd_ps(d16, F[i], y[i]));
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < RB; i++) _mm256_storeu_ps(D + i * ldd, y[i]);
}

/// One row block laid out for X8F_PANEL: per column block, the 32 f vectors in the canonical
/// order (g, then n), then 16·d and c (PANEL_FLOATS floats).
X8F_ATTR static void X8F_PREPARE(const uint8_t *run, const int q41, int64_t K, float *panel) {
    const int64_t nb = K / 32, header = q41 ? 32 : 16, bytes = header + 128;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = run + b * bytes;
        float *out = panel + b * PANEL_FLOATS;
#pragma clang loop unroll(full)
        for (int g = 0; g < 4; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + header + 32 * g));
#pragma clang loop unroll(full)
            for (int n = 0; n < 8; n++) _mm256_store_ps(out + 8 * (8 * g + n), X8F_NIBBLE(v, n));
        }
        __m256 d16, c;
        X8F_SCALES(blk, q41, &d16, &c);
        _mm256_store_ps(out + 256, d16);
        _mm256_store_ps(out + 264, c);
    }
}

/// RB prepared row blocks (consecutive in `panel`) against NT tokens; y lives in D between
/// column blocks.
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
#undef X8F_SCALES
#undef X8F_TILE
#undef X8F_PREPARE
#undef X8F_PANEL

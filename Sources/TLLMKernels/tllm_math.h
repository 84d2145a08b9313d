// Internal: the exponential and SiLU every kernel shares, as an AVX2 vector function and a scalar
// twin that performs the same IEEE operations lane for lane, so a value never depends on whether
// it fell in a vector body or a scalar tail, or on which kernel (fused or not) computed it.
#ifndef TLLM_MATH_H
#define TLLM_MATH_H
#include "dispatch.h"
#include <math.h>
#include <string.h>

// e^x for x ≤ 0: Cody–Waite range reduction and a degree-6 polynomial (about 1 ulp); below −87, 0.
#define TLLM_EXP_LOG2E 1.44269504088896341f
#define TLLM_EXP_C1 0.693359375f
#define TLLM_EXP_C2 (-2.12194440e-4f)

/// Scalar twin of tllm_exp_neg8.
static inline float tllm_exp_neg1(float x) {
    int under = x < -87.0f;
    x = fmaxf(x, -87.0f);
    float n = nearbyintf(x * TLLM_EXP_LOG2E);
    float r = fmaf(-n, TLLM_EXP_C1, x);
    r = fmaf(-n, TLLM_EXP_C2, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r + 1.0f);
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, 4);
    return under ? 0.0f : p * scale;
}

/// SiLU g · σ(g) with σ from e = exp(−|g|): 1 / (1 + e) for g ≥ 0, e / (1 + e) below — no overflow.
static inline float tllm_silu1(float g) {
    float e = tllm_exp_neg1(0.0f - fabsf(g));
    return (g * (g >= 0.0f ? 1.0f : e)) / (1.0f + e);
}

#if defined(__x86_64__)
TLLM_AVX2 static inline __m256 tllm_exp_neg8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.0f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(TLLM_EXP_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(TLLM_EXP_C1), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(TLLM_EXP_C2), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/// Vector twin of tllm_silu1.
TLLM_AVX2 static inline __m256 tllm_silu8(__m256 g) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 absg = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), g);
    __m256 e = tllm_exp_neg8(_mm256_sub_ps(zero, absg));
    __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(g, zero, _CMP_GE_OQ));
    return _mm256_div_ps(_mm256_mul_ps(g, num), _mm256_add_ps(one, e));
}
#endif
#endif

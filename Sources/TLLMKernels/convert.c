// Number formats: fp16/bf16 conversion and exact dequantization of GGUF blocks.
#include "dispatch.h"
#include "tllm_quant.h"
#include "tllm_blocks.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Forcing a narrower ISA is per thread (tests on other threads are unaffected), and a thread that
// forces one runs its parallel loops inline (pool.c) so every item sees the forced choice.
static _Thread_local int forced_scalar = 0;
static _Thread_local int forced_avx2 = 0;
static int detected = -1;

/// TLLM_ISA=scalar or TLLM_ISA=avx2 caps the kernels process-wide (benchmarks compare paths).
static int isa_cap(void) {
    const char *isa = getenv("TLLM_ISA");
    if (!isa) return 2;
    if (strcmp(isa, "scalar") == 0) return 0;
    if (strcmp(isa, "avx2") == 0) return 1;
    return 2;
}

int tllm_use_avx2(void) {
    if (forced_scalar) return 0;
    if (detected < 0) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        detected = isa_cap() >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
#else
        detected = 0;
#endif
    }
    return detected;
}

int tllm_isa_forced(void) { return forced_scalar || forced_avx2; }

static int detected512 = -1;

int tllm_use_avx512(void) {
    if (forced_avx2 || !tllm_use_avx2()) return 0;
    if (detected512 < 0) {
#if defined(__x86_64__)
        // The CPU must have AVX-512F/VL and the OS must save the upper register state (XCR0 bits
        // 5–7: opmask, ZMM0-15 upper halves, ZMM16-31).
        unsigned int lo = 0, hi = 0;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        detected512 = isa_cap() >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                      (lo & 0xE6) == 0xE6;
#else
        detected512 = 0;
#endif
    }
    return detected512;
}

static int detectedVNNI = -1;

int tllm_use_vnni(void) {
    if (!tllm_use_avx512()) return 0;
    if (detectedVNNI < 0) {
#if defined(__x86_64__)
        detectedVNNI = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
#else
        detectedVNNI = 0;
#endif
    }
    return detectedVNNI;
}

void tllm_force_scalar(int on) { forced_scalar = on; }
void tllm_force_avx2(int on) { forced_avx2 = on; }
const char *tllm_isa_name(void) {
    return tllm_use_avx512() ? "avx2+fma, avx512vl tiles" : tllm_use_avx2() ? "avx2+fma" : "scalar";
}

float *tllm_scratch(int slot, int64_t floats) {
    static _Thread_local float *buffers[7];
    static _Thread_local int64_t sizes[7];
    if (sizes[slot] < floats) {
        free(buffers[slot]);
        // Grow at least geometrically: attention's score rows lengthen by one position per decode
        // step, and growing to the exact size would reallocate on every step past the first 4096.
        int64_t grown = floats > 2 * sizes[slot] ? floats : 2 * sizes[slot];
        if (grown < 4096) grown = 4096;
        buffers[slot] = aligned_alloc(64, (size_t)((grown * 4 + 63) / 64 * 64));
        sizes[slot] = grown;
    }
    return buffers[slot];
}

float tllm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else {  // subnormal: normalise
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tllm_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

size_t tllm_row_bytes(tllm_wtype type, int64_t n) {
    switch (type) {
    case TLLM_F32: return (size_t)n * 4;
    case TLLM_F16: case TLLM_BF16: return (size_t)n * 2;
    case TLLM_Q4_0: return (size_t)(n / 32) * 18;
    case TLLM_Q4_1: case TLLM_Q4_1_X8: case TLLM_Q4_1_X8G: return (size_t)(n / 32) * 20;
    case TLLM_Q4_0_X8: case TLLM_Q4_0_X8G: return (size_t)(n / 32) * 18;
    case TLLM_Q8_0: case TLLM_Q8_0_X8: case TLLM_Q8_0_X8G: return (size_t)(n / 32) * 34;
    case TLLM_INT8_ROW: case TLLM_FP8_ROW: return 4 + (size_t)n;
    case TLLM_INT4_G32: case TLLM_INT4_G64: case TLLM_INT4_G128: {
        int64_t g = tllm_int4_group(type);
        return (size_t)(n / g) * (size_t)(4 + g / 2);
    }
    }
    return 0;
}

int64_t tllm_int4_group(tllm_wtype type) {
    return type == TLLM_INT4_G32 ? 32 : type == TLLM_INT4_G64 ? 64 : type == TLLM_INT4_G128 ? 128 : 0;
}

// FP8 E4M3 (OCP "FN" variant: bias 7, no infinities, S.1111.111 is NaN, largest finite 448).
static float fp8_table[256];
static pthread_once_t fp8_once = PTHREAD_ONCE_INIT;

static void fp8_init(void) {
    for (int c = 0; c < 256; c++) {
        int e = (c >> 3) & 15, m = c & 7;
        float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
        if ((c & 0x7f) == 0x7f) v = NAN;
        fp8_table[c] = (c & 0x80) ? -v : v;
    }
}

const float *tllm_fp8_table(void) {
    pthread_once(&fp8_once, fp8_init);
    return fp8_table;
}

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static void dequantize_scalar(tllm_wtype type, const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    switch (type) {
    case TLLM_F32: memcpy(dst, src, (size_t)n * 4); break;
    case TLLM_F16: for (int64_t i = 0; i < n; i++) dst[i] = tllm_f16_to_f32(load_u16(p + 2 * i)); break;
    case TLLM_BF16:
        for (int64_t i = 0; i < n; i++) { uint32_t b = (uint32_t)load_u16(p + 2 * i) << 16; memcpy(dst + i, &b, 4); }
        break;
    case TLLM_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, p += 18) {
            float d = tllm_f16_to_f32(load_u16(p));
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = d * (float)((p[2 + j] & 0x0f) - 8);
                dst[b * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
            }
        }
        break;
    case TLLM_Q4_1:
        for (int64_t b = 0; b < n / 32; b++, p += 20) {
            float d = tllm_f16_to_f32(load_u16(p)), m = tllm_f16_to_f32(load_u16(p + 2));
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = fmaf(d, (float)(p[4 + j] & 0x0f), m);
                dst[b * 32 + j + 16] = fmaf(d, (float)(p[4 + j] >> 4), m);
            }
        }
        break;
    case TLLM_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, p += 34) {
            float d = tllm_f16_to_f32(load_u16(p));
            for (int j = 0; j < 32; j++) dst[b * 32 + j] = d * (float)(int8_t)p[2 + j];
        }
        break;
    case TLLM_Q4_0_X8: case TLLM_Q4_1_X8: case TLLM_Q8_0_X8:
    case TLLM_Q4_0_X8G: case TLLM_Q4_1_X8G: case TLLM_Q8_0_X8G:
        // An interleaved row is spread over its 8-row block: read it with tllm_matrix_row (or
        // tllm_unpack_x8 the matrix). NaN, so a caller that forgot cannot mistake the output for weights.
        for (int64_t i = 0; i < n; i++) dst[i] = NAN;
        break;
    case TLLM_INT8_ROW: {
        float s;
        memcpy(&s, p, 4);
        for (int64_t i = 0; i < n; i++) dst[i] = s * (float)(int8_t)p[4 + i];
        break;
    }
    case TLLM_FP8_ROW: {
        float s;
        memcpy(&s, p, 4);
        const float *lut = tllm_fp8_table();
        for (int64_t i = 0; i < n; i++) dst[i] = s * lut[p[4 + i]];
        break;
    }
    case TLLM_INT4_G32: case TLLM_INT4_G64: case TLLM_INT4_G128: {
        int64_t g = tllm_int4_group(type), half = g / 2;
        for (int64_t b = 0; b < n / g; b++, p += 4 + half) {
            float d = tllm_f16_to_f32(load_u16(p)), m = tllm_f16_to_f32(load_u16(p + 2));
            for (int64_t j = 0; j < half; j++) {
                float lo = d * (float)(p[4 + j] & 0x0f), hi = d * (float)(p[4 + j] >> 4);
                dst[b * g + j] = lo + m;
                dst[b * g + j + half] = hi + m;
            }
        }
        break;
    }
    }
}

#if defined(__x86_64__)
// Same arithmetic as the scalar path (GGUF blocks: tllm_blocks.h; int4 groups: a product, then a
// separate add): bit-identical output.
TLLM_AVX2 static void dequantize_avx2(tllm_wtype type, const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    switch (type) {
    case TLLM_F16: {
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
        for (; i < n; i++) dst[i] = tllm_f16_to_f32(load_u16(p + 2 * i));
        break;
    }
    case TLLM_Q4_1: case TLLM_Q4_0: case TLLM_Q8_0: {
        size_t bytes = type == TLLM_Q4_1 ? 20 : type == TLLM_Q4_0 ? 18 : 34;
        for (int64_t b = 0; b < n / 32; b++, p += bytes) {
            __m256 w[4];
            if (type == TLLM_Q4_1) tllm_q4_1_block(p, w);
            else if (type == TLLM_Q4_0) tllm_q4_0_block(p, w);
            else tllm_q8_0_block(p, w);
            for (int k = 0; k < 4; k++) _mm256_storeu_ps(dst + b * 32 + k * 8, w[k]);
        }
        break;
    }
    case TLLM_INT8_ROW: {
        float s;
        memcpy(&s, p, 4);
        __m256 vs = _mm256_set1_ps(s);
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m128i q = _mm_loadl_epi64((const __m128i *)(p + 4 + i));
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(vs, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
        for (; i < n; i++) dst[i] = s * (float)(int8_t)p[4 + i];
        break;
    }
    case TLLM_INT4_G32: case TLLM_INT4_G64: case TLLM_INT4_G128: {
        int64_t g = tllm_int4_group(type), half = g / 2;
        for (int64_t b = 0; b < n / g; b++, p += 4 + half) {
            __m256 d = tllm_splat_f16(p), m = tllm_splat_f16(p + 2);
            for (int64_t c = 0; c < half; c += 16) {
                __m128i q = _mm_loadu_si128((const __m128i *)(p + 4 + c));
                __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0f));
                __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f));
                float *out_lo = dst + b * g + c, *out_hi = dst + b * g + half + c;
                __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
                float *outs[4] = {out_lo, out_lo + 8, out_hi, out_hi + 8};
                for (int k = 0; k < 4; k++) {
                    __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
                    _mm256_storeu_ps(outs[k], _mm256_add_ps(_mm256_mul_ps(d, v), m));
                }
            }
        }
        break;
    }
    case TLLM_FP8_ROW: {
        float s;
        memcpy(&s, p, 4);
        const float *lut = tllm_fp8_table();
        __m256 vs = _mm256_set1_ps(s);
        int64_t i = 0;
        // E4M3 → float32 by bit arithmetic (exactly the table's values): normals shift exponent and
        // mantissa into place and rebias (127 − 7); subnormals are m · 2^-9; 0x7f is NaN.
        const __m256i lowBits = _mm256_set1_epi32(0x7f), rebias = _mm256_set1_epi32(120 << 23);
        const __m256 subScale = _mm256_set1_ps(1.0f / 512.0f), nan = _mm256_set1_ps(NAN);
        for (; i + 8 <= n; i += 8) {
            __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 4 + i)));
            __m256i em = _mm256_and_si256(x, lowBits);
            __m256i sign = _mm256_slli_epi32(_mm256_andnot_si256(lowBits, x), 24);
            __m256 normal = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(em, 20), rebias));
            __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(em), subScale);
            __m256 isSub = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), em));
            __m256 isNaN = _mm256_castsi256_ps(_mm256_cmpeq_epi32(em, lowBits));
            __m256 v = _mm256_blendv_ps(_mm256_blendv_ps(normal, sub, isSub), nan, isNaN);
            v = _mm256_or_ps(v, _mm256_castsi256_ps(sign));
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(vs, v));
        }
        for (; i < n; i++) dst[i] = s * lut[p[4 + i]];
        break;
    }
    default: dequantize_scalar(type, src, dst, n); break;
    }
}
#endif

void tllm_dequantize_row(tllm_wtype type, const void *src, float *dst, int64_t n) {
#if defined(__x86_64__)
    if (tllm_use_avx2()) { dequantize_avx2(type, src, dst, n); return; }
#endif
    dequantize_scalar(type, src, dst, n);
}

// TLLMKernels, build side: weight quantization formats, calibration loss, checksums, int8 KV cache.
// Knows floats, bytes and blocks, nothing about models.
#ifndef TLLM_QUANT_H
#define TLLM_QUANT_H

#include "tllm_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- Engine weight formats ------------------------------------------------------------------
//
// TLLM_INT8_ROW: a row of n values is [f32 scale][n × int8 q]; x = scale * q (symmetric, |q| ≤ 127).
// TLLM_FP8_ROW:  a row is [f32 scale][n × E4M3 byte]; x = scale * e4m3(q) (largest |e4m3| = 448).
// TLLM_INT4_G*:  a row is n / G groups of [f16 d][f16 m][G/2 bytes]; byte j holds element j in its
//                low nibble and element j + G/2 in its high nibble; x = d * q + m, q in 0...15.
//                (With G = 32 this is exactly GGUF's Q4_1 block.)

/// Group size of an int4 type (32, 64 or 128), or 0 for any other type.
int64_t tllm_int4_group(tllm_wtype type);
/// The 256 values of FP8 E4M3 (index 0x7f and 0xff are NaN).
const float *tllm_fp8_table(void);
/// The E4M3 code nearest to `x` (ties to even), saturating at ±448.
uint8_t tllm_f32_to_fp8_e4m3(float x);

/// Quantizes `rows` rows of `n` floats into `type` (INT8_ROW, FP8_ROW or INT4_G*), parallel over
/// rows; `dst` receives rows × tllm_row_bytes(type, n) bytes. Deterministic: depends only on the input.
void tllm_quantize_rows(tllm_wtype type, const float *src, int64_t rows, int64_t n, void *dst);

/// Activation-aware scaling loss (AWQ): for each row w of W (N × K), quantizes w ⊙ s to int4 with
/// group size `group`, dequantizes and divides by s, and sums the squared errors of the products
/// with the `samples` rows of X (samples × K): Σ_rows Σ_t ((Q(w⊙s)/s − w) · x_t)². Reduction order
/// is fixed (per row, then rows in order), so the result does not depend on the thread count.
double tllm_awq_loss(const float *W, int64_t N, int64_t K, const float *s, int64_t group,
                     const float *X, int64_t samples);

/// W[r, k] *= s[k] for an N × K matrix (columns scaled), in place.
void tllm_scale_columns(float *W, int64_t N, int64_t K, const float *s);
/// W[r, k] *= s[r] for an N × K matrix (rows scaled), in place.
void tllm_scale_rows(float *W, int64_t N, int64_t K, const float *s);

// ---- Checksums ------------------------------------------------------------------------------

/// CRC-32C (Castagnoli) of `n` bytes continuing from `crc` (start with 0). SSE4.2 when available,
/// a table otherwise; both give the same value.
uint32_t tllm_crc32c(uint32_t crc, const void *data, size_t n);
/// CRC-32C of `count` independent buffers, computed in parallel on the pool.
void tllm_crc32c_many(const void *const *data, const size_t *lengths, int64_t count, uint32_t *out);

// ---- int8 KV cache --------------------------------------------------------------------------
//
// Per layer: codes (slots, kvDim) int8 and scales (slots, kvDim / 32) f32. Every 32 consecutive
// values of one token's key (or value) row form a block with its own scale = amax / 127, so what a
// token stores never depends on any other token (batch invariance). kvDim must be a multiple of 32.

/// Quantizes and writes the K and V rows of T tokens to their slots.
void tllm_kv_write_i8(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T, int64_t kvDim,
                      const int64_t *slots, int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales);

/// tllm_paged_attention over an int8 cache (same arguments, codes and scales instead of floats).
void tllm_paged_attention_i8(const float *q, int64_t ldq, int64_t T,
                             int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                             const int8_t *kCodes, const float *kScales, const int8_t *vCodes, const float *vScales,
                             int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                             const int32_t *seq, const int32_t *pos, float *out, int64_t ldo);

#ifdef __cplusplus
}
#endif
#endif

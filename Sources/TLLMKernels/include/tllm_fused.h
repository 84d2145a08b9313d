// TLLMKernels, plugin side: the fused kernels behind the built-in plugins. Each output element is
// computed the same way whatever the batch size (batch invariance), and in the same arithmetic
// as the unfused ops, so a graph gives the same numbers with plugins on or off.
#ifndef TLLM_FUSED_H
#define TLLM_FUSED_H

#include "tllm_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Activation applied in a GEMM epilogue.
typedef enum { TLLM_ACT_NONE = 0, TLLM_ACT_GELU = 1, TLLM_ACT_SILU = 2 } tllm_activation;

/// How a linear's input enters its dot products.
typedef enum {
    /// float32, exactly as given (the default; the batch-invariant float32 arithmetic).
    TLLM_INPUT_F32 = 0,
    /// Quantized per 32 values to int8 with a float scale (llama.cpp's q8_1), then integer dot
    /// products with Q4_0/Q4_1/Q8_0 weights (W4A8): faster, less accurate, still batch-invariant.
    /// Other weight types, or K not a multiple of 32, keep float32.
    TLLM_INPUT_Q8 = 1,
} tllm_input_type;

/// Y[t, r] = R[t, r] + act(dot(W[r, :], X[t, :]) + bias[r]); bias and R may be NULL.
void tllm_linear_fused(const void *W, tllm_wtype wtype, int64_t N, int64_t K,
                       const float *X, int64_t ldx, int64_t T, tllm_input_type input,
                       const float *bias, tllm_activation act, const float *R, int64_t ldr, float *Y, int64_t ldy);

/// The gated MLP's first half in one pass: out[t, r] = silu(X·Wgᵀ + bg)[t, r] * (X·Wuᵀ + bu)[t, r].
void tllm_gated_linear(const void *Wg, tllm_wtype tg, const void *Wu, tllm_wtype tu, int64_t N, int64_t K,
                       const float *X, int64_t ldx, int64_t T, tllm_input_type input,
                       const float *bg, const float *bu, float *out, int64_t ldo);

/// out[t] = tok[ids[t]] (+ pos[positions[t]] when pos is not NULL); tables of tokRows and posRows
/// rows of `dim` elements.
void tllm_embedding_fused(const void *tok, tllm_wtype tokType, int64_t tokRows, const void *pos, tllm_wtype posType,
                          int64_t posRows, int64_t dim, const int32_t *ids, const int32_t *positions, int64_t T,
                          float *out, int64_t ldo);

/// RMSNorm over strided rows, parallel over rows, vectorized scaling.
void tllm_rmsnorm_rows(const float *x, int64_t ldx, const float *w, float eps, int64_t T, int64_t dim,
                       float *y, int64_t ldy);

/// GELU (tanh approximation) over strided rows, parallel over rows.
void tllm_gelu_rows(const float *x, int64_t ldx, int64_t T, int64_t n, float *out, int64_t ldo);

/// The gpt_attention_plugin analogue: rotary embedding of q and k (when ropeDim > 0), writing the
/// rotated keys and the values into the paged cache (float32, or int8 when kCodes is not NULL), and
/// causal attention over it, in one call. Float cache: kCache/vCache; int8 cache: codes and scales.
void tllm_rope_attention(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                         int64_t T, int64_t heads, int64_t kvHeads, int64_t headDim,
                         int64_t ropeDim, double theta, int neox, float scale,
                         float *kCache, float *vCache,
                         int8_t *kCodes, float *kScales, int8_t *vCodes, float *vScales,
                         const int64_t *slots, int64_t tokensPerBlock, const int32_t *blockTables, int64_t maxBlocks,
                         const int32_t *seq, const int32_t *pos, float *out, int64_t ldo);

#ifdef __cplusplus
}
#endif
#endif

// Internal: linears with int8 activations (linear_q8.c), used by linear.c when a caller asks for
// TLLM_INPUT_Q8.
#ifndef TLLM_Q8_H
#define TLLM_Q8_H
#include "tllm_kernels.h"

/// Weight formats with an int8-activation kernel (Q4_0, Q4_1, Q8_0 and their 8-row interleaved forms).
int tllm_q8_supports(tllm_wtype type);
/// Bytes of one quantized activation row of K values (K a multiple of 32).
size_t tllm_q8_row_bytes(int64_t K);
/// Quantizes T rows of K floats (row stride ldx) into T rows of tllm_q8_row_bytes(K) at `dst`.
void tllm_q8_quantize(const float *X, int64_t ldx, int64_t T, int64_t K, uint8_t *dst);
/// Bytes of the laid-out weights of one 8-row block (the `prep` scratch).
size_t tllm_q8_prep_bytes(int64_t K);
/// D[t * 8 + r] = row r0 + r of W against quantized token t, in the canonical order of
/// linear_q8.c, for r < rows ≤ 8 and t < T. `prep` holds tllm_q8_prep_bytes(K), 64-byte aligned.
void tllm_q8_block_dots(const uint8_t *W, tllm_wtype type, size_t rowBytes, int64_t K, int64_t r0, int rows,
                        const uint8_t *XQ, int64_t T, uint8_t *prep, float *D);
#endif

// Internal: linears with float32 inputs over the 8-row interleaved Q4 types (linear_x8.c), used
// by linear.c.
#ifndef TLLM_X8_H
#define TLLM_X8_H
#include "tllm_kernels.h"

/// Weight formats the float32 x8 kernel multiplies (Q4_0_X8, Q4_1_X8).
int tllm_x8f_supports(tllm_wtype type);
/// The input block sums the kernel's canonical order uses: S[t · (K/32) + b] for T rows of K
/// floats (row stride ldx; K a multiple of 32).
void tllm_x8f_block_sums(const float *X, int64_t ldx, int64_t T, int64_t K, float *S);
/// Floats of the scratch tllm_x8f_dots needs for rows of K.
size_t tllm_x8f_scratch_floats(int64_t K);
/// Row blocks [blk0, blk0 + nblk) of W (8 rows each) against T tokens, in the canonical order of
/// linear_x8.c: row r of block blk0 + i, token t lands at D[i · 8T + 8t + r]. `scratch`: 64-byte
/// aligned, tllm_x8f_scratch_floats(K) floats.
void tllm_x8f_dots(const uint8_t *W, tllm_wtype type, int64_t K, int64_t blk0, int nblk, const float *X, int64_t ldx,
                   const float *S, int64_t T, float *scratch, float *D);
#endif

// Internal: linears with float32 inputs over the grouped 8-row interleaved GGUF types (linear_x8.c), used
// by linear.c.
#ifndef TLLM_X8_H
#define TLLM_X8_H
#include "tllm_kernels.h"

/// Weight formats the float32 x8 kernel multiplies (Q4_0_X8G, Q4_1_X8G, Q8_0_X8G).
int tllm_x8f_supports(tllm_wtype type);
/// Whether two supported formats read the same prepared input (the Q4 types share one order of
/// the input's columns; Q8_0 has its own).
int tllm_x8f_same_input(tllm_wtype a, tllm_wtype b);
/// Floats of the prepared input of T rows of K.
size_t tllm_x8f_input_floats(int64_t T, int64_t K);
/// Prepares T rows of K floats (row stride ldx, K a multiple of 32) for tllm_x8f_dots over
/// weights of `type`: each row's inputs scaled and reordered, its block sums, its output scale
/// (linear_x8.c). `in`: tllm_x8f_input_floats(T, K) floats.
void tllm_x8f_prepare(tllm_wtype type, const float *X, int64_t ldx, int64_t T, int64_t K, float *in);
/// Floats of the scratch tllm_x8f_dots needs for rows of K.
size_t tllm_x8f_scratch_floats(int64_t K);
/// Row blocks [blk0, blk0 + nblk) of W (N rows of K, 8 rows a block) against the T prepared rows
/// `in`, in the canonical order of linear_x8.c: row r of block blk0 + i, token t lands at
/// D[i · 8T + 8t + r]. `scratch`: 64-byte aligned, tllm_x8f_scratch_floats(K) floats.
void tllm_x8f_dots(const uint8_t *W, tllm_wtype type, int64_t N, int64_t K, int64_t blk0, int nblk, const float *in,
                   int64_t T, float *scratch, float *D);
#endif

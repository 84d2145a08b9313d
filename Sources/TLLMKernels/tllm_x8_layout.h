// Internal: where one row block's bytes lie in the 8-row interleaved layouts (TLLM_Q4_0_X8, … and
// the grouped TLLM_Q4_0_X8G, …; tllm_kernels.h states them), shared by the code that writes them
// (linear_q8.c) and every kernel that reads them (linear_q8.c, linear_x8.c).
#ifndef TLLM_X8_LAYOUT_H
#define TLLM_X8_LAYOUT_H
#include "tllm_kernels.h"

/// Row blocks (of 8 rows) per group; the last group of a matrix may hold fewer.
#define X8_GROUP 8

/// A row block's place: its column block b starts at base + b · bStride; there, its code vector
/// g (32 bytes) lies at + code + g · gStride and its scale header (8 fp16 d, then for Q4_1 the 8
/// fp16 m) at + header.
typedef struct {
    const uint8_t *base;
    int64_t bStride, gStride, code, header;
} x8_place;

/// Whether `type` is one of the grouped layouts (TLLM_Q4_0_X8G, TLLM_Q4_1_X8G, TLLM_Q8_0_X8G).
static inline int x8_grouped(tllm_wtype type) {
    return type == TLLM_Q4_0_X8G || type == TLLM_Q4_1_X8G || type == TLLM_Q8_0_X8G;
}

/// Bytes of a row block's scale header, code vectors per column block, bytes per column block.
static inline int64_t x8_header_bytes(tllm_wtype base) { return base == TLLM_Q4_1 ? 32 : 16; }
static inline int x8_code_vectors(tllm_wtype base) { return base == TLLM_Q8_0 ? 8 : 4; }
static inline int64_t x8_block_bytes(tllm_wtype base) { return x8_header_bytes(base) + 32 * x8_code_vectors(base); }

/// An _X8 row block whose run of column blocks starts at `run`: each column block its scale
/// header, then its code vectors.
static inline x8_place x8_run(const uint8_t *run, tllm_wtype base) {
    return (x8_place){run, x8_block_bytes(base), 32, x8_header_bytes(base), 0};
}

/// Row block i of a group of R (its first byte at `group`): a group stores its column blocks one
/// after another, each as code vector 0 of row blocks 0 … R−1, then vector 1 of each, …, then the
/// R scale headers — the order the kernels read them, so a group streams front to back.
static inline x8_place x8_in_group(const uint8_t *group, tllm_wtype base, int R, int i) {
    const int64_t bytes = x8_block_bytes(base);
    return (x8_place){group, R * bytes, 32 * (int64_t)R, 32 * (int64_t)i,
                      32 * (int64_t)R * x8_code_vectors(base) + x8_header_bytes(base) * i};
}

/// The first byte of group s of a matrix of K columns, and how many row blocks it holds out of
/// `blocks` in all.
static inline const uint8_t *x8_group(const uint8_t *W, tllm_wtype base, int64_t K, int64_t s) {
    return W + (size_t)(s * X8_GROUP * (K / 32) * x8_block_bytes(base));
}
static inline int x8_group_size(int64_t blocks, int64_t s) {
    const int64_t left = blocks - s * X8_GROUP;
    return (int)(left < X8_GROUP ? left : X8_GROUP);
}

/// Row block r of a matrix of `blocks` row blocks of K columns.
static inline x8_place x8_row_block(const uint8_t *W, tllm_wtype base, int64_t K, int64_t blocks, int64_t r) {
    const int64_t s = r / X8_GROUP;
    return x8_in_group(x8_group(W, base, K, s), base, x8_group_size(blocks, s), (int)(r % X8_GROUP));
}
#endif

// TLLMKernels: the hot loops in C, chosen at run time by CPU feature. Knows floats and blocks, not models.
#ifndef TLLM_KERNELS_H
#define TLLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Weight storage types understood by the kernels (same order as Swift's DType raw mapping).
typedef enum {
    TLLM_F32 = 0,
    TLLM_F16 = 1,
    TLLM_BF16 = 2,
    TLLM_Q4_0 = 3,
    TLLM_Q4_1 = 4,
    TLLM_Q8_0 = 5,
    /// Engine quantization formats (see tllm_quant.h): int8 with one f32 scale per row,
    TLLM_INT8_ROW = 6,
    /// int4 in groups of 32/64/128 (f16 scale, f16 minimum, packed nibbles),
    TLLM_INT4_G32 = 7,
    TLLM_INT4_G64 = 8,
    TLLM_INT4_G128 = 9,
    /// FP8 E4M3 with one f32 scale per row.
    TLLM_FP8_ROW = 10,
    /// GGUF Q4_0 / Q4_1 / Q8_0 blocks of 8 rows interleaved, the layout the linear kernels stream
    /// best: per 8-row block and 32 columns, the 8 fp16 d (then for Q4_1 the 8 fp16 m), then the
    /// codes: for Q4, 128 bytes where byte 32g + 4r + j is nibble byte 4g + j of row r's GGUF block
    /// (g < 4); for Q8_0, 256 bytes where byte 32g + 4r + j is code 4g + j of row r (g < 8); j < 4.
    /// Same size as the GGUF rows; the row count must be a multiple of 8. The layout the int8-input
    /// kernels stream best (TLLM_INPUT_Q8, see tllm_fused.h); single rows read out with
    /// tllm_matrix_row.
    TLLM_Q4_0_X8 = 11,
    TLLM_Q4_1_X8 = 12,
    TLLM_Q8_0_X8 = 13,
    /// The same 8-row blocks, grouped: the layout the float32-input kernels stream best. Row blocks
    /// come in groups of 8 (the last may hold fewer, R); a group stores its column blocks one
    /// after another, each R · (18, 20 or 34) · 8 bytes in the order the kernels read them: code
    /// vector 0 (the 32 bytes at `header + 32g` above, g = 0) of row blocks 0 … R−1, then vector 1
    /// of each, …, then the R scale headers. So a kernel covering a group reads it front to back.
    /// Q8_0_X8G stores each code biased, q + 128 as an unsigned byte (the top bit flipped), so the
    /// float32 kernel turns it into a float with one `and`. Same size as the GGUF rows; the row
    /// count must be a multiple of 8.
    TLLM_Q4_0_X8G = 14,
    TLLM_Q4_1_X8G = 15,
    TLLM_Q8_0_X8G = 16,
} tllm_wtype;

// ---- CPU features and threads -------------------------------------------------------------

/// Names the instruction set the kernels dispatched to: "avx2+fma, avx512vl tiles", "avx2+fma"
/// or "scalar".
const char *tllm_isa_name(void);
/// Forces the scalar kernels on the calling thread (for tests comparing paths; its parallel loops
/// then run inline); 0 restores run-time detection. TLLM_ISA=scalar does it process-wide.
void tllm_force_scalar(int on);
/// Forces the AVX2 GEMM tiles where AVX-512VL ones would run, on the calling thread (for tests:
/// results must not change). TLLM_ISA=avx2 does it process-wide.
void tllm_force_avx2(int on);
/// Threads in the process-wide pool (TLLM_NUM_THREADS, else the online CPU count).
int tllm_num_threads(void);
/// Column blocks ahead that the float32 decode tiles prefetch into L2 (default 4; 0 turns it off),
/// process-wide. Never changes results; for benchmarks comparing settings (`bench-speed --ab-prefetch`).
void tllm_set_decode_prefetch(int columnBlocks);
/// The current setting of tllm_set_decode_prefetch.
int tllm_decode_prefetch(void);

/// A unit of parallel work: process items [begin, end) on pool thread `thread`.
typedef void (*tllm_task_fn)(void *ctx, int64_t begin, int64_t end, int thread);
/// Splits [0, n) into fixed contiguous chunks (up to 4 per thread; the boundaries depend only on
/// n and the pool size) that the persistent pool's threads claim as they go; returns when all
/// are done. Nested or concurrent calls run the same chunks inline on the caller, so results
/// never depend on who else is running or which thread ran what.
void tllm_parallel_for(int64_t n, tllm_task_fn fn, void *ctx);

// ---- Conversions ----------------------------------------------------------------------------

float tllm_f16_to_f32(uint16_t h);
uint16_t tllm_f32_to_f16(float f);
/// Dequantizes `n` elements (a multiple of the type's block size) of one row into `dst`, exactly.
void tllm_dequantize_row(tllm_wtype type, const void *src, float *dst, int64_t n);
/// Bytes one row of `n` elements takes (for the 8-row interleaved types: an eighth of a row block).
size_t tllm_row_bytes(tllm_wtype type, int64_t n);

/// The GGUF type an 8-row interleaved type was made from (Q4_0, Q4_1 or Q8_0), or `type` itself.
tllm_wtype tllm_x8_base(tllm_wtype type);
/// Interleaves N rows (a multiple of 8) of K columns of GGUF Q4_0, Q4_1 or Q8_0 into its _X8 type.
void tllm_repack_x8(tllm_wtype base, const void *src, int64_t N, int64_t K, void *dst);
/// The same into its grouped _X8G type.
void tllm_repack_x8g(tllm_wtype base, const void *src, int64_t N, int64_t K, void *dst);
/// The inverse of tllm_repack_x8 and tllm_repack_x8g: `type` is an _X8 or _X8G type, `dst`
/// receives GGUF rows.
void tllm_unpack_x8(tllm_wtype type, const void *src, int64_t N, int64_t K, void *dst);
/// Flips the top bit of every code of a Q8_0_X8G matrix (N rows of K) in place: turns the plain
/// codes q that engine files of format version 1 hold into the biased q + 128 stored now.
void tllm_q8_0_x8g_flip_codes(void *W, int64_t N, int64_t K);
/// Row `row` of a matrix of N rows of K elements in `type`, interleaved types included,
/// dequantized exactly into dst (an embedding lookup).
void tllm_matrix_row(const void *W, tllm_wtype type, int64_t N, int64_t K, int64_t row, float *dst);

// ---- Dense math -----------------------------------------------------------------------------

/// Dot product with a fixed summation order that depends only on `n`.
float tllm_dot(const float *a, const float *b, int64_t n);

/// Y[t, r] = dot(W[r, :], X[t, :]) (+ bias[r]) for t < T, r < N.
/// W holds N rows of K elements of `wtype`; X is (T, K) with row stride ldx; Y is (T, N) with
/// row stride ldy. Each output element is computed the same way whatever T is (batch invariance).
void tllm_linear(const void *W, tllm_wtype wtype, int64_t N, int64_t K,
                 const float *X, int64_t ldx, int64_t T,
                 const float *bias, float *Y, int64_t ldy);

/// Y = X·Wᵀ (+ bias) for float32 weights through cblas_sgemm, split over output columns on the pool.
void tllm_linear_f32_blas(const float *W, int64_t N, int64_t K,
                          const float *X, int64_t ldx, int64_t T,
                          const float *bias, float *Y, int64_t ldy);

/// out[t] = W[ids[t]] dequantized; W has `rows` rows of `dim` elements.
void tllm_embedding(const void *W, tllm_wtype wtype, int64_t rows, int64_t dim,
                    const int32_t *ids, int64_t T, float *out);

/// RMSNorm per row: y = x / sqrt(mean(x²) + eps) * w.
void tllm_rmsnorm(const float *x, const float *w, float eps, int64_t T, int64_t dim, float *y);
/// LayerNorm per row: y = (x - mean) / sqrt(var + eps) * w + b.
void tllm_layernorm(const float *x, const float *w, const float *b, float eps,
                    int64_t T, int64_t dim, float *y);

/// Rotary position embedding in place on (T, heads, headDim) with row stride `ld`.
/// neox = 0: adjacent pairs (2i, 2i+1), GGUF's "normal" Llama convention; 1: halves (i, i+d/2).
void tllm_rope(float *x, int64_t ld, int64_t T, int64_t heads, int64_t headDim, int64_t ropeDim,
               const int32_t *positions, double theta, int neox);

/// out = silu(gate) * up, elementwise over (T, n) with strides.
void tllm_silu_mul(const float *gate, int64_t ldg, const float *up, int64_t ldu,
                   int64_t T, int64_t n, float *out, int64_t ldo);
/// out = silu(x) elementwise.
void tllm_silu(const float *x, int64_t n, float *out);
/// out = a * b elementwise.
void tllm_mul(const float *a, const float *b, int64_t n, float *out);
/// out = gelu(x) (tanh approximation, GPT-2's "gelu_new").
void tllm_gelu(const float *x, int64_t n, float *out);
/// out = a + b.
void tllm_add(const float *a, const float *b, int64_t n, float *out);

// ---- Paged KV cache and attention -----------------------------------------------------------

/// Writes the K and V rows of T tokens into the paged cache: token t goes to slot slots[t]
/// (block * tokensPerBlock + offset). Cache layout per layer: (numSlots, kvDim).
void tllm_kv_write(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t T,
                   int64_t kvDim, const int64_t *slots, float *kCache, float *vCache);

/// Causal attention of T packed query tokens over the paged cache (grouped-query).
/// q: (T, heads*headDim) with row stride ldq; token t belongs to sequence seq[t] and sits at
/// position pos[t]; it attends to positions 0...pos[t] of its sequence, found through
/// blockTables[seq[t] * maxBlocks + p / tokensPerBlock]. out: (T, heads*headDim).
void tllm_paged_attention(const float *q, int64_t ldq, int64_t T,
                          int64_t heads, int64_t kvHeads, int64_t headDim, float scale,
                          const float *kCache, const float *vCache, int64_t tokensPerBlock,
                          const int32_t *blockTables, int64_t maxBlocks,
                          const int32_t *seq, const int32_t *pos, float *out, int64_t ldo);

#ifdef __cplusplus
}
#endif
#endif

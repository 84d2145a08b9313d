// Internal: the one attention core shared by every attention entry point (attention.c).
#ifndef TLLM_ATTENTION_H
#define TLLM_ATTENTION_H
#include "tllm_kernels.h"

/// Values per int8 KV-cache scale.
#define TLLM_KV_QBLOCK 32

/// One attention call: T query tokens, each attending to its own sequence's cached positions.
/// Exactly one of (kf, vf) or (kq, ks, vq, vs) is set. cosTable/sinTable, when set, rotate the
/// queries here ((T, ropeHalf) angles); keys were rotated when written.
typedef struct {
    const float *q;
    int64_t ldq, heads, kvHeads, headDim, kvDim, tokensPerBlock, maxBlocks, ldo;
    float scale;
    const float *kf, *vf;
    const int8_t *kq, *vq;
    const float *ks, *vs;
    const int32_t *blockTables, *seq, *pos;
    const float *cosTable, *sinTable;
    int64_t ropeHalf;
    int neox;
    float *out;
    int64_t T;  // set by tllm_attend
} tllm_attend_args;

/// Runs the attention of every (token, head) pair on the pool.
void tllm_attend(const tllm_attend_args *args, int64_t T);
/// Rotates one head vector in place with one token's angles.
void tllm_rotate_head(float *v, const float *cs, const float *sn, int64_t half, int neox);
/// Points *cosTable/*sinTable at T × ropeDim/2 rotary angles, pos[t] · theta^(−2i / ropeDim)
/// computed in double: this thread's kept tables, recomputed only when theta, ropeDim or a position
/// differs from its last call (a decode step's layers all ask for the same ones); or, when they
/// cannot grow, `fallback` (2 · T · ropeDim/2 floats) filled with them.
void tllm_rope_tables(double theta, int64_t ropeDim, const int32_t *pos, int64_t T, float *fallback,
                      const float **cosTable, const float **sinTable);
#endif

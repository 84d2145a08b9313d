// The GPU kernels, as CUDA C sources compiled at run time by NVRTC. Each mirrors a CPU kernel in
// TLLMKernels and keeps its contract: every output element is computed in a fixed order that does
// not depend on the batch, so results are batch-invariant on the GPU too.

/// A named CUDA C program and the kernels it defines.
public struct CUDAKernelSource: Sendable {
    public let name: String
    public let kernels: [String]
    public let code: String

    /// Every program the CUDA backend compiles.
    public static let all: [CUDAKernelSource] = [common.with(linear), common.with(elementwise), common.with(attention)]

    func with(_ other: CUDAKernelSource) -> CUDAKernelSource {
        CUDAKernelSource(name: other.name, kernels: other.kernels, code: code + "\n" + other.code)
    }

    /// Number formats shared by all programs (no host headers: NVRTC compiles without a toolkit).
    static let common = CUDAKernelSource(name: "common", kernels: [], code: #"""
    typedef unsigned char u8;
    typedef signed char i8;
    typedef unsigned short u16;
    typedef unsigned int u32;
    #define TLLM_NEG_INF __int_as_float(0xff800000)

    __device__ __forceinline__ float f16_to_f32(u16 h) {
        u32 sign = (u32)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
        if (exp == 0) {
            if (mant == 0) { bits = sign; }
            else { int e = -1; do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
                   bits = sign | ((u32)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13); }
        } else if (exp == 31) { bits = sign | 0x7f800000u | (mant << 13); }
        else { bits = sign | ((exp + 112) << 23) | (mant << 13); }
        return __uint_as_float(bits);
    }
    __device__ __forceinline__ float bf16_to_f32(u16 h) { return __uint_as_float((u32)h << 16); }
    __device__ __forceinline__ u16 load_u16(const u8 *p) { return (u16)p[0] | ((u16)p[1] << 8); }
    __device__ __forceinline__ float load_f32(const u8 *p) {
        return __uint_as_float((u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24));
    }
    __device__ __forceinline__ float fp8_e4m3(u8 v) {
        float sign = (v & 0x80) ? -1.0f : 1.0f;
        int exp = (v >> 3) & 0xf, mant = v & 7;
        if (exp == 0xf && mant == 7) return __int_as_float(0x7fc00000);
        if (exp == 0) return sign * ldexpf((float)mant, -9);
        return sign * ldexpf(1.0f + mant / 8.0f, exp - 7);
    }

    // Weight formats (same ids as tllm_wtype): 0 f32, 1 f16, 2 bf16, 3 q4_0, 4 q4_1, 5 q8_0,
    // 6 int8 rows [f32 scale][int8...], 7/8/9 int4 groups of 32/64/128 [f16 d][f16 m][G/2 bytes],
    // 10 fp8 rows [f32 scale][e4m3...]. Returns element k of a row starting at `row`.
    __device__ __forceinline__ float weight_at(const u8 *row, int type, int k) {
        switch (type) {
        case 0: return load_f32(row + 4 * k);
        case 1: return f16_to_f32(load_u16(row + 2 * k));
        case 2: return bf16_to_f32(load_u16(row + 2 * k));
        case 3: { const u8 *b = row + (k / 32) * 18; int j = k % 32;
                  int q = j < 16 ? (b[2 + j] & 0xf) : (b[2 + j - 16] >> 4);
                  return f16_to_f32(load_u16(b)) * (float)(q - 8); }
        case 4: { const u8 *b = row + (k / 32) * 20; int j = k % 32;
                  int q = j < 16 ? (b[4 + j] & 0xf) : (b[4 + j - 16] >> 4);
                  return f16_to_f32(load_u16(b)) * (float)q + f16_to_f32(load_u16(b + 2)); }
        case 5: { const u8 *b = row + (k / 32) * 34;
                  return f16_to_f32(load_u16(b)) * (float)(i8)b[2 + k % 32]; }
        case 6: return load_f32(row) * (float)(i8)row[4 + k];
        case 7: case 8: case 9: {
                  int g = type == 7 ? 32 : (type == 8 ? 64 : 128);
                  const u8 *b = row + (k / g) * (4 + g / 2); int j = k % g, half = g / 2;
                  int q = j < half ? (b[4 + j] & 0xf) : (b[4 + j - half] >> 4);
                  return f16_to_f32(load_u16(b)) * (float)q + f16_to_f32(load_u16(b + 2)); }
        case 10: return load_f32(row) * fp8_e4m3(row[4 + k]);
        }
        return 0.0f;
    }

    __device__ __forceinline__ long long row_bytes(int type, long long n) {
        switch (type) {
        case 0: return n * 4;
        case 1: case 2: return n * 2;
        case 3: return n / 32 * 18;
        case 4: return n / 32 * 20;
        case 5: return n / 32 * 34;
        case 6: return 4 + n;
        case 7: return n / 32 * 20;
        case 8: return n / 64 * 36;
        case 9: return n / 128 * 68;
        case 10: return 4 + n;
        }
        return 0;
    }

    __device__ __forceinline__ float warp_sum(float v) {
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        return __shfl_sync(0xffffffffu, v, 0);
    }
    """#)

    /// Dequantizing GEMV/GEMM for every weight format: one warp per output element.
    static let linear = CUDAKernelSource(name: "linear", kernels: ["tllm_linear"], code: #"""
    // Y[t, r] = dot(W[r, :], X[t, :]) (+ bias[r]). grid = (ceil(N / 8), T), block = 256 (8 warps).
    // Lane l sums k = l, l + 32, ... in order; the warp then reduces in a fixed tree: the result
    // for (t, r) does not depend on T.
    extern "C" __global__ void tllm_linear(const u8 *W, int type, int N, int K, const float *X, int ldx,
                                           int T, const float *bias, float *Y, int ldy) {
        int r = blockIdx.x * 8 + threadIdx.x / 32, t = blockIdx.y, lane = threadIdx.x % 32;
        if (r >= N || t >= T) return;
        const u8 *row = W + (long long)r * row_bytes(type, K);
        const float *x = X + (long long)t * ldx;
        float s = 0.0f;
        for (int k = lane; k < K; k += 32) s = fmaf(weight_at(row, type, k), x[k], s);
        s = warp_sum(s);
        if (lane == 0) Y[(long long)t * ldy + r] = bias ? s + bias[r] : s;
    }
    """#)

    /// Normalisations, rotary embedding, activations, embedding lookup, KV writes.
    static let elementwise = CUDAKernelSource(name: "elementwise",
        kernels: ["tllm_rmsnorm", "tllm_layernorm", "tllm_rope", "tllm_silu_mul", "tllm_gelu", "tllm_add", "tllm_embedding", "tllm_kv_write"],
        code: #"""
    // One block (256 threads) per row; a fixed-shape tree reduction in shared memory.
    __device__ float block_sum(float v, float *shared) {
        shared[threadIdx.x] = v;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
            __syncthreads();
        }
        float total = shared[0];
        __syncthreads();
        return total;
    }

    extern "C" __global__ void tllm_rmsnorm(const float *x, const float *w, float eps, int dim, float *y) {
        __shared__ float shared[256];
        const float *xr = x + (long long)blockIdx.x * dim;
        float *yr = y + (long long)blockIdx.x * dim;
        float ss = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
        float scale = rsqrtf(block_sum(ss, shared) / dim + eps);
        for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = (xr[i] * scale) * w[i];
    }

    extern "C" __global__ void tllm_layernorm(const float *x, const float *w, const float *b, float eps, int dim, float *y) {
        __shared__ float shared[256];
        const float *xr = x + (long long)blockIdx.x * dim;
        float *yr = y + (long long)blockIdx.x * dim;
        float sum = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) sum += xr[i];
        float mean = block_sum(sum, shared) / dim, var = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) var = fmaf(xr[i] - mean, xr[i] - mean, var);
        float inv = rsqrtf(block_sum(var, shared) / dim + eps);
        for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = ((xr[i] - mean) * inv) * w[i] + b[i];
    }

    // In place on (T, heads, headDim) with row stride ld; grid = T, block = heads * ropeDim / 2 (≤ 1024, looped).
    extern "C" __global__ void tllm_rope(float *x, int ld, int heads, int headDim, int ropeDim, const int *positions,
                                         double theta, int neox) {
        int t = blockIdx.x, half = ropeDim / 2;
        for (int item = threadIdx.x; item < heads * half; item += blockDim.x) {
            int h = item / half, i = item % half;
            double angle = (double)positions[t] * pow(theta, -2.0 * i / ropeDim);
            float cs = (float)cos(angle), sn = (float)sin(angle);
            float *v = x + (long long)t * ld + h * headDim;
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs - x1 * sn;
            v[b] = x0 * sn + x1 * cs;
        }
    }

    extern "C" __global__ void tllm_silu_mul(const float *g, int ldg, const float *u, int ldu, int T, int n, float *out, int ldo) {
        long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= (long long)T * n) return;
        int t = i / n, j = i % n;
        float gv = g[(long long)t * ldg + j];
        out[(long long)t * ldo + j] = gv / (1.0f + expf(-gv)) * u[(long long)t * ldu + j];
    }

    extern "C" __global__ void tllm_gelu(const float *x, long long n, float *out) {
        long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }

    extern "C" __global__ void tllm_add(const float *a, const float *b, long long n, float *out) {
        long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = a[i] + b[i];
    }

    // grid = T, block = 256: out[t] = dequantized row ids[t] of the table.
    extern "C" __global__ void tllm_embedding(const u8 *W, int type, int dim, const int *ids, float *out) {
        const u8 *row = W + (long long)ids[blockIdx.x] * row_bytes(type, dim);
        for (int k = threadIdx.x; k < dim; k += blockDim.x) out[(long long)blockIdx.x * dim + k] = weight_at(row, type, k);
    }

    // grid = T, block = 256: token t's key and value rows into slot slots[t] of the paged cache.
    extern "C" __global__ void tllm_kv_write(const float *k, int ldk, const float *v, int ldv, int kvDim,
                                             const long long *slots, float *kCache, float *vCache) {
        long long s = slots[blockIdx.x];
        for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
            kCache[s * kvDim + i] = k[(long long)blockIdx.x * ldk + i];
            vCache[s * kvDim + i] = v[(long long)blockIdx.x * ldv + i];
        }
    }
    """#)

    /// Paged attention for prefill and decode over the same block tables as the CPU.
    static let attention = CUDAKernelSource(name: "attention", kernels: ["tllm_paged_attention"], code: #"""
    // grid = (T, heads), block = 128. Positions are visited in chunks of 128 with an online
    // softmax (running max and sum), so any context length fits in fixed shared memory; each
    // (token, head) is computed the same way whoever shares the batch.
    extern "C" __global__ void tllm_paged_attention(const float *q, int ldq, int heads, int kvHeads, int headDim, float scale,
                                                    const float *kCache, const float *vCache, int tokensPerBlock,
                                                    const int *blockTables, int maxBlocks, const int *seq, const int *pos,
                                                    float *out, int ldo) {
        __shared__ float scores[128];
        __shared__ float shared[128];
        __shared__ float acc[256];
        int t = blockIdx.x, h = blockIdx.y, kvh = h / (heads / kvHeads), kvDim = kvHeads * headDim;
        int n = pos[t] + 1;
        const int *table = blockTables + (long long)seq[t] * maxBlocks;
        const float *qv = q + (long long)t * ldq + h * headDim;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) acc[d] = 0.0f;
        float runningMax = TLLM_NEG_INF, runningSum = 0.0f;
        for (int start = 0; start < n; start += 128) {
            int j = start + threadIdx.x;
            float s = TLLM_NEG_INF;
            if (j < n) {
                long long slot = (long long)table[j / tokensPerBlock] * tokensPerBlock + j % tokensPerBlock;
                const float *kv = kCache + slot * kvDim + kvh * headDim;
                s = 0.0f;
                for (int d = 0; d < headDim; d++) s = fmaf(qv[d], kv[d], s);
                s *= scale;
            }
            // chunk max (fixed tree)
            shared[threadIdx.x] = s;
            __syncthreads();
            for (int w = 64; w > 0; w >>= 1) {
                if (threadIdx.x < w) shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + w]);
                __syncthreads();
            }
            float newMax = fmaxf(runningMax, shared[0]);
            __syncthreads();
            float p = j < n ? expf(s - newMax) : 0.0f;
            scores[threadIdx.x] = p;
            shared[threadIdx.x] = p;
            __syncthreads();
            for (int w = 64; w > 0; w >>= 1) {
                if (threadIdx.x < w) shared[threadIdx.x] += shared[threadIdx.x + w];
                __syncthreads();
            }
            float correction = expf(runningMax - newMax);
            runningSum = runningSum * correction + shared[0];
            int count = min(128, n - start);
            for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
                float a = acc[d] * correction;
                for (int i = 0; i < count; i++) {
                    int jj = start + i;
                    long long slot = (long long)table[jj / tokensPerBlock] * tokensPerBlock + jj % tokensPerBlock;
                    a = fmaf(scores[i], vCache[slot * kvDim + kvh * headDim + d], a);
                }
                acc[d] = a;
            }
            runningMax = newMax;
            __syncthreads();
        }
        float inv = 1.0f / runningSum;
        for (int d = threadIdx.x; d < headDim; d += blockDim.x) out[(long long)t * ldo + h * headDim + d] = acc[d] * inv;
    }
    """#)
}

// The CPU backend: C kernels with run-time ISA dispatch, OpenBLAS for float32 GEMM, one thread pool.
import TLLMKernels

/// Runs every kernel on the CPU. Stateless: the thread pool is process-wide.
///
/// Float32 weights go through our fixed-order kernel by default, because OpenBLAS's sgemm is
/// not batch-invariant (measured on this machine: for M ≤ 5 rows it takes a different path and a
/// row's result changes in the last bits with the number of rows). `useOpenBLAS` trades that
/// invariance for OpenBLAS's GEMM speed on large float32 prefills.
public struct CPUBackend: Backend {
    /// Route float32 GEMMs through `cblas_sgemm` (faster prefill, not batch-invariant).
    public var useOpenBLAS: Bool

    public init(useOpenBLAS: Bool = false) {
        self.useOpenBLAS = useOpenBLAS
    }

    public var description: String {
        "cpu (\(String(cString: tllm_isa_name())), \(tllm_num_threads()) threads\(useOpenBLAS ? ", OpenBLAS sgemm" : ""))"
    }

    public func linear(_ input: Matrix, weight: Tensor, bias: Tensor?, into out: Matrix) {
        precondition(weight.shape.count == 2 && weight.shape[1] == input.columns && weight.shape[0] == out.columns,
                     "linear: weight \(weight.shape) vs input width \(input.columns), output width \(out.columns)")
        precondition(input.rows == out.rows)
        let biasPointer = bias?.floatPointer
        if weight.dtype == .f32 && useOpenBLAS {
            tllm_linear_f32_blas(weight.floatPointer, Int64(out.columns), Int64(input.columns),
                                 input.data, Int64(input.stride), Int64(input.rows),
                                 biasPointer, out.data, Int64(out.stride))
        } else {
            tllm_linear_fused(weight.pointer, weight.dtype.kernelType, Int64(out.columns), Int64(input.columns),
                              input.data, Int64(input.stride), Int64(input.rows), weight.activations.kernelInput,
                              biasPointer, TLLM_ACT_NONE, nil, 0, out.data, Int64(out.stride))
        }
    }

    public func embedding(_ ids: [Int32], table: Tensor, into out: Matrix) {
        precondition(out.stride == table.rowLength && out.rows == ids.count)
        ids.withUnsafeBufferPointer {
            tllm_embedding(table.pointer, table.dtype.kernelType, Int64(table.shape[0]), Int64(table.rowLength), $0.baseAddress,
                           Int64(ids.count), out.data)
        }
    }

    public func rmsNorm(_ input: Matrix, weight: Tensor, epsilon: Float, into out: Matrix) {
        precondition(input.stride == input.columns && out.stride == out.columns)
        tllm_rmsnorm(input.data, weight.floatPointer, epsilon, Int64(input.rows), Int64(input.columns), out.data)
    }

    public func layerNorm(_ input: Matrix, weight: Tensor, bias: Tensor, epsilon: Float, into out: Matrix) {
        precondition(input.stride == input.columns && out.stride == out.columns)
        tllm_layernorm(input.data, weight.floatPointer, bias.floatPointer, epsilon, Int64(input.rows), Int64(input.columns), out.data)
    }

    public func rope(_ x: Matrix, heads: Int, headDim: Int, ropeDim: Int, positions: [Int32], theta: Double, neox: Bool) {
        positions.withUnsafeBufferPointer {
            tllm_rope(x.data, Int64(x.stride), Int64(x.rows), Int64(heads), Int64(headDim), Int64(ropeDim),
                      $0.baseAddress, theta, neox ? 1 : 0)
        }
    }

    public func siluMul(gate: Matrix, up: Matrix, into out: Matrix) {
        tllm_silu_mul(gate.data, Int64(gate.stride), up.data, Int64(up.stride), Int64(out.rows), Int64(out.columns),
                      out.data, Int64(out.stride))
    }

    public func silu(_ input: Matrix, into out: Matrix) {
        forEachRow(input, nil, out) { a, _, o, n in tllm_silu(a, n, o) }
    }

    public func mul(_ a: Matrix, _ b: Matrix, into out: Matrix) {
        forEachRow(a, b, out) { a, b, o, n in tllm_mul(a, b, n, o) }
    }

    public func gelu(_ input: Matrix, into out: Matrix) {
        forEachRow(input, nil, out) { a, _, o, n in tllm_gelu(a, n, o) }
    }

    public func add(_ a: Matrix, _ b: Matrix, into out: Matrix) {
        forEachRow(a, b, out) { a, b, o, n in tllm_add(a, b, n, o) }
    }

    public func pagedAttention(query: Matrix, key: Matrix, value: Matrix, cache: KVLayerView,
                               heads: Int, kvHeads: Int, headDim: Int, metadata m: AttentionMetadata, into out: Matrix) {
        if cache.dtype == .int8 {
            pagedAttentionInt8(query: query, key: key, value: value, cache: cache, heads: heads, kvHeads: kvHeads,
                               headDim: headDim, metadata: m, into: out)
            return
        }
        let kvDim = kvHeads * headDim
        m.slots.withUnsafeBufferPointer { slots in
            tllm_kv_write(key.data, Int64(key.stride), value.data, Int64(value.stride), Int64(key.rows),
                          Int64(kvDim), slots.baseAddress, cache.keys, cache.values)
        }
        m.blockTables.withUnsafeBufferPointer { tables in
            m.sequenceOfToken.withUnsafeBufferPointer { seq in
                m.positions.withUnsafeBufferPointer { pos in
                    tllm_paged_attention(query.data, Int64(query.stride), Int64(query.rows),
                                         Int64(heads), Int64(kvHeads), Int64(headDim), 1 / Float(headDim).squareRoot(),
                                         cache.keys, cache.values, Int64(m.tokensPerBlock),
                                         tables.baseAddress, Int64(m.maxBlocksPerSequence),
                                         seq.baseAddress, pos.baseAddress, out.data, Int64(out.stride))
                }
            }
        }
    }

    /// Applies an elementwise kernel to matching rows of up to three matrices, in one call
    /// when all are contiguous.
    private func forEachRow(_ a: Matrix, _ b: Matrix?, _ out: Matrix,
                            _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>, Int64) -> Void) {
        let contiguous = a.stride == a.columns && (b.map { $0.stride == $0.columns } ?? true) && out.stride == out.columns
        if contiguous {
            body(a.data, b?.data, out.data, Int64(a.rows * a.columns))
        } else {
            for r in 0..<a.rows {
                body(a.data + r * a.stride, b.map { $0.data + r * $0.stride }, out.data + r * out.stride, Int64(a.columns))
            }
        }
    }
}

// The CPU backend's fused kernels (for the built-in plugins) and its int8 KV cache path.
import TLLMKernels

extension CPUBackend {
    public func fusedLinear(_ input: Matrix, weight: Tensor, bias: Tensor?, activation: Activation,
                            residual: Matrix?, into out: Matrix) {
        precondition(weight.shape.count == 2 && weight.shape[1] == input.columns && weight.shape[0] == out.columns,
                     "fusedLinear: weight \(weight.shape) vs input width \(input.columns), output width \(out.columns)")
        precondition(input.rows == out.rows && (residual.map { $0.rows == out.rows && $0.columns == out.columns } ?? true))
        tllm_linear_fused(weight.pointer, weight.dtype.kernelType, Int64(out.columns), Int64(input.columns),
                          input.data, Int64(input.stride), Int64(input.rows), weight.activations.kernelInput,
                          bias?.floatPointer, tllm_activation(UInt32(activation.rawValue)),
                          residual?.data, Int64(residual?.stride ?? 0), out.data, Int64(out.stride))
    }

    public func gatedLinear(_ input: Matrix, gate: Tensor, up: Tensor, gateBias: Tensor?, upBias: Tensor?, into out: Matrix) {
        precondition(gate.shape.count == 2 && gate.shape[0] == out.columns && gate.shape[1] == input.columns
                     && up.shape == gate.shape && input.rows == out.rows,
                     "gatedLinear: gate \(gate.shape), up \(up.shape) vs input width \(input.columns), output width \(out.columns)")
        tllm_gated_linear(gate.pointer, gate.dtype.kernelType, up.pointer, up.dtype.kernelType,
                          Int64(out.columns), Int64(input.columns), input.data, Int64(input.stride), Int64(input.rows),
                          gate.activations == .int8 || up.activations == .int8 ? TLLM_INPUT_Q8 : TLLM_INPUT_F32,
                          gateBias?.floatPointer, upBias?.floatPointer,
                          out.data, Int64(out.stride))
    }

    public func fusedEmbedding(_ ids: [Int32], table: Tensor, positions: [Int32], positionTable: Tensor?, into out: Matrix) {
        precondition(table.rowLength == out.columns && out.rows == ids.count && positions.count == ids.count)
        ids.withUnsafeBufferPointer { ids in
            positions.withUnsafeBufferPointer { pos in
                tllm_embedding_fused(table.pointer, table.dtype.kernelType, Int64(table.shape[0]), positionTable?.pointer,
                                     positionTable?.dtype.kernelType ?? TLLM_F32, Int64(positionTable?.shape[0] ?? 0),
                                     Int64(out.columns), ids.baseAddress, pos.baseAddress, Int64(ids.count), out.data,
                                     Int64(out.stride))
            }
        }
    }

    public func fusedRMSNorm(_ input: Matrix, weight: Tensor, epsilon: Float, into out: Matrix) {
        precondition(weight.elementCount == input.columns && input.rows == out.rows)
        tllm_rmsnorm_rows(input.data, Int64(input.stride), weight.floatPointer, epsilon, Int64(input.rows),
                          Int64(input.columns), out.data, Int64(out.stride))
    }

    public func fusedGELU(_ input: Matrix, into out: Matrix) {
        tllm_gelu_rows(input.data, Int64(input.stride), Int64(input.rows), Int64(input.columns), out.data, Int64(out.stride))
    }

    public func ropeAttention(query: Matrix, key: Matrix, value: Matrix, cache: KVLayerView, heads: Int, kvHeads: Int,
                              headDim: Int, rotary: RotarySpec?, metadata m: AttentionMetadata, into out: Matrix) {
        m.slots.withUnsafeBufferPointer { slots in
            m.blockTables.withUnsafeBufferPointer { tables in
                m.sequenceOfToken.withUnsafeBufferPointer { seq in
                    m.positions.withUnsafeBufferPointer { pos in
                        let int8 = cache.dtype == .int8
                        tllm_rope_attention(query.data, Int64(query.stride), key.data, Int64(key.stride),
                                            value.data, Int64(value.stride), Int64(query.rows),
                                            Int64(heads), Int64(kvHeads), Int64(headDim),
                                            Int64(rotary?.ropeDim ?? 0), rotary?.theta ?? 0, rotary?.neox == true ? 1 : 0,
                                            1 / Float(headDim).squareRoot(),
                                            int8 ? nil : cache.keys, int8 ? nil : cache.values,
                                            int8 ? cache.keyCodes : nil, int8 ? cache.keys : nil,
                                            int8 ? cache.valueCodes : nil, int8 ? cache.values : nil,
                                            slots.baseAddress, Int64(m.tokensPerBlock), tables.baseAddress,
                                            Int64(m.maxBlocksPerSequence), seq.baseAddress, pos.baseAddress,
                                            out.data, Int64(out.stride))
                    }
                }
            }
        }
    }

    /// Attention over an int8 cache: quantize this batch's keys and values into it, then attend.
    func pagedAttentionInt8(query: Matrix, key: Matrix, value: Matrix, cache: KVLayerView,
                            heads: Int, kvHeads: Int, headDim: Int, metadata m: AttentionMetadata, into out: Matrix) {
        let kvDim = kvHeads * headDim
        m.slots.withUnsafeBufferPointer { slots in
            tllm_kv_write_i8(key.data, Int64(key.stride), value.data, Int64(value.stride), Int64(key.rows), Int64(kvDim),
                             slots.baseAddress, cache.keyCodes, cache.keys, cache.valueCodes, cache.values)
        }
        m.blockTables.withUnsafeBufferPointer { tables in
            m.sequenceOfToken.withUnsafeBufferPointer { seq in
                m.positions.withUnsafeBufferPointer { pos in
                    tllm_paged_attention_i8(query.data, Int64(query.stride), Int64(query.rows),
                                            Int64(heads), Int64(kvHeads), Int64(headDim), 1 / Float(headDim).squareRoot(),
                                            cache.keyCodes, cache.keys, cache.valueCodes, cache.values,
                                            Int64(m.tokensPerBlock), tables.baseAddress, Int64(m.maxBlocksPerSequence),
                                            seq.baseAddress, pos.baseAddress, out.data, Int64(out.stride))
                }
            }
        }
    }
}

// Row concatenation of weight tensors: how the Builder fuses linears that share an input.

extension Tensor {
    /// `parts` stacked along their first dimension in new storage: matrices `[N_i, K]` give
    /// `[Σ N_i, K]`, vectors `[N_i]` (biases) give `[Σ N_i]`.
    ///
    /// Each part's rows keep their exact bytes, so a kernel computes every output row of the result
    /// exactly as it computes that row of its part.
    /// - Returns: nil when there is nothing to join (fewer than two parts); when the parts are not
    ///   all matrices of one dtype and row length, or all vectors of one row-major dtype; or when a
    ///   part other than the last does not fill whole stored groups (``DType/rowsPerStoredGroup``),
    ///   so that its bytes cannot simply be appended.
    public static func concatenatingRows(_ parts: [Tensor]) -> Tensor? {
        guard parts.count >= 2, let first = parts.first, (1...2).contains(first.shape.count) else { return nil }
        let dtype = first.dtype, group = dtype.rowsPerStoredGroup
        for (i, part) in parts.enumerated() {
            guard part.dtype == dtype, part.shape.count == first.shape.count,
                  part.shape.dropFirst() == first.shape.dropFirst() else { return nil }
            if i < parts.count - 1 && part.shape[0] % group != 0 { return nil }
        }
        let shape = [parts.reduce(0) { $0 + $1.shape[0] }] + first.shape.dropFirst()
        // A vector's bytes are one row: only row-major types without row headers concatenate.
        if shape.count == 1 && (group != 1 || dtype.rowHeaderBytes != 0) { return nil }
        guard let bytes = dtype.byteCount(shape: shape), bytes == parts.reduce(0, { $0 + $1.byteCount }) else { return nil }
        let storage = TensorStorage(byteCount: bytes) { buffer in
            var offset = 0
            for part in parts {
                (buffer.baseAddress! + offset).copyMemory(from: part.pointer, byteCount: part.byteCount)
                offset += part.byteCount
            }
        }
        return Tensor(shape: shape, dtype: dtype, storage: storage)
    }
}

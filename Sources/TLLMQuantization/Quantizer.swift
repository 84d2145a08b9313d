// Applies a QuantConfig to a model's weights: the Builder's quantization step. Quantized formats
// start from the exactly dequantized checkpoint weights and are written by the C quantizers.
import TLLMBackend
import TLLMKernels
import TLLMModel

/// Converts weights to the storage a ``QuantConfig`` asks for.
public enum Quantizer {
    /// The weights as the engine will store them, and log lines saying what was converted.
    /// - Parameters:
    ///   - weights: The weights the graph reads, by checkpoint key.
    ///   - graph: The traced graph (decides which matrices are lookup tables or the LM head, and
    ///     where AWQ scales can be folded).
    ///   - activations: Calibration samples of linear inputs (required for activation-aware scaling).
    /// - Throws: ``QuantError`` when a matrix does not fit the format (e.g. width not a multiple of the group size).
    public static func apply(_ config: QuantConfig, to weights: [String: Tensor], graph: Graph,
                             activations: CalibrationActivations? = nil,
                             progress: ProgressHandler? = nil) throws(QuantError) -> (weights: [String: Tensor], log: [String]) {
        if let problem = config.problems().first { throw QuantError(problem) }
        let before = modelBytes(weights)
        switch config.algo {
        case .ggufNative:
            return interleaveRowBlocks(weights, activations: config.activations, progress: progress)
        case .none:
            var out: [String: Tensor] = [:]
            var converted = 0
            for (i, name) in weights.keys.sorted().enumerated() {
                let tensor = weights[name]!
                progress?(BuildProgress(phase: "dequantizing", completed: i + 1, total: weights.count, item: name))
                if tensor.dtype == .f32 { out[name] = tensor; continue }
                out[name] = Tensor(shape: tensor.shape, floats: tensor.floats())
                converted += 1
            }
            return (out, ["Quantization: none, \(converted) tensors dequantized exactly to f32, \(mib(before)) → \(mib(modelBytes(out)))"])
        case .w8a16, .w4a16, .fp8:
            return try quantize(config, weights, graph: graph, activations: activations, progress: progress)
        }
    }

    /// GGUF-native weights: every Q4_0, Q4_1 and Q8_0 matrix with a row count divisible by 8 gets
    /// its rows interleaved in 8s, in the layout the engine's linear kernel streams best (same
    /// bytes, same values): grouped for float32 activations (``DType/q4_1x8g``), plain for int8
    /// (``DType/q4_1x8``). Lookup tables too: a tied embedding is also the LM head, and lookups
    /// read single rows out of the interleaved form. The rest stays as stored.
    static func interleaveRowBlocks(_ weights: [String: Tensor], activations: ActivationPrecision,
                                    progress: ProgressHandler?) -> (weights: [String: Tensor], log: [String]) {
        var out = weights
        let names = weights.keys.sorted().filter { name in
            let t = weights[name]!
            return t.dtype.interleaved(for: activations) != nil && t.shape.count == 2 && t.shape[0] % 8 == 0 && t.rowLength % 32 == 0
        }
        for (i, name) in names.enumerated() {
            progress?(BuildProgress(phase: "interleaving", completed: i, total: names.count, item: name))
            out[name] = interleaved(weights[name]!, for: activations)
        }
        let mode = activations == .int8 ? "gguf_native with int8 activations (W4A8)" : "gguf_native"
        return (out, ["Quantization: \(mode): \(names.count) matrices interleaved in 8-row blocks (\(typeSummary(out)))"])
    }

    /// A GGUF Q4_0, Q4_1 or Q8_0 matrix with its rows interleaved in 8s, in the layout for
    /// `activations` (``DType/interleaved(for:)``).
    public static func interleaved(_ tensor: Tensor, for activations: ActivationPrecision) -> Tensor {
        let type = tensor.dtype.interleaved(for: activations)
        precondition(type != nil && tensor.shape.count == 2 && tensor.shape[0] % 8 == 0)
        let (rows, columns) = (Int64(tensor.shape[0]), Int64(tensor.rowLength))
        let storage = TensorStorage(byteCount: tensor.byteCount) { buffer in
            if activations == .int8 {
                tllm_repack_x8(tensor.dtype.kernelType, tensor.pointer, rows, columns, buffer.baseAddress)
            } else {
                tllm_repack_x8g(tensor.dtype.kernelType, tensor.pointer, rows, columns, buffer.baseAddress)
            }
        }
        return Tensor(shape: tensor.shape, dtype: type!, storage: storage)
    }

    /// Total bytes of the weights (tied tensors counted once).
    public static func modelBytes(_ weights: [String: Tensor]) -> Int {
        weights.values.reduce(0) { $0 + $1.byteCount }
    }

    /// The values whose rows AWQ needs as calibration samples: inputs of linears it can rescale.
    public static func calibrationTargets(_ graph: Graph, weights: [String: Tensor], config: QuantConfig) -> Set<ValueID> {
        guard config.algo == .w4a16, config.activationAware else { return [] }
        let roles = MatrixRoles(graph, weights: weights)
        return Set(ActivationAwareScaling.groups(graph, roles: roles).map(\.input))
    }

    // MARK: - Weight-only formats

    private static func quantize(_ config: QuantConfig, _ weights: [String: Tensor], graph: Graph,
                                 activations: CalibrationActivations?,
                                 progress: ProgressHandler?) throws(QuantError) -> (weights: [String: Tensor], log: [String]) {
        let roles = MatrixRoles(graph, weights: weights)
        var target: [String: DType] = [:]
        // Sorted, so the first tensor named in an error is the same on every run.
        for (name, tensor) in weights.sorted(by: { $0.key < $1.key }) where tensor.shape.count == 2 {
            let type = roles.isTable(name) ? config.tableType! : config.matrixType!
            guard type.rowBytes(tensor.rowLength) != nil else {
                let g = type.int4GroupSize ?? type.blockSize
                let fits = [32, 64, 128].filter { tensor.rowLength % $0 == 0 }.map(String.init)
                throw QuantError("'\(name)' has \(tensor.rowLength) columns, not a multiple of the group size \(g); "
                                 + (fits.isEmpty ? "this model cannot use W4A16" : "use group size \(fits.joined(separator: " or "))"))
            }
            target[name] = type
        }
        var floats: [String: [Float]] = [:]
        var log: [String] = []
        if config.activationAware {
            guard let activations else { throw QuantError("activation-aware scaling needs calibration activations; the Builder captures them from QuantConfig.calibration") }
            var awq = ActivationAwareScaling(graph: graph, roles: roles, groupSize: config.groupSize)
            log += awq.run(weights: weights, activations: activations, floats: &floats, progress: progress)
        }
        var out = weights
        let names = target.keys.sorted()
        for (i, name) in names.enumerated() {
            progress?(BuildProgress(phase: "quantizing", completed: i, total: names.count, item: name))
            let tensor = weights[name]!
            let values = floats.removeValue(forKey: name) ?? tensor.floats()
            out[name] = quantizedTensor(values, shape: tensor.shape, as: target[name]!)
        }
        progress?(BuildProgress(phase: "quantizing", completed: names.count, total: names.count, item: "done"))
        for (name, values) in floats { out[name] = Tensor(shape: weights[name]!.shape, floats: values) }  // folded norms and biases
        let detail = config.algo == .w4a16 ? " (group \(config.groupSize)\(config.activationAware ? ", AWQ" : ""); tables and LM head int8_row)" : ""
        log.insert("Quantization: \(config.algo.rawValue)\(detail), \(typeSummary(out)), \(mib(modelBytes(weights))) → \(mib(modelBytes(out)))", at: 0)
        return (out, log)
    }

    /// Quantizes row-major float values of `shape` into `dtype` with the C quantizers.
    public static func quantizedTensor(_ values: [Float], shape: [Int], as dtype: DType) -> Tensor {
        if dtype == .f32 { return Tensor(shape: shape, floats: values) }
        let rows = shape.dropLast().reduce(1, *), n = shape.last ?? 1
        let storage = TensorStorage(byteCount: dtype.byteCount(shape: shape)!) { buffer in
            values.withUnsafeBufferPointer { src in
                tllm_quantize_rows(dtype.kernelType, src.baseAddress, Int64(rows), Int64(n), buffer.baseAddress)
            }
        }
        return Tensor(shape: shape, dtype: dtype, storage: storage)
    }

    static func typeSummary(_ weights: [String: Tensor]) -> String {
        var counts: [DType: Int] = [:]
        for tensor in weights.values { counts[tensor.dtype, default: 0] += 1 }
        return counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
    }

    static func mib(_ bytes: Int) -> String {
        let m = Double(bytes) / 1_048_576
        return m >= 10 ? "\(Int(m.rounded())) MiB" : "\(Double(Int(m * 100)) / 100) MiB"
    }
}

/// Which weights are lookup tables or the LM head (kept at 8 bits under W4A16), and how many
/// ops read each weight.
struct MatrixRoles {
    private var tables = Set<String>()
    var uses: [String: Int] = [:]

    init(_ graph: Graph, weights: [String: Tensor]) {
        for op in graph.ops {
            for name in op.kind.weightNames { uses[name, default: 0] += 1 }
            switch op.kind {
            case .embedding(let w), .positionEmbedding(let w): tables.insert(w)
            case .linear(let w, _) where op.output == graph.output: tables.insert(w)
            case .plugin(_, let fields) where op.output == graph.output: tables.formUnion(fields.weights)
            default: break
            }
        }
    }

    func isTable(_ name: String) -> Bool { tables.contains(name) }
}

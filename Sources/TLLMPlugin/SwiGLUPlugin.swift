// SwiGLU: silu(gate) * up — with the gate and up GEMMs fused in (one pass over both weights)
// when they read the same input, else as one elementwise pass.
import TLLMBackend
import TLLMModel

/// Replaces `mul(silu(gate(x)), up(x))`, the Llama MLP's first half, by one gated GEMM; or
/// `mul(silu(a), b)` by one elementwise kernel when a and b are not such linears.
///
/// Fields: `fused_gemm` (1: inputs [x], weights [gate, up, gate bias?, up bias?] with flags
/// `gate_bias`, `up_bias`; 0: inputs [a, b], no weights).
public struct SwiGLUPlugin: PluginBase {
    public init() {}
    public var name: String { "SwiGLUPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        let silu = view[index]
        guard silu.kind == .silu, let mulIndex = view.soleReader(of: silu.output) else { return nil }
        let mul = view[mulIndex]
        guard mul.kind == .mul, mul.inputs.count == 2, mul.inputs[0] == silu.output else { return nil }
        if let gi = view.producer(of: silu.inputs[0], onlyReadBy: index), let ui = view.producer(of: mul.inputs[1], onlyReadBy: mulIndex),
           case let .linear(gate, gateBias) = view[gi].kind, case let .linear(up, upBias) = view[ui].kind,
           view[gi].inputs == view[ui].inputs, view.shape(view[gi].output) == view.shape(view[ui].output) {
            let fields = PluginFields(weights: [gate, up] + [gateBias, upBias].compactMap { $0 },
                                      ints: ["fused_gemm": 1, "gate_bias": gateBias == nil ? 0 : 1, "up_bias": upBias == nil ? 0 : 1])
            return PluginMatch(ops: [gi, ui, index, mulIndex].sorted(), inputs: view[gi].inputs, output: mul.output, fields: fields)
        }
        return PluginMatch(ops: [index, mulIndex], inputs: [silu.inputs[0], mul.inputs[1]], output: mul.output,
                           fields: PluginFields(ints: ["fused_gemm": 0]))
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        if try !flag(fields, "fused_gemm") {
            try checkArity(weights, 0, inputs, 2)
            try require(inputs[0] == inputs[1], "gate \(inputs[0]) and up \(inputs[1]) differ")
            return inputs[0]
        }
        let gateBias = try flag(fields, "gate_bias"), upBias = try flag(fields, "up_bias")
        try checkArity(weights, 2 + (gateBias ? 1 : 0) + (upBias ? 1 : 0), inputs, 1)
        try checkMatrix(weights[0], columns: inputs[0].width, "gate weight")
        try checkMatrix(weights[1], columns: inputs[0].width, "up weight")
        let n = weights[0].shape[0]
        try require(weights[1].shape[0] == n, "gate has \(n) rows, up \(weights[1].shape[0])")
        for b in weights.dropFirst(2) { try checkVector(b, length: n, "bias") }
        return ValueShape(rows: inputs[0].rows, width: n)
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        guard fields.ints["fused_gemm"] == 1 else {
            return { inputs, output, context in context.backend.siluMul(gate: inputs[0], up: inputs[1], into: output) }
        }
        var rest = weights.dropFirst(2).makeIterator()
        let gate = weights[0], up = weights[1]
        let gateBias = fields.ints["gate_bias"] == 1 ? rest.next() : nil
        let upBias = fields.ints["up_bias"] == 1 ? rest.next() : nil
        return { inputs, output, context in
            context.backend.gatedLinear(inputs[0], gate: gate, up: up, gateBias: gateBias, upBias: upBias, into: output)
        }
    }
}

// GEMM with its epilogue: bias, activation (GELU / SiLU) and the residual add, in one pass.
import TLLMBackend
import TLLMModel

/// Replaces `linear`, absorbing a following `gelu`/`silu` and then a residual `add` when each
/// intermediate value has no other reader.
///
/// Fields: `bias` (0/1), `activation` (``Activation`` raw value), `residual` (0/1).
/// Weights: [weight, bias?]. Inputs: [x, residual?].
public struct GemmPlugin: PluginBase {
    public init() {}
    public var name: String { "GemmPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        let op = view[index]
        guard case let .linear(weight, bias) = op.kind, op.inputs.count == 1 else { return nil }
        var ops = [index], inputs = op.inputs, output = op.output
        var activation = Activation.none
        if let a = view.soleReader(of: output), view[a].inputs == [output], view[a].kind == .gelu || view[a].kind == .silu {
            activation = view[a].kind == .gelu ? .gelu : .silu
            ops.append(a)
            output = view[a].output
        }
        var residual = 0
        if let r = view.soleReader(of: output), view[r].kind == .add, view[r].inputs.count == 2,
           let other = view[r].inputs.first(where: { $0 != output }), view[r].inputs.contains(output),
           view.shape(other) == view.shape(output) {
            residual = 1
            ops.append(r)
            inputs.append(other)
            output = view[r].output
        }
        let fields = PluginFields(weights: [weight] + (bias.map { [$0] } ?? []),
                                  ints: ["bias": bias == nil ? 0 : 1, "activation": activation.rawValue, "residual": residual])
        return PluginMatch(ops: ops, inputs: inputs, output: output, fields: fields)
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        let hasBias = try flag(fields, "bias"), residual = try flag(fields, "residual")
        try require(Activation(rawValue: try int(fields, "activation")) != nil, "unknown activation \(fields.ints["activation"]!)")
        try checkArity(weights, hasBias ? 2 : 1, inputs, residual ? 2 : 1)
        try checkMatrix(weights[0], columns: inputs[0].width, "weight")
        let out = ValueShape(rows: inputs[0].rows, width: weights[0].shape[0])
        if hasBias { try checkVector(weights[1], length: out.width, "bias") }
        if residual { try require(inputs[1] == out, "residual \(inputs[1]) differs from the output \(out)") }
        return out
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        let weight = weights[0], bias = fields.ints["bias"] == 1 ? weights[1] : nil
        let activation = Activation(rawValue: fields.ints["activation"]!)!, residual = fields.ints["residual"] == 1
        return { inputs, output, context in
            context.backend.fusedLinear(inputs[0], weight: weight, bias: bias, activation: activation,
                                        residual: residual ? inputs[1] : nil, into: output)
        }
    }
}

// RMSNorm as one row-parallel kernel: sum of squares, then scale and weight in one vector pass.
import TLLMBackend
import TLLMModel

/// Replaces an `rmsNorm` op. Weights: [weight]; float field `epsilon`.
public struct RMSNormPlugin: PluginBase {
    public init() {}
    public var name: String { "RMSNormPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        guard case let .rmsNorm(weight, epsilon) = view[index].kind else { return nil }
        return PluginMatch(ops: [index], inputs: view[index].inputs, output: view[index].output,
                           fields: PluginFields(weights: [weight], floats: ["epsilon": Double(epsilon)]))
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        try checkArity(weights, 1, inputs, 1)
        try checkVector(weights[0], length: inputs[0].width, "norm weight")
        let eps = fields.floats["epsilon"] ?? -1
        try require(eps > 0 && eps.isFinite, "epsilon \(eps) must be positive")
        return inputs[0]
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        let weight = weights[0], epsilon = Float(fields.floats["epsilon"]!)
        return { inputs, output, context in context.backend.fusedRMSNorm(inputs[0], weight: weight, epsilon: epsilon, into: output) }
    }
}

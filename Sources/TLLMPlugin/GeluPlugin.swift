// GELU as one row-parallel kernel (the op it replaces runs on one thread).
import TLLMBackend
import TLLMModel

/// Replaces a `gelu` op that no GEMM epilogue absorbed (e.g. with `GemmPlugin` off).
public struct GeluPlugin: PluginBase {
    public init() {}
    public var name: String { "GeluPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        guard view[index].kind == .gelu else { return nil }
        return PluginMatch(ops: [index], inputs: view[index].inputs, output: view[index].output)
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        try checkArity(weights, 0, inputs, 1)
        return inputs[0]
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        { inputs, output, context in context.backend.fusedGELU(inputs[0], into: output) }
    }
}

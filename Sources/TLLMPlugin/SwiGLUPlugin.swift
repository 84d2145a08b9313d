// SwiGLU: silu(gate) * up in one pass instead of two ops and an intermediate buffer.
import TLLMBackend
import TLLMModel

/// Replaces `mul(silu(gate), up)` when the silu result has no other reader.
public struct SwiGLUPlugin: PluginBase {
    public init() {}
    public var name: String { "SwiGLUPlugin" }

    public func match(_ graph: Graph, at index: Int, readers: [[Int]]) -> PluginMatch? {
        let silu = graph.ops[index]
        guard silu.kind == .silu, readers[silu.output].count == 1 else { return nil }
        let mulIndex = readers[silu.output][0]
        let mul = graph.ops[mulIndex]
        guard mul.kind == .mul, mul.inputs.count == 2, mul.inputs[0] == silu.output else { return nil }
        return PluginMatch(ops: [index, mulIndex], inputs: [silu.inputs[0], mul.inputs[1]], output: mul.output)
    }

    public func outputWidth(inputWidths: [Int]) -> Int { inputWidths[0] }

    public func forward(inputs: [Matrix], output: Matrix, backend: any Backend) {
        backend.siluMul(gate: inputs[0], up: inputs[1], into: output)
    }
}

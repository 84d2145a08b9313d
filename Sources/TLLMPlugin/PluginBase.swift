// Plugins: named fused kernels that replace matched subgraphs, as TensorRT-LLM's plugins do.
import TLLMBackend
import TLLMModel

/// A subgraph a plugin takes over: the ops it removes, the values it reads and the value it produces.
public struct PluginMatch: Sendable, Equatable {
    /// Indices of the replaced ops in the graph (the last one produces `output`).
    public var ops: [Int]
    public var inputs: [ValueID]
    public var output: ValueID

    public init(ops: [Int], inputs: [ValueID], output: ValueID) {
        self.ops = ops
        self.inputs = inputs
        self.output = output
    }
}

/// A fused kernel with a stable name, a pattern it replaces, and a forward on a backend.
public protocol PluginBase: Sendable {
    /// Stable name recorded in engines (e.g. `SwiGLUPlugin`).
    var name: String { get }
    /// The subgraph rooted at op `index` this plugin replaces, or nil.
    /// - Parameter readers: for each value, the indices of the ops that read it.
    func match(_ graph: Graph, at index: Int, readers: [[Int]]) -> PluginMatch?
    /// Output width for the given input widths.
    func outputWidth(inputWidths: [Int]) -> Int
    /// Computes the output rows from the input rows.
    func forward(inputs: [Matrix], output: Matrix, backend: any Backend)
}

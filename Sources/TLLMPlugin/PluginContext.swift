// What a plugin op's forward receives each step: the packed batch's context, and the forward's type.
import TLLMBackend
import TLLMModel

/// What one forward step gives every plugin: the backend and the packed batch.
public struct PluginContext {
    public let backend: any Backend
    /// Token ids of the packed batch.
    public let tokens: [Int32]
    /// Positions, sequences, block tables and cache slots of the packed batch.
    public let attention: AttentionMetadata
    /// The token rows whose logits the batch asks for, in batch order.
    public let outputRows: [Int]
    /// The KV cache of a layer.
    public let kvLayer: (Int) -> KVLayerView

    public init(backend: any Backend, tokens: [Int32], attention: AttentionMetadata, outputRows: [Int],
                kvLayer: @escaping (Int) -> KVLayerView) {
        self.backend = backend
        self.tokens = tokens
        self.attention = attention
        self.outputRows = outputRows
        self.kvLayer = kvLayer
    }
}

/// A configured op's forward: computes `output`'s rows from `inputs` on `context.backend`. The
/// engine makes one per op when it loads (``PluginBase/configure(fields:weights:)``) and calls it
/// every step (TensorRT's `enqueue`), so it should do no more per call than the kernel launch.
public typealias PluginForward = (_ inputs: [Matrix], _ output: Matrix, _ context: PluginContext) -> Void

// What a plugin's forward receives: the packed batch's context and the op's resolved operands.
import TLLMBackend
import TLLMModel

/// What one forward step gives every plugin: the backend and the packed batch.
public struct PluginContext {
    public let backend: any Backend
    /// Token ids of the packed batch.
    public let tokens: [Int32]
    /// Positions, sequences, block tables and cache slots of the packed batch.
    public let attention: AttentionMetadata
    /// The KV cache of a layer.
    public let kvLayer: (Int) -> KVLayerView

    public init(backend: any Backend, tokens: [Int32], attention: AttentionMetadata, kvLayer: @escaping (Int) -> KVLayerView) {
        self.backend = backend
        self.tokens = tokens
        self.attention = attention
        self.kvLayer = kvLayer
    }
}

/// One plugin op being run: its inputs and output rows, its resolved weights and fields.
public struct PluginCall {
    public let inputs: [Matrix]
    public let output: Matrix
    /// `fields.weights` resolved, in order.
    public let weights: [Tensor]
    public let fields: PluginFields
    public let context: PluginContext

    public init(inputs: [Matrix], output: Matrix, weights: [Tensor], fields: PluginFields, context: PluginContext) {
        self.inputs = inputs
        self.output = output
        self.weights = weights
        self.fields = fields
        self.context = context
    }
}

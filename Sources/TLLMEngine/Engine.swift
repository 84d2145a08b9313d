// A built engine: the model's graph after the Builder's passes, the weights it reads, and how it was built.
import TLLMBackend
import TLLMModel

/// What the Builder produces and a ``ModelEngine`` runs (TensorRT-LLM's engine).
public struct Engine: Sendable {
    public let config: ModelConfig
    public let buildConfig: BuildConfig
    /// Resolved limit: the longest sequence this engine accepts.
    public let maxSeqLen: Int
    public let graph: Graph
    /// Only the weights the graph reads, by checkpoint key.
    public let weights: [String: Tensor]
    /// Names of the plugins the graph uses.
    public let pluginNames: [String]
    /// What the Builder did, one line per decision.
    public let buildLog: [String]
    /// Named byte blobs stored with the engine for the layers above it (e.g. `tokenizer.gguf`, the
    /// checkpoint's tokenizer metadata, so an engine file runs without its checkpoint).
    public var attachments: [String: [UInt8]]

    public init(config: ModelConfig, buildConfig: BuildConfig, maxSeqLen: Int, graph: Graph,
                weights: [String: Tensor], pluginNames: [String], buildLog: [String],
                attachments: [String: [UInt8]] = [:]) {
        self.config = config
        self.buildConfig = buildConfig
        self.maxSeqLen = maxSeqLen
        self.graph = graph
        self.weights = weights
        self.pluginNames = pluginNames
        self.buildLog = buildLog
        self.attachments = attachments
    }

    /// Bytes of weight storage the engine reads.
    public var weightBytes: Int { weights.values.reduce(0) { $0 + $1.byteCount } }
}

// An engine that is already built (read from an engine file) standing in where a model is expected.
import TLLMBackend
import TLLMEngine
import TLLMModel

/// Wraps a built ``Engine`` as a ``CausalLM`` so that APIs taking a model also take an engine file:
/// ``Builder/build(_:_:plugins:progress:)`` returns the wrapped engine unchanged (an engine carries
/// its own ``BuildConfig``; the one passed to the build is ignored, as TensorRT-LLM's LLM does).
public struct PrebuiltEngine: CausalLM {
    public let engine: Engine

    public init(_ engine: Engine) { self.engine = engine }

    public var config: ModelConfig { engine.config }
    public var weights: [String: Tensor] { engine.weights }

    /// The engine's graph (already rewritten by the Builder).
    public func trace(_ graph: inout GraphBuilder) -> ValueID { graph.append(engine.graph) }
}

// What every model family provides: its configuration, its named weights, and a trace of its forward pass.
import TLLMBackend

/// A decoder-only language model as a module tree over named weights.
public protocol CausalLM: Sendable {
    var config: ModelConfig { get }
    /// Weights by checkpoint key (GGUF names: `token_embd.weight`, `blk.0.attn_q.weight`, …).
    var weights: [String: Tensor] { get }
    /// Lowers the forward pass into graph ops; returns the logits value (rows: `.outputs`, width: vocab).
    func trace(_ graph: inout GraphBuilder) -> ValueID
}

extension CausalLM {
    /// The traced forward pass.
    public func graph() -> Graph {
        var builder = GraphBuilder()
        let logits = trace(&builder)
        return builder.finish(output: logits)
    }
}

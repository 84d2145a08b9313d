// The front door's one error type: which layer refused, and what to fix.
import TLLMEngine
import TLLMModel
import TLLMRuntime

/// Anything the LLM API can fail with, wrapping the layer's own typed error.
public enum LLMError: Error, Sendable, CustomStringConvertible {
    case model(ModelError)
    case tokenizer(TokenizerError)
    case engine(EngineError)
    /// An engine file that is corrupt, truncated, from a newer version or unreadable.
    case engineFile(EngineFileError)
    case runtime(RuntimeError)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .model(let e): e.description
        case .tokenizer(let e): e.description
        case .engine(let e): e.description
        case .engineFile(let e): e.description
        case .runtime(let e): e.description
        case .invalidArgument(let m): "invalid argument: \(m)"
        }
    }
}

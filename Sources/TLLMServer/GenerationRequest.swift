// What both endpoints reduce a request to: token-id prompts, sampling parameters and output options,
// parsed from the fields OpenAI's completions and chat APIs share and checked against the engine's limits.
import MiniTRTLLM

/// How log-probabilities are reported.
enum LogprobsFormat: Sendable, Equatable {
    case none
    /// Completions: `logprobs: n` → tokens, token_logprobs, top_logprobs (n alternatives), text_offset.
    case completion(top: Int)
    /// Chat: `logprobs: true, top_logprobs: n` → content[] with token, logprob, bytes, top_logprobs.
    case chat(top: Int)

    var topCount: Int? {
        switch self {
        case .none: nil
        case .completion(let n), .chat(let n): n
        }
    }
}

/// A validated request, ready for the engine.
struct GenerationRequest: Sendable {
    /// One token-id prompt per choice group (completions may send several prompts).
    var prompts: [[Int32]]
    var params: SamplingParams
    var stream: Bool
    var includeUsage: Bool
    var logprobs: LogprobsFormat
    /// The client's `user` string, logged only.
    var user: String?
}

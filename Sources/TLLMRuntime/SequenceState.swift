// One generating sequence: its tokens, how many are in the cache, its sampler and when it is done.
// Shared by Runtime.generate (one request) and the Executor (many).

/// Why a sequence stopped.
public enum FinishReason: String, Sendable, Codable {
    /// Hit the end id, a stop id or a stop string.
    case stop
    /// Reached max_tokens or the engine's max_seq_len.
    case length
    case cancelled
}

/// A sequence's progress: `tokens` = prompt + generated; the first `numComputed` are in the KV cache.
/// Each step runs `tokens[numComputed...]` (a prompt chunk, a recompute after preemption, or the
/// last sampled token).
public struct SequenceState: Sendable {
    public let promptLength: Int
    public private(set) var tokens: [Int32]
    public var numComputed = 0
    public private(set) var finishReason: FinishReason?
    private var sampler: Sampler
    private let maxSeqLen: Int

    public init(prompt: [Int32], params: SamplingParams, maxSeqLen: Int) {
        promptLength = prompt.count
        tokens = prompt
        sampler = Sampler(params: params)
        self.maxSeqLen = maxSeqLen
    }

    public var params: SamplingParams { sampler.params }
    public var generated: ArraySlice<Int32> { tokens[promptLength...] }
    public var isFinished: Bool { finishReason != nil }
    /// Tokens not yet in the cache.
    public var pending: Int { tokens.count - numComputed }
    /// Positions this sequence can ever occupy: prompt + max_tokens, capped by max_seq_len.
    public var maxLength: Int { min(promptLength + params.maxTokens, maxSeqLen) }

    /// Samples the next token from the logits of the last cached position and checks the stop conditions.
    /// - Precondition: every token is computed and the sequence is not finished.
    public mutating func accept(logits: ArraySlice<Float>) -> SampledToken {
        precondition(pending == 0 && !isFinished, "sampling a sequence with uncomputed tokens or after it finished")
        let sampled = sampler.sample(logits, tokens: tokens[...], promptLength: promptLength)
        tokens.append(sampled.id)
        let p = sampler.params
        if (!p.ignoreEOS && sampled.id == p.endID) || p.stopTokenIDs.contains(sampled.id) {
            finishReason = .stop
        } else if generated.count >= p.maxTokens || tokens.count >= maxSeqLen {
            finishReason = .length
        }
        return sampled
    }

    /// Ends the sequence early (a stop string matched, or the client cancelled).
    public mutating func finish(_ reason: FinishReason) { finishReason = reason }

    /// Forgets the cache contents (preemption by recompute): every token will be computed again.
    public mutating func resetComputed() { numComputed = 0 }
}

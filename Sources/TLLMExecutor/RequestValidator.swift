// Checks at the door: a request that can never run is refused with the numbers, never queued.
import TLLMRuntime

/// The engine's and cache's limits, checked against each request before it is queued.
public struct RequestValidator: Sendable {
    public let vocabSize: Int
    public let maxSeqLen: Int
    public let maxInputLen: Int?
    public let cacheTokens: Int

    public init(vocabSize: Int, maxSeqLen: Int, maxInputLen: Int?, cacheTokens: Int) {
        self.vocabSize = vocabSize
        self.maxSeqLen = maxSeqLen
        self.maxInputLen = maxInputLen
        self.cacheTokens = cacheTokens
    }

    /// - Throws: ``RuntimeError`` naming the field or limit: bad sampling parameters, an empty or
    ///   too long prompt, ids outside the vocabulary, or more KV-cache tokens than the cache has.
    public func validate(_ request: Request) throws(RuntimeError) {
        try request.params.validate()
        let prompt = request.promptIDs.count
        guard prompt > 0 else { throw RuntimeError(.invalidRequest, "the prompt has no tokens") }
        guard prompt < maxSeqLen else {
            throw RuntimeError(.invalidRequest, "the prompt has \(prompt) tokens; max_seq_len is \(maxSeqLen), so it must be shorter")
        }
        if let maxInputLen, prompt > maxInputLen {
            throw RuntimeError(.invalidRequest, "the prompt has \(prompt) tokens; max_input_len is \(maxInputLen)")
        }
        if let bad = request.promptIDs.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw RuntimeError(.invalidRequest, "prompt token id \(bad) is outside the vocabulary 0..<\(vocabSize)")
        }
        let worst = min(prompt + request.params.maxTokens, maxSeqLen)
        if worst > cacheTokens {
            throw RuntimeError(.invalidRequest, "prompt (\(prompt)) + max_tokens (\(request.params.maxTokens)) needs \(worst) KV-cache tokens; the cache holds \(cacheTokens)")
        }
    }

    /// Checks ids for teacher-forced scoring: non-empty, at most max_seq_len, inside the vocabulary.
    public func validateScoring(_ ids: [Int32]) throws(RuntimeError) {
        guard !ids.isEmpty else { throw RuntimeError(.invalidRequest, "no token ids to score") }
        guard ids.count <= maxSeqLen else {
            throw RuntimeError(.invalidRequest, "\(ids.count) ids exceed max_seq_len \(maxSeqLen)")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw RuntimeError(.invalidRequest, "token id \(bad) is outside the vocabulary 0..<\(vocabSize)")
        }
    }
}

// How to pick each next token, and when to stop. Validated before a request runs.

/// Decoding settings of one request (TensorRT-LLM's / vLLM's `SamplingParams`).
public struct SamplingParams: Sendable, Codable, Equatable {
    /// Most tokens to generate.
    public var maxTokens: Int
    /// Fewest tokens to generate before the end id or a stop id may end the request.
    public var minTokens: Int
    /// Softmax temperature; 0 means greedy.
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 keeps all. k = 1 is greedy.
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p; 1 keeps all.
    public var topP: Float
    /// Drop tokens less likely than `minP` times the most likely one; 0 keeps all.
    public var minP: Float
    /// Divides positive (multiplies negative) logits of tokens already in the prompt or output; 1 is off.
    public var repetitionPenalty: Float
    /// Subtracted from the logit of every token already generated; 0 is off.
    public var presencePenalty: Float
    /// Subtracted once per earlier occurrence of a token in the output; 0 is off.
    public var frequencyPenalty: Float
    /// Seed of this request's own random stream; nil draws one.
    public var seed: UInt64?
    /// End-of-sequence id (set from the tokenizer by the LLM API); nil never stops on EOS.
    public var endID: Int32?
    /// Generation also stops after any of these ids.
    public var stopTokenIDs: [Int32]
    /// Generation stops when the text contains any of these; the text is cut before it.
    public var stop: [String]
    /// Keep generating past `endID` until `maxTokens`.
    public var ignoreEOS: Bool
    /// Return the sampled token's log-probability and the `logprobs` most likely alternatives; nil for none.
    public var logprobs: Int?

    public init(maxTokens: Int = 16, minTokens: Int = 0, temperature: Float = 1, topK: Int = 0, topP: Float = 1,
                minP: Float = 0, repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                seed: UInt64? = nil, endID: Int32? = nil, stopTokenIDs: [Int32] = [], stop: [String] = [],
                ignoreEOS: Bool = false, logprobs: Int? = nil) {
        self.maxTokens = maxTokens
        self.minTokens = minTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
        self.endID = endID
        self.stopTokenIDs = stopTokenIDs
        self.stop = stop
        self.ignoreEOS = ignoreEOS
        self.logprobs = logprobs
    }

    /// Greedy decoding of up to `maxTokens` tokens.
    public static func greedy(maxTokens: Int = 16) -> SamplingParams {
        SamplingParams(maxTokens: maxTokens, temperature: 0)
    }

    /// Whether sampling reduces to argmax (penalties still apply).
    public var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// Whether any penalty changes the logits.
    public var hasPenalties: Bool { repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 }

    /// Most alternatives `logprobs` may ask for.
    public static let maxLogprobs = 20

    /// - Throws: ``RuntimeError`` (`.invalidSamplingParams`) naming the field and its valid range.
    public func validate() throws(RuntimeError) {
        func check(_ ok: Bool, _ message: String) throws(RuntimeError) {
            if !ok { throw RuntimeError(.invalidSamplingParams, message) }
        }
        try check(maxTokens >= 1, "max_tokens is \(maxTokens); it must be at least 1")
        try check(minTokens >= 0 && minTokens <= maxTokens, "min_tokens is \(minTokens); it must be in 0...max_tokens (\(maxTokens))")
        try check(temperature.isFinite && temperature >= 0, "temperature is \(temperature); it must be a finite number ≥ 0")
        try check(topK >= 0, "top_k is \(topK); it must be ≥ 0 (0 disables it)")
        try check(topP.isFinite && topP > 0 && topP <= 1, "top_p is \(topP); it must be in (0, 1]")
        try check(minP.isFinite && minP >= 0 && minP <= 1, "min_p is \(minP); it must be in [0, 1]")
        try check(repetitionPenalty.isFinite && repetitionPenalty > 0, "repetition_penalty is \(repetitionPenalty); it must be > 0 (1 disables it)")
        try check(presencePenalty.isFinite && abs(presencePenalty) <= 2, "presence_penalty is \(presencePenalty); it must be in [-2, 2]")
        try check(frequencyPenalty.isFinite && abs(frequencyPenalty) <= 2, "frequency_penalty is \(frequencyPenalty); it must be in [-2, 2]")
        try check(stop.allSatisfy { !$0.isEmpty }, "stop strings must not be empty")
        try check(stop.count <= 16, "at most 16 stop strings are supported, got \(stop.count)")
        if let n = logprobs {
            try check(n >= 0 && n <= Self.maxLogprobs, "logprobs is \(n); it must be in 0...\(Self.maxLogprobs)")
        }
    }
}

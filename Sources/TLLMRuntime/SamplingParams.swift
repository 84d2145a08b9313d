// How to pick each next token, and when to stop. Validated before a request runs.

/// Decoding settings of one request (TensorRT-LLM's `SamplingParams`).
public struct SamplingParams: Sendable, Codable, Equatable {
    /// Most tokens to generate.
    public var maxTokens: Int
    /// Softmax temperature; 0 means greedy.
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 keeps all. k = 1 is greedy.
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p; 1 keeps all.
    public var topP: Float
    /// Seed of this request's own random stream; nil draws one.
    public var seed: UInt64?
    /// End-of-sequence id (set from the tokenizer by the LLM API); nil never stops on EOS.
    public var endID: Int32?
    /// Generation also stops after any of these ids.
    public var stopTokenIDs: [Int32]
    /// Keep generating past `endID` until `maxTokens`.
    public var ignoreEOS: Bool

    public init(maxTokens: Int = 16, temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64? = nil,
                endID: Int32? = nil, stopTokenIDs: [Int32] = [], ignoreEOS: Bool = false) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.endID = endID
        self.stopTokenIDs = stopTokenIDs
        self.ignoreEOS = ignoreEOS
    }

    /// Greedy decoding of up to `maxTokens` tokens.
    public static func greedy(maxTokens: Int = 16) -> SamplingParams {
        SamplingParams(maxTokens: maxTokens, temperature: 0)
    }

    /// Whether sampling reduces to argmax.
    public var isGreedy: Bool { temperature == 0 || topK == 1 }

    /// - Throws: ``RuntimeError`` (`.invalidSamplingParams`) naming the field and its valid range.
    public func validate() throws(RuntimeError) {
        func check(_ ok: Bool, _ message: String) throws(RuntimeError) {
            if !ok { throw RuntimeError(.invalidSamplingParams, message) }
        }
        try check(maxTokens >= 1, "max_tokens is \(maxTokens); it must be at least 1")
        try check(temperature.isFinite && temperature >= 0, "temperature is \(temperature); it must be a finite number ≥ 0")
        try check(topK >= 0, "top_k is \(topK); it must be ≥ 0 (0 disables it)")
        try check(topP.isFinite && topP > 0 && topP <= 1, "top_p is \(topP); it must be in (0, 1]")
    }
}

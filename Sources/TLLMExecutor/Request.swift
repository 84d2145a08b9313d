// What a client submits and what the executor sends back.
import TLLMRuntime

/// Identifies a submitted request.
public typealias RequestID = Int

/// Turns token ids into text as they arrive, never splitting a UTF-8 character. The executor uses
/// it for text deltas and stop strings without knowing what a tokenizer is; the LLM API supplies one.
public protocol IncrementalTextDecoder: Sendable {
    /// The text completed by `id` (possibly empty while a character is incomplete).
    mutating func append(_ id: Int32) -> String
    /// Whatever is still held back.
    mutating func finish() -> String
}

/// One generation request (TensorRT-LLM's `Request`).
public struct Request: Sendable {
    public var promptIDs: [Int32]
    /// Sampling, stop ids, stop strings, max/min tokens, logprobs.
    public var params: SamplingParams
    /// Emit a response every step (true) or one response when the request finishes (false).
    public var streaming: Bool
    /// Decodes generated ids for text deltas and stop strings; nil gives no text (and no stop strings).
    public var textDecoder: (any IncrementalTextDecoder)?

    public init(promptIDs: [Int32], params: SamplingParams, streaming: Bool = false,
                textDecoder: (any IncrementalTextDecoder)? = nil) {
        self.promptIDs = promptIDs
        self.params = params
        self.streaming = streaming
        self.textDecoder = textDecoder
    }
}

/// Timings and counts of one finished request.
public struct RequestStats: Sendable, Equatable {
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Prompt tokens whose KV came from the prefix cache.
    public var reusedTokens: Int
    /// Times the request was preempted and recomputed.
    public var preemptions: Int
    /// From submission to first scheduling.
    public var queueTime: Duration
    /// From submission to the first generated token.
    public var timeToFirstToken: Duration?
    /// Mean time between generated tokens after the first.
    public var timePerOutputToken: Duration?
    /// From submission to the end.
    public var endToEnd: Duration
}

/// New output of one request. Streaming requests get one per step that produced something;
/// others get a single response with everything when they finish.
public struct Response: Sendable {
    public var requestID: RequestID
    /// Tokens generated since the last response.
    public var newTokens: [Int32]
    /// Text completed since the last response (empty without a text decoder). Held back while a
    /// stop string may still be forming; cut before a matched stop string.
    public var text: String
    /// Log-probabilities of `newTokens` (when asked for), one entry per token.
    public var logprobs: [SampledToken]
    /// Set on the request's last response.
    public var finishReason: FinishReason?
    /// Set on the request's last response.
    public var stats: RequestStats?

    public var isFinal: Bool { finishReason != nil }
}

// What a client submits and what the executor sends back.
import TLLMRuntime

/// One generation request (TensorRT-LLM's `Request`).
public struct Request: Sendable {
    public var promptIDs: [Int32]
    public var params: SamplingParams

    public init(promptIDs: [Int32], params: SamplingParams) {
        self.promptIDs = promptIDs
        self.params = params
    }
}

/// Identifies a submitted request.
public typealias RequestID = Int

/// New output of one request after one executor step.
public struct Response: Sendable, Equatable {
    public var requestID: RequestID
    /// Tokens generated this step (one per step while decoding).
    public var newTokens: [Int32]
    /// Set on the request's last response.
    public var finishReason: FinishReason?
}

// What a benchmark talks to: the LLM API in-process, or an OpenAI-compatible server over HTTP.
import Foundation
import MiniTRTLLM

/// Timestamps of one request's life, as seen by the client.
public struct RequestTiming: Sendable {
    public var start: ContinuousClock.Instant
    /// When each streamed piece with at least one token arrived, and how many tokens it carried.
    public var chunks: [(at: ContinuousClock.Instant, tokens: Int)] = []
    public var end: ContinuousClock.Instant?
    public var promptTokens = 0
    public var outputTokens = 0
    /// Generated token ids (in-process) — or nil where only text is known (HTTP).
    public var outputIDs: [Int32]?
    public var outputText = ""
    public var error: String?
}

/// Sends one request and reports its timing; implementations stream so TTFT and inter-token
/// latency are real.
public protocol BenchTarget: Sendable {
    /// A short description for reports ("in-process: SmolLM2…", "http://127.0.0.1:8000").
    var label: String { get }
    func send(_ request: BenchRequest) async -> RequestTiming
}

/// The LLM API in this process (`throughput` mode).
public struct InProcessTarget: BenchTarget {
    public let llm: LLM
    public let label: String

    public init(llm: LLM, label: String) {
        self.llm = llm
        self.label = label
    }

    public func send(_ request: BenchRequest) async -> RequestTiming {
        var timing = RequestTiming(start: .now)
        var params = SamplingParams.greedy(maxTokens: request.outputTokens)
        params.ignoreEOS = true
        let ids = request.inputIDs ?? llm.tokenizer.encode(request.prompt ?? "")
        timing.promptTokens = ids.count
        var out: [Int32] = []
        do {
            for try await delta in try llm.generateAsync(promptIDs: ids, params) {
                if !delta.tokenIDs.isEmpty { timing.chunks.append((.now, delta.tokenIDs.count)) }
                out += delta.tokenIDs
                timing.outputText += delta.text
            }
        } catch {
            timing.error = "\(error)"
        }
        timing.end = .now
        timing.outputIDs = out
        timing.outputTokens = out.count
        return timing
    }
}

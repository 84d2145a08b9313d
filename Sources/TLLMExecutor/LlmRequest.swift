// The executor's record of one request: its sequence, text decoding, stop strings and timings.
import TLLMRuntime

/// Internal state of one request (TensorRT-LLM's `LlmRequest`). Owned by the executor.
struct LlmRequest {
    let id: RequestID
    let streaming: Bool
    var sequence: SequenceState
    private var decoder: (any IncrementalTextDecoder)?
    private var stops: StopStringMatcher
    // Output not yet handed out in a response.
    private var newTokens: [Int32] = []
    private var newText = ""
    private var newLogprobs: [SampledToken] = []
    private var finalSent = false
    private var stoppedByString = false
    // Timings and counters.
    private let arrival: ContinuousClock.Instant
    private var firstScheduled: ContinuousClock.Instant?
    private var firstToken: ContinuousClock.Instant?
    private var lastToken: ContinuousClock.Instant?
    private var reusedTokens = 0
    private var preemptions = 0

    init(id: RequestID, request: Request, maxSeqLen: Int, arrival: ContinuousClock.Instant) {
        self.id = id
        streaming = request.streaming
        sequence = SequenceState(prompt: request.promptIDs, params: request.params, maxSeqLen: maxSeqLen)
        decoder = request.textDecoder
        stops = StopStringMatcher(request.textDecoder == nil ? [] : request.params.stop)
        self.arrival = arrival
    }

    /// Now holds blocks; `reusedTokens` of its tokens came from the prefix cache.
    mutating func admit(reusedTokens reused: Int, now: ContinuousClock.Instant) {
        sequence.numComputed = reused
        if firstScheduled == nil {
            firstScheduled = now
            reusedTokens = reused
        }
    }

    /// Lost its blocks: everything will be recomputed when it is admitted again.
    mutating func preempt() {
        sequence.resetComputed()
        preemptions += 1
    }

    /// Samples from the logits of its last position and runs the stop checks.
    mutating func accept(logits: ArraySlice<Float>, now: ContinuousClock.Instant) {
        let sampled = sequence.accept(logits: logits)
        if firstToken == nil { firstToken = now }
        lastToken = now
        newTokens.append(sampled.id)
        if sequence.params.logprobs != nil { newLogprobs.append(sampled) }
        guard var d = decoder else { return }
        let (text, stopped) = stops.feed(d.append(sampled.id))
        decoder = d
        newText += text
        if stopped {
            stoppedByString = true
            sequence.finish(.stop)
        }
    }

    /// A streaming response with what was produced since the last one, if anything (not the final one).
    mutating func takeResponse() -> Response? {
        guard streaming, !sequence.isFinished, !newTokens.isEmpty else { return nil }
        defer { newTokens = []; newText = ""; newLogprobs = [] }
        return Response(requestID: id, newTokens: newTokens, text: newText, logprobs: newLogprobs, finishReason: nil, stats: nil)
    }

    /// The last response, once the request has finished.
    mutating func takeFinalResponse(now: ContinuousClock.Instant) -> Response? {
        guard let reason = sequence.finishReason, !finalSent else { return nil }
        finalSent = true
        if !stoppedByString, var d = decoder {
            let (rest, stopped) = stops.feed(d.finish())
            decoder = d
            newText += rest
            if !stopped { newText += stops.flush() }
        }
        let generated = sequence.generated.count
        let tpot = generated > 1 ? (lastToken! - firstToken!) / (generated - 1) : nil
        let stats = RequestStats(promptTokens: sequence.promptLength, generatedTokens: generated, reusedTokens: reusedTokens,
                                 preemptions: preemptions, queueTime: (firstScheduled ?? now) - arrival,
                                 timeToFirstToken: firstToken.map { $0 - arrival }, timePerOutputToken: tpot,
                                 endToEnd: now - arrival)
        return Response(requestID: id, newTokens: newTokens, text: newText, logprobs: newLogprobs, finishReason: reason, stats: stats)
    }
}

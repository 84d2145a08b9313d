// The fields /v1/completions and /v1/chat/completions share: model, n, stream options, sampling,
// unsupported OpenAI fields, and max_tokens checked against the engine's limits.
import MiniTRTLLM

/// Parses the fields shared by /v1/completions and /v1/chat/completions.
struct SamplingFieldParser {
    let limits: ModelLimits

    /// Checks `model`, sampling fields, `n`, `stream` and its options. `maxTokens` is resolved later,
    /// once the prompt lengths are known.
    /// - Throws: ``APIError``: 404 for an unknown model, 400 naming any other bad field.
    func parse(_ f: FieldReader, servedModel: String) throws(APIError) -> (params: SamplingParams, stream: Bool, includeUsage: Bool, user: String?) {
        guard let model = try f.string("model") else {
            throw APIError.badRequest("model is required; this server serves `\(servedModel)`", param: "model")
        }
        guard model == servedModel else { throw APIError.modelNotFound(model) }
        if let n = try f.int("n"), n != 1 {
            throw APIError.badRequest("n is \(n); this server returns exactly one choice per prompt (n = 1)", param: "n")
        }
        let stream = try f.bool("stream") ?? false
        var includeUsage = false
        if let options = f.value("stream_options") {
            guard stream else { throw APIError.badRequest("stream_options is only allowed when stream is true", param: "stream_options") }
            let o = try FieldReader(options, path: "stream_options.", what: "stream_options")
            includeUsage = try o.bool("include_usage") ?? false
        }
        var p = SamplingParams(maxTokens: 1)
        p.temperature = Float(try f.double("temperature", in: 0...2) ?? 1)
        p.topP = Float(try f.double("top_p", in: 0...1) ?? 1)
        guard p.topP > 0 else { throw APIError.badRequest("top_p is 0; it must be in (0, 1]", param: "top_p") }
        let topK = try f.int("top_k", in: -1...Int(Int32.max), hint: "it must be ≥ 0, or -1 to disable it") ?? 0
        p.topK = max(topK, 0)
        p.minP = Float(try f.double("min_p", in: 0...1) ?? 0)
        p.presencePenalty = Float(try f.double("presence_penalty", in: -2...2) ?? 0)
        p.frequencyPenalty = Float(try f.double("frequency_penalty", in: -2...2) ?? 0)
        let repetition = try f.double("repetition_penalty", in: 0...100, hint: "it must be in (0, 100]; 1 disables it") ?? 1
        guard repetition > 0 else { throw APIError.badRequest("repetition_penalty is 0; it must be > 0 (1 disables it)", param: "repetition_penalty") }
        p.repetitionPenalty = Float(repetition)
        if let seed = try f.int("seed") { p.seed = UInt64(bitPattern: Int64(seed)) }
        if let stop = try f.strings("stop") {
            guard stop.count <= 16 else { throw APIError.badRequest("stop has \(stop.count) strings; at most 16 are supported", param: "stop") }
            if stop.contains(where: \.isEmpty) { throw APIError.badRequest("stop strings must not be empty", param: "stop") }
            p.stop = stop
        }
        p.minTokens = try f.int("min_tokens", in: 0...limits.maxSeqLen) ?? 0
        p.ignoreEOS = try f.bool("ignore_eos") ?? false
        let user = try f.string("user")
        try refuseUnsupported(f)
        return (p, stream, includeUsage, user)
    }

    /// Fields OpenAI defines that this server does not implement: refused when set to anything but their default.
    private func refuseUnsupported(_ f: FieldReader) throws(APIError) {
        if let bestOf = try f.int("best_of"), bestOf != 1 {
            throw APIError.badRequest("best_of is \(bestOf); only 1 is supported", param: "best_of")
        }
        if try f.bool("echo") == true { throw APIError.badRequest("echo is not supported", param: "echo") }
        if try f.string("suffix") != nil { throw APIError.badRequest("suffix is not supported", param: "suffix") }
        if let bias = f.value("logit_bias") {
            guard case .object(let pairs) = bias else { throw f.wrongType("logit_bias", "an object", bias) }
            if !pairs.isEmpty { throw APIError.badRequest("logit_bias is not supported", param: "logit_bias") }
        }
        if let tools = f.value("tools"), tools != .array([]) {
            throw APIError.badRequest("tools are not supported by this server", param: "tools")
        }
        if f.value("functions") != nil { throw APIError.badRequest("functions are not supported by this server", param: "functions") }
        if let format = f.value("response_format") {
            let r = try FieldReader(format, path: "response_format.", what: "response_format")
            if let type = try r.string("type"), type != "text" {
                throw APIError.badRequest("response_format.type \(type) is not supported; only text is", param: "response_format")
            }
        }
    }

    /// Resolves `max_tokens` against the longest prompt and checks every prompt against the engine.
    /// - Parameters:
    ///   - requested: The client's `max_tokens` (nil: `defaultMaxTokens`, capped to what fits).
    ///   - promptField: The field the prompt came from (`prompt` or `messages`), for messages.
    func resolveMaxTokens(_ requested: Int?, field: String, prompts: [[Int32]], promptField: String,
                          defaultMaxTokens: Int) throws(APIError) -> Int {
        let longest = prompts.map(\.count).max() ?? 0
        for ids in prompts {
            if ids.isEmpty { throw APIError.badRequest("\(promptField) is empty: it encodes to no tokens", param: promptField) }
            if ids.count >= limits.maxSeqLen {
                throw APIError.badRequest("\(promptField) has \(ids.count) tokens; this model's maximum context length is \(limits.maxSeqLen) tokens, so the prompt must be shorter", param: promptField)
            }
            if let maxInput = limits.maxInputLen, ids.count > maxInput {
                throw APIError.badRequest("\(promptField) has \(ids.count) tokens; the engine's max_input_len is \(maxInput)", param: promptField)
            }
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= limits.vocabSize }) {
                throw APIError.badRequest("\(promptField) contains token id \(bad), outside the vocabulary 0..<\(limits.vocabSize)", param: promptField)
            }
        }
        let room = min(limits.maxSeqLen, limits.cacheTokens) - longest
        guard let requested else { return max(1, min(defaultMaxTokens, room)) }
        guard requested >= 1 else { throw APIError.badRequest("\(field) is \(requested); it must be at least 1", param: field) }
        // Compared by subtraction: `requested` may be as large as Int.max.
        if requested > limits.maxSeqLen - longest {
            throw APIError.badRequest("\(field) is \(requested), but the prompt has \(longest) tokens and this model's maximum context length is \(limits.maxSeqLen) tokens: \(field) must be at most \(limits.maxSeqLen - longest)", param: field)
        }
        if requested > limits.cacheTokens - longest {
            throw APIError.badRequest("\(field) is \(requested), but prompt + \(field) needs \(longest + requested) KV-cache tokens and the cache holds \(limits.cacheTokens): \(field) must be at most \(limits.cacheTokens - longest)", param: field)
        }
        return requested
    }
}

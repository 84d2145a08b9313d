// OpenAI response bodies and stream chunks, field for field: ids, `created`, `object`, choices with
// `finish_reason` (explicitly null while streaming), logprobs in each API's own shape, and `usage`.
import MiniTRTLLM

/// Token counts of a response.
struct Usage: Sendable {
    var promptTokens: Int
    var completionTokens: Int

    var json: JSON {
        .object([("prompt_tokens", .int(promptTokens)), ("completion_tokens", .int(completionTokens)),
                 ("total_tokens", .int(promptTokens + completionTokens))])
    }
}

/// Builds the JSON of one response (or of the chunks of one streamed response).
struct ResponseFormatter: Sendable {
    enum Kind: Sendable { case completion, chat }

    let kind: Kind
    let id: String
    let created: Int
    let model: ServedModel
    let logprobs: LogprobsFormat
    /// Whether stream chunks carry `"usage": null` (OpenAI does when `include_usage` is set).
    let includeUsage: Bool

    static func finishReason(_ reason: FinishReason?) -> JSON {
        switch reason {
        case .stop?: .string("stop")
        case .length?: .string("length")
        case .cancelled?: .string("abort")
        case nil: .null
        }
    }

    // MARK: Whole responses

    /// One choice of a non-streamed response.
    func choice(index: Int, text: String, tokens: [SampledToken], textOffset: Int = 0, finishReason: FinishReason?) -> JSON {
        switch kind {
        case .completion:
            .object([("index", .int(index)), ("text", .string(text)), ("logprobs", logprobsJSON(tokens, textOffset: textOffset)),
                     ("finish_reason", Self.finishReason(finishReason))])
        case .chat:
            .object([("index", .int(index)),
                     ("message", .object([("role", .string("assistant")), ("content", .string(text)), ("refusal", .null)])),
                     ("logprobs", logprobsJSON(tokens, textOffset: textOffset)), ("finish_reason", Self.finishReason(finishReason))])
        }
    }

    func response(choices: [JSON], usage: Usage) -> JSON {
        .object([("id", .string(id)), ("object", .string(kind == .completion ? "text_completion" : "chat.completion")),
                 ("created", .int(created)), ("model", .string(model.name)), ("system_fingerprint", .null),
                 ("choices", .array(choices)), ("usage", usage.json)])
    }

    // MARK: Stream chunks

    private func chunk(_ choices: [JSON], usage: JSON?) -> JSON {
        var pairs: [(String, JSON)] = [
            ("id", .string(id)), ("object", .string(kind == .completion ? "text_completion" : "chat.completion.chunk")),
            ("created", .int(created)), ("model", .string(model.name)), ("system_fingerprint", .null), ("choices", .array(choices)),
        ]
        if let usage { pairs.append(("usage", usage)) } else if includeUsage { pairs.append(("usage", .null)) }
        return .object(pairs)
    }

    /// The chat stream's first chunk: the assistant role, empty content.
    func roleChunk(index: Int) -> JSON {
        chunk([.object([("index", .int(index)), ("delta", .object([("role", .string("assistant")), ("content", .string(""))])),
                        ("logprobs", .null), ("finish_reason", .null)])], usage: nil)
    }

    /// A chunk with new text (and its tokens' logprobs), and the finish reason on the last one.
    func deltaChunk(index: Int, text: String, tokens: [SampledToken], textOffset: Int, finishReason: FinishReason?) -> JSON {
        let lp = logprobsJSON(tokens, textOffset: textOffset)
        switch kind {
        case .completion:
            return chunk([.object([("index", .int(index)), ("text", .string(text)), ("logprobs", lp),
                                   ("finish_reason", Self.finishReason(finishReason))])], usage: nil)
        case .chat:
            let delta: JSON = text.isEmpty && finishReason != nil ? .object([]) : .object([("content", .string(text))])
            return chunk([.object([("index", .int(index)), ("delta", delta), ("logprobs", lp),
                                   ("finish_reason", Self.finishReason(finishReason))])], usage: nil)
        }
    }

    /// The usage chunk sent after the finish chunks when `stream_options.include_usage` is set.
    func usageChunk(_ usage: Usage) -> JSON { chunk([], usage: usage.json) }

    // MARK: Logprobs

    private func logprobsJSON(_ tokens: [SampledToken], textOffset: Int) -> JSON {
        switch logprobs {
        case .none:
            return .null
        case .completion:
            var strings: [JSON] = [], values: [JSON] = [], tops: [JSON] = [], offsets: [JSON] = []
            var offset = textOffset
            for t in tokens {
                let s = model.tokenString(t.id)
                strings.append(.string(s))
                values.append(t.logprob.map { .double(Double($0)) } ?? .null)
                tops.append(.object(t.topLogprobs.map { (model.tokenString($0.id), .double(Double($0.logprob))) }))
                offsets.append(.int(offset))
                offset += s.utf16.count
            }
            return .object([("tokens", .array(strings)), ("token_logprobs", .array(values)),
                            ("top_logprobs", .array(tops)), ("text_offset", .array(offsets))])
        case .chat:
            let content: [JSON] = tokens.map { t in
                .object([("token", .string(model.tokenString(t.id))), ("logprob", .double(Double(t.logprob ?? 0))),
                         ("bytes", bytesJSON(t.id)),
                         ("top_logprobs", .array(t.topLogprobs.map { alt in
                             .object([("token", .string(model.tokenString(alt.id))), ("logprob", .double(Double(alt.logprob))),
                                      ("bytes", bytesJSON(alt.id))])
                         }))])
            }
            return .object([("content", .array(content)), ("refusal", .null)])
        }
    }

    private func bytesJSON(_ id: Int32) -> JSON { .array(model.tokenBytes(id).map { .int(Int($0)) }) }
}

// POST /v1/completions bodies: `prompt` as a string, strings, token ids or lists of token ids.
import MiniTRTLLM

/// Turns a completions body into a ``GenerationRequest``.
struct CompletionRequestParser {
    let model: ServedModel

    /// - Throws: ``APIError`` naming the bad field.
    func parse(_ body: JSON) throws(APIError) -> GenerationRequest {
        let f = try FieldReader(body)
        let fieldParser = SamplingFieldParser(limits: model.limits)
        var (params, stream, includeUsage, user) = try fieldParser.parse(f, servedModel: model.name)
        let prompts = try promptIDs(f)
        let top = try f.int("logprobs", in: 0...SamplingParams.maxLogprobs)
        params.logprobs = top
        params.maxTokens = try fieldParser.resolveMaxTokens(try f.int("max_tokens"), field: "max_tokens", prompts: prompts,
                                                           promptField: "prompt", defaultMaxTokens: 16)
        if params.minTokens > params.maxTokens {
            throw APIError.badRequest("min_tokens (\(params.minTokens)) exceeds max_tokens (\(params.maxTokens))", param: "min_tokens")
        }
        return GenerationRequest(prompts: prompts, params: params, stream: stream, includeUsage: includeUsage,
                                 logprobs: top.map { .completion(top: $0) } ?? .none, user: user)
    }

    private func promptIDs(_ f: FieldReader) throws(APIError) -> [[Int32]] {
        guard let prompt = f.value("prompt") else { throw APIError.badRequest("prompt is required", param: "prompt") }
        let maxPrompts = 64
        switch prompt {
        case .string(let text):
            return [model.encode(text)]
        case .array(let items):
            guard !items.isEmpty else { throw APIError.badRequest("prompt is an empty array", param: "prompt") }
            guard items.count <= maxPrompts || items.allSatisfy({ if case .int = $0 { true } else { false } }) else {
                throw APIError.badRequest("prompt has \(items.count) prompts; at most \(maxPrompts) are accepted per request", param: "prompt")
            }
            if items.allSatisfy({ if case .int = $0 { true } else { false } }) {
                return [try ids(items, "prompt")]
            }
            var out: [[Int32]] = []
            for (i, item) in items.enumerated() {
                switch item {
                case .string(let text): out.append(model.encode(text))
                case .array(let inner): out.append(try ids(inner, "prompt[\(i)]"))
                default:
                    throw APIError.badRequest("prompt[\(i)] must be a string or an array of token ids, not \(item.typeDescription)", param: "prompt")
                }
            }
            return out
        default:
            throw APIError.badRequest("prompt must be a string, an array of strings or an array of token ids, not \(prompt.typeDescription)", param: "prompt")
        }
    }

    private func ids(_ items: [JSON], _ name: String) throws(APIError) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .int(let id) = item else {
                throw APIError.badRequest("\(name)[\(i)] must be a token id (an integer), not \(item.typeDescription)", param: "prompt")
            }
            guard id >= 0, id < model.limits.vocabSize else {
                throw APIError.badRequest("\(name)[\(i)] is token id \(id), outside the vocabulary 0..<\(model.limits.vocabSize)", param: "prompt")
            }
            out.append(Int32(id))
        }
        return out
    }
}

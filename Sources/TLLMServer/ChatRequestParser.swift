// POST /v1/chat/completions bodies: `messages` rendered with the model's own chat template, then tokenized.
import MiniTRTLLM
import TLLMChatTemplate

/// Turns a chat body into a ``GenerationRequest``.
struct ChatRequestParser {
    let model: ServedModel
    let defaultMaxTokens: Int

    static let roles: Set<String> = ["system", "user", "assistant", "developer", "tool"]

    /// - Throws: ``APIError`` naming the bad field; 400 if the template refuses the conversation.
    func parse(_ body: JSON) throws(APIError) -> GenerationRequest {
        let f = try FieldReader(body)
        let fieldParser = SamplingFieldParser(limits: model.limits)
        var (params, stream, includeUsage, user) = try fieldParser.parse(f, servedModel: model.name)
        let messages = try self.messages(f)
        let prompt = try model.applyChatTemplate(messages)
        let ids = model.encode(prompt, addSpecial: false)
        let wantsLogprobs = try f.bool("logprobs") ?? false
        let top = try f.int("top_logprobs", in: 0...SamplingParams.maxLogprobs)
        if top != nil && !wantsLogprobs {
            throw APIError.badRequest("top_logprobs requires logprobs to be true", param: "top_logprobs")
        }
        if wantsLogprobs { params.logprobs = top ?? 0 }
        var requested = try f.int("max_completion_tokens")
        if requested == nil { requested = try f.int("max_tokens") }
        let field = f.value("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
        params.maxTokens = try fieldParser.resolveMaxTokens(requested, field: field, prompts: [ids], promptField: "messages",
                                                           defaultMaxTokens: defaultMaxTokens)
        if params.minTokens > params.maxTokens {
            throw APIError.badRequest("min_tokens (\(params.minTokens)) exceeds \(field) (\(params.maxTokens))", param: "min_tokens")
        }
        return GenerationRequest(prompts: [ids], params: params, stream: stream, includeUsage: includeUsage,
                                 logprobs: wantsLogprobs ? .chat(top: top ?? 0) : .none, user: user)
    }

    private func messages(_ f: FieldReader) throws(APIError) -> [ChatMessage] {
        guard let value = f.value("messages") else { throw APIError.badRequest("messages is required", param: "messages") }
        guard case .array(let items) = value else { throw f.wrongType("messages", "an array", value) }
        guard !items.isEmpty else { throw APIError.badRequest("messages must contain at least one message", param: "messages") }
        var out: [ChatMessage] = []
        for (i, item) in items.enumerated() {
            let m = try FieldReader(item, path: "messages[\(i)].", what: "messages[\(i)]")
            guard let role = try m.string("role") else {
                throw APIError.badRequest("messages[\(i)].role is required", param: "messages[\(i)].role")
            }
            guard Self.roles.contains(role) else {
                throw APIError.badRequest("messages[\(i)].role is '\(role)'; it must be one of system, user, assistant, developer, tool", param: "messages[\(i)].role")
            }
            let content = try self.content(m, index: i, role: role)
            out.append(ChatMessage(role: role == "developer" ? "system" : role, content: content))
        }
        return out
    }

    /// A string, or an array of `{"type": "text", "text": …}` parts joined with newlines.
    private func content(_ m: FieldReader, index i: Int, role: String) throws(APIError) -> String {
        let name = "messages[\(i)].content"
        guard let value = m.value("content") else {
            if role == "assistant" { return "" }
            throw APIError.badRequest("\(name) is required", param: name)
        }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            var texts: [String] = []
            for (j, part) in parts.enumerated() {
                let p = try FieldReader(part, path: "\(name)[\(j)].", what: "\(name)[\(j)]")
                let type = try p.string("type")
                guard type == "text", let text = try p.string("text") else {
                    throw APIError.badRequest("\(name)[\(j)] must be a text part ({\"type\": \"text\", \"text\": …}); \(type ?? "untyped") parts are not supported", param: name)
                }
                texts.append(text)
            }
            return texts.joined(separator: "\n")
        default:
            throw m.wrongType("content", "a string or an array of text parts", value)
        }
    }
}

// The model behind the server: the LLM, its chat template and limits, and how tokens read as text.
import MiniTRTLLM
import TLLMChatTemplate

/// One loaded model under the name clients use for it.
public struct ServedModel: Sendable {
    /// The name in `model` fields and `/v1/models`.
    public let name: String
    public let llm: LLM
    /// The checkpoint's chat template; nil if it has none or it could not be parsed (see `templateError`).
    public let chatTemplate: ChatTemplate?
    /// Why chat is unavailable, if it is.
    public let templateError: String?
    let limits: ModelLimits

    /// - Parameters:
    ///   - name: The served model name.
    ///   - llm: The loaded model.
    ///   - chatTemplateSource: The `tokenizer.chat_template` text, if the checkpoint has one.
    ///   - cacheTokens: Tokens the KV cache holds.
    public init(name: String, llm: LLM, chatTemplateSource: String?, cacheTokens: Int) {
        self.name = name
        self.llm = llm
        if let chatTemplateSource {
            do {
                chatTemplate = try ChatTemplate(chatTemplateSource)
                templateError = nil
            } catch {
                chatTemplate = nil
                templateError = "the model's chat template cannot be used: \(error)"
            }
        } else {
            chatTemplate = nil
            templateError = "the model has no chat template (tokenizer.chat_template); use /v1/completions"
        }
        limits = ModelLimits(vocabSize: llm.engine.config.vocabSize, maxSeqLen: llm.engine.maxSeqLen,
                             maxInputLen: llm.engine.buildConfig.maxInputLen, cacheTokens: cacheTokens)
    }

    /// Prompt text → ids; control tokens written in the text are parsed.
    func encode(_ text: String, addSpecial: Bool = true) -> [Int32] {
        llm.tokenizer.encode(text, parseSpecial: true, addSpecial: addSpecial)
    }

    /// Renders chat messages into prompt text.
    /// - Throws: ``APIError``: 400 when the template refuses the conversation or fails on it, 500 when
    ///   the model has no usable template.
    func applyChatTemplate(_ messages: [ChatMessage]) throws(APIError) -> String {
        guard let chatTemplate else { throw APIError.internalError(templateError ?? "no chat template") }
        let tokenizer = llm.tokenizer
        let bos = tokenizer.bosID.flatMap(tokenizer.tokenText) ?? ""
        let eos = tokenizer.eosID.flatMap(tokenizer.tokenText) ?? ""
        do {
            return try chatTemplate.render(messages: messages, addGenerationPrompt: true, bosToken: bos, eosToken: eos)
        } catch {
            switch error.code {
            case .raised, .type: throw APIError.badRequest("messages: \(error)", param: "messages")
            case .syntax, .unsupported: throw APIError.internalError("\(error)")
            }
        }
    }

    /// A token as text for logprobs: its UTF-8 text, or `bytes:\xNN…` when it is part of a character.
    func tokenString(_ id: Int32) -> String {
        let bytes = llm.tokenizer.bytes(of: id)
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return "bytes:" + bytes.map { "\\x" + (($0 < 16) ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The raw bytes of a token.
    func tokenBytes(_ id: Int32) -> [UInt8] { llm.tokenizer.bytes(of: id) }
}

// The public face of the Jinja subset: parse a checkpoint's chat template once, render messages with it.

/// A parsed chat template (the `tokenizer.chat_template` of a GGUF file or a tokenizer_config.json).
///
/// Implements the Jinja subset chat templates use: `{{ }}` output, `if`/`elif`/`else`, `for` with
/// `loop.first`/`last`/`index`/`index0`/`length`, `set` (also into a `namespace`), `break`/`continue`,
/// string concatenation with `+` and `~`, comparisons, `in`, `is` tests, filters such as `trim`,
/// `length`, `default`, `join`, `tojson`, string and dict methods, `raise_exception`, whitespace control
/// with `-`, and Hugging Face's `trim_blocks`/`lstrip_blocks`. Anything else fails with a
/// ``TemplateError`` whose code is `.unsupported` and whose message names the construct.
public struct ChatTemplate: Sendable {
    /// The template source.
    public let source: String
    private let nodes: [Node]

    /// Parses `source`.
    /// - Throws: ``TemplateError`` (`.syntax` or `.unsupported`) naming the line.
    public init(_ source: String) throws(TemplateError) {
        self.source = source
        var parser = TemplateParser(try TemplateLexer().pieces(source))
        nodes = try parser.parseTemplate()
    }

    /// Renders the template with an arbitrary context.
    /// - Throws: ``TemplateError``: `.raised` when the template calls `raise_exception` (the input is
    ///   one the template refuses), `.type` or `.unsupported` otherwise.
    public func render(_ context: [String: TemplateValue]) throws(TemplateError) -> String {
        var renderer = TemplateRenderer(context: context)
        return try renderer.render(nodes)
    }

    /// Renders chat messages the way Hugging Face's `apply_chat_template` does.
    /// - Parameters:
    ///   - messages: The conversation, in order.
    ///   - addGenerationPrompt: Append the header that starts the assistant's turn.
    ///   - bosToken: Text of the beginning-of-sequence token, available as `bos_token`.
    ///   - eosToken: Text of the end-of-sequence token, available as `eos_token`.
    /// - Returns: The prompt text, control tokens written out (e.g. `<|im_start|>`).
    /// - Throws: ``TemplateError`` as ``render(_:)``.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool = true, bosToken: String = "",
                       eosToken: String = "") throws(TemplateError) -> String {
        try render([
            "messages": .array(messages.map { .object([("role", .string($0.role)), ("content", .string($0.content))]) }),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ])
    }
}

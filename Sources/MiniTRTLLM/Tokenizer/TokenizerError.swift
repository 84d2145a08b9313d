// Tokenizer boundary: the typed error for building a tokenizer from GGUF metadata or hand-made vocabularies.

/// A failure to build a ``Tokenizer``: a machine-checkable ``code`` plus a ``message`` that says
/// what is wrong and what to fix.
public struct TokenizerError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of failure.
    public enum Code: String, Sendable {
        /// `tokenizer.ggml.model` is not `"gpt2"` (byte-level BPE), the only model this tokenizer implements.
        case unsupportedModel
        /// A required metadata key is absent.
        case missingKey
        /// A metadata value has an unexpected type (for example an integer where strings were expected).
        case wrongType
        /// `tokenizer.ggml.pre` names a pre-tokenizer this implementation does not know.
        case unsupportedPreTokenizer
        /// The vocabulary is empty, or the token and token-type lists disagree in length.
        case invalidVocabulary
        /// A merge line is not of the form `"A B"`.
        case invalidMerge
        /// A BOS or EOS id lies outside the vocabulary.
        case invalidSpecialTokenID
    }

    /// The kind of failure.
    public let code: Code
    /// What is wrong, where, and what to fix.
    public let message: String

    /// Creates an error with `code` and a human-readable `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// "Tokenizer <code>: <message>".
    public var description: String { "Tokenizer \(code.rawValue): \(message)" }
}

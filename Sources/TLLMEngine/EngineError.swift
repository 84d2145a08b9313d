// Errors from building or running an engine: each names the limit or input to fix.

/// A build setting or a forward batch the engine cannot accept.
public struct EngineError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case invalidBuildConfig, invalidBatch, tokenOutOfVocabulary, sequenceTooLong, tooManyTokens,
             tooManySequences, badBlockTable, unknownPlugin, missingWeight, cacheMismatch,
             /// An op whose inputs, weights or attributes do not fit together (e.g. from a hand-edited engine file).
             invalidGraph,
             /// The weights cannot be stored in the requested quantization format.
             quantization
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "engine error (\(code.rawValue)): \(message)" }
}

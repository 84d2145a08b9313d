// Errors from building or running an engine: each names the limit or input to fix.

/// A build setting or a forward batch the engine cannot accept.
public struct EngineError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case invalidBuildConfig, invalidBatch, tokenOutOfVocabulary, sequenceTooLong, tooManyTokens,
             tooManySequences, badBlockTable, unknownPlugin, missingWeight, cacheMismatch
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "engine error (\(code.rawValue)): \(message)" }
}

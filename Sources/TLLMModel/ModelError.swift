// Errors from building a model out of a checkpoint: what is wrong and what to fix.

/// A checkpoint that does not describe a model we can run.
public struct ModelError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case unsupportedArchitecture, invalidConfig, missingWeight, shapeMismatch, unsupportedWeightType, checkpoint
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "model error (\(code.rawValue)): \(message)" }
}

// Errors from quantizing a model: which tensor or setting, and what to change.

/// A quantization the weights or settings cannot support.
public struct QuantError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "quantization error: \(message)" }
}

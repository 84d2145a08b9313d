// Errors from the runtime: invalid sampling or generation requests, and engine failures.
import TLLMEngine

/// A request the runtime cannot serve, with what to fix.
public struct RuntimeError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable { case invalidConfig, invalidSamplingParams, invalidRequest, cacheFull, engine }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Wraps an engine failure.
    public init(_ error: EngineError) { self.init(.engine, error.description) }

    public var description: String { "runtime error (\(code.rawValue)): \(message)" }
}

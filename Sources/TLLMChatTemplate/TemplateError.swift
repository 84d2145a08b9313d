// Everything a chat template can fail with, each error naming the line and what went wrong.

/// A template that cannot be parsed or rendered.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The template text is malformed.
        case syntax
        /// Valid Jinja that this renderer does not implement (a tag, filter, test, function or method).
        case unsupported
        /// An operation on values of the wrong type, or an undefined name used where a value is needed.
        case type
        /// The template called `raise_exception(message)`: the input is one the template refuses.
        case raised
    }

    public let code: Code
    public let message: String
    /// 1-based line in the template source, when known.
    public let line: Int?

    public init(_ code: Code, _ message: String, line: Int? = nil) {
        self.code = code
        self.message = message
        self.line = line
    }

    public var description: String {
        switch code {
        case .raised: "chat template refused the input: \(message)"
        default: "chat template \(code.rawValue) error\(line.map { " at line \($0)" } ?? ""): \(message)"
        }
    }
}

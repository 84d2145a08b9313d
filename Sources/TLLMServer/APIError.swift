// The one error type handlers throw: an HTTP status and an OpenAI-style error body naming the field.

/// A request the server refuses, rendered as `{"error": {"message", "type", "param", "code"}}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status code (400, 404, 413, 429, 500, 503).
    public var status: Int
    public var message: String
    /// OpenAI's error type: `invalid_request_error`, `not_found_error`, `rate_limit_error`, `server_error`.
    public var type: String
    /// The request field at fault (`max_tokens`, `messages[1].content`), if one is.
    public var param: String?
    /// A short machine-readable code (`model_not_found`, `queue_full`), if any.
    public var code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// 400: a field is missing, of the wrong type or out of range.
    public static func badRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 404: no such model.
    public static func modelNotFound(_ name: String) -> APIError {
        APIError(status: 404, message: "The model `\(name)` does not exist.", type: "invalid_request_error",
                 param: "model", code: "model_not_found")
    }

    /// 429: the server holds as many requests as it may; retry later.
    public static func queueFull(limit: Int) -> APIError {
        APIError(status: 429, message: "The server is busy: \(limit) requests are already running or queued (--max-batch-size + --max-queue). Retry later.",
                 type: "rate_limit_error", code: "queue_full")
    }

    /// 503: the server is shutting down.
    public static let shuttingDown = APIError(status: 503, message: "The server is shutting down.", type: "server_error", code: "shutting_down")

    /// 500: the engine failed; the message says how.
    public static func internalError(_ message: String) -> APIError {
        APIError(status: 500, message: message, type: "server_error")
    }

    /// The OpenAI error body.
    public var body: JSON {
        .object([("error", .object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map(JSON.string) ?? .null), ("code", code.map(JSON.string) ?? .null),
        ]))])
    }

    public var description: String { "\(status) \(type)\(param.map { " (\($0))" } ?? ""): \(message)" }
}

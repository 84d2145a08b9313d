// A chat turn as chat templates see it.

/// One chat message as templates see it: `message['role']`, `message['content']`.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

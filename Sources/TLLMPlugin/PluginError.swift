// Errors from checking a plugin op: which plugin, and which field, input or weight is wrong.

/// A plugin op whose fields, inputs or weights do not fit together; the message says which.
public struct PluginError: Error, Sendable, CustomStringConvertible, Equatable {
    public let plugin: String
    public let message: String

    public init(_ plugin: String, _ message: String) {
        self.plugin = plugin
        self.message = message
    }

    public var description: String { "plugin \(plugin): \(message)" }
}

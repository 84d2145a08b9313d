// The registry of plugins by name: the Builder matches from it, engines resolve names through it.
import Synchronization

/// Plugins by name, in registration order (earlier registrations match first).
///
/// Registering a plugin under an existing name replaces the earlier one, which is how a user
/// swaps a built-in for their own kernel.
public final class PluginRegistry: Sendable {
    private let plugins: Mutex<[any PluginBase]>

    /// The process-wide registry, holding the built-ins.
    public static let shared = PluginRegistry(builtIns: true)

    public init(builtIns: Bool = true) {
        plugins = Mutex(builtIns ? [SwiGLUPlugin()] : [])
    }

    /// Adds `plugin`, replacing any plugin with the same name in place.
    public func register(_ plugin: any PluginBase) {
        plugins.withLock { list in
            if let i = list.firstIndex(where: { $0.name == plugin.name }) { list[i] = plugin } else { list.append(plugin) }
        }
    }

    public func plugin(named name: String) -> (any PluginBase)? {
        plugins.withLock { $0.first { $0.name == name } }
    }

    /// Every registered plugin, in matching order.
    public var all: [any PluginBase] { plugins.withLock { $0 } }
}

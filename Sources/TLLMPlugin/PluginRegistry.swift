// The registry of plugins by name: the Builder matches from it, engines resolve names through it.
import Synchronization

/// Plugins by name, in registration order (earlier registrations match first).
///
/// Registering a plugin under an existing name replaces the earlier one in place; registering it
/// `before` another puts it ahead in matching order, which is how a user's plugin takes over an op
/// a built-in would otherwise replace.
public final class PluginRegistry: Sendable {
    private let plugins: Mutex<[any PluginBase]>

    /// The process-wide registry, holding the built-ins.
    public static let shared = PluginRegistry(builtIns: true)

    /// The built-in plugins in their matching order: attention first (it takes the RoPE ops
    /// with it), then embedding, the gated MLP, GEMM epilogues, norms, and lone activations.
    public static var builtIns: [any PluginBase] {
        [GPTAttentionPlugin(), EmbeddingPlugin(), SwiGLUPlugin(), GemmPlugin(), RMSNormPlugin(), GeluPlugin()]
    }

    public init(builtIns: Bool = true) {
        plugins = Mutex(builtIns ? PluginRegistry.builtIns : [])
    }

    /// Adds `plugin`, replacing any plugin with the same name in place; with `before`, it is
    /// inserted ahead of the plugin of that name (or appended if there is none).
    public func register(_ plugin: any PluginBase, before other: String? = nil) {
        plugins.withLock { list in
            if let other, plugin.name != other {
                list.removeAll { $0.name == plugin.name }
                let at = list.firstIndex { $0.name == other } ?? list.endIndex
                list.insert(plugin, at: at)
            } else if let i = list.firstIndex(where: { $0.name == plugin.name }) {
                list[i] = plugin
            } else {
                list.append(plugin)
            }
        }
    }

    public func plugin(named name: String) -> (any PluginBase)? {
        plugins.withLock { $0.first { $0.name == name } }
    }

    /// Every registered plugin, in matching order.
    public var all: [any PluginBase] { plugins.withLock { $0 } }

    /// Names of the registered plugins, in matching order.
    public var names: [String] { all.map(\.name) }
}

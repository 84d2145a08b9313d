// Build step 3: find subgraphs a registered plugin implements and replace them with one plugin op.
import TLLMEngine
import TLLMModel
import TLLMPlugin

enum PluginPass {
    /// Rewrites `graph`, returning it with the names of the plugins used and a log line per replacement.
    static func run(_ graph: Graph, registry: PluginRegistry, config: BuildConfig)
        -> (graph: Graph, plugins: [String], log: [String]) {
        var readers = [[Int]](repeating: [], count: graph.values.count)
        for (i, op) in graph.ops.enumerated() { for v in op.inputs { readers[v].append(i) } }
        var removed = Set<Int>()
        var replacement: [Int: GraphOp] = [:]   // keyed by the index of the last replaced op
        var used: [String] = [], log: [String] = []
        for plugin in registry.all {
            guard config.isPluginEnabled(plugin.name) else {
                log.append("Plugin disabled: \(plugin.name)")
                continue
            }
            for index in graph.ops.indices where !removed.contains(index) {
                guard let match = plugin.match(graph, at: index, readers: readers),
                      match.ops.allSatisfy({ !removed.contains($0) }), let last = match.ops.max() else { continue }
                removed.formUnion(match.ops)
                let scope = graph.ops[last].scope
                replacement[last] = GraphOp(kind: .plugin(name: plugin.name), inputs: match.inputs, output: match.output, scope: scope)
                if !used.contains(plugin.name) { used.append(plugin.name) }
                log.append("Plugin replaced: \(plugin.name) at \(scope)")
            }
        }
        var ops: [GraphOp] = []
        for (i, op) in graph.ops.enumerated() {
            if let r = replacement[i] { ops.append(r) } else if !removed.contains(i) { ops.append(op) }
        }
        return (Graph(values: graph.values, ops: ops, output: graph.output), used, log)
    }
}

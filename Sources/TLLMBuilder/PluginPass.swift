// Build step 3: find subgraphs a registered plugin implements and replace them with one plugin op.
// Plugins run one after another in registry order, each over the graph the previous ones left.
import TLLMBackend
import TLLMEngine
import TLLMModel
import TLLMPlugin

enum PluginPass {
    /// Rewrites `graph`, returning it with the names of the plugins used and log lines saying what
    /// was replaced where. A match whose shape inference disagrees with the graph is skipped and logged.
    static func run(_ graph: Graph, registry: PluginRegistry, config: BuildConfig, weights: [String: Tensor],
                    limits: PluginLimits) -> (graph: Graph, plugins: [String], log: [String]) {
        var graph = graph
        var used: [String] = [], log: [String] = [], counts: [String] = []
        for plugin in registry.all {
            guard config.isPluginEnabled(plugin.name) else {
                log.append("Plugin disabled: \(plugin.name)")
                continue
            }
            let view = GraphView(graph)
            var removed = Set<Int>()
            var replacement: [Int: GraphOp] = [:]   // keyed by the index of the last replaced op
            for index in graph.ops.indices where !removed.contains(index) {
                guard let match = plugin.match(at: index, in: view), !match.ops.isEmpty,
                      match.ops.allSatisfy({ !removed.contains($0) && graph.ops.indices.contains($0) }),
                      let last = match.ops.max(), graph.ops[last].output == match.output else { continue }
                // Where the match is rooted names it in the log ("model" for ops outside any block).
                let scope = graph.ops[index].scope.isEmpty ? "model" : graph.ops[index].scope
                let tensors = match.fields.weights.compactMap { weights[$0] }
                do throws(PluginError) {
                    let inferred = try plugin.inferOutput(inputs: match.inputs.map(view.shape), weights: tensors,
                                                          fields: match.fields, limits: limits)
                    guard tensors.count == match.fields.weights.count, inferred == view.shape(match.output) else {
                        log.append("Plugin skipped: \(plugin.name) at \(scope) (infers \(inferred), graph has \(view.shape(match.output)))")
                        continue
                    }
                } catch {
                    log.append("Plugin skipped: \(plugin.name) at \(scope) (\(error.message))")
                    continue
                }
                removed.formUnion(match.ops)
                replacement[last] = GraphOp(kind: .plugin(name: plugin.name, fields: match.fields), inputs: match.inputs,
                                            output: match.output, scope: graph.ops[index].scope)
                log.append("Plugin replaced: \(plugin.name) at \(scope)")
            }
            guard !replacement.isEmpty else { continue }
            used.append(plugin.name)
            counts.append("\(plugin.name) ×\(replacement.count)")
            var ops: [GraphOp] = []
            for (i, op) in graph.ops.enumerated() {
                if let r = replacement[i] { ops.append(r) } else if !removed.contains(i) { ops.append(op) }
            }
            graph = Graph(values: graph.values, ops: ops, output: graph.output)
        }
        if !counts.isEmpty { log.append("Plugins: \(counts.joined(separator: ", "))") }
        return (graph, used, log)
    }
}

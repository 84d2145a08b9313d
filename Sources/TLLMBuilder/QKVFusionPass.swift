// Build step 4, fusion: each attention's query, key and value projections become one linear over
// their stacked weights, TensorRT-LLM's fused QKV GEMM. The three read the same normalized input,
// so one pass over it does the work of three: one input preparation and one parallel job instead of
// three, which in batch-1 decode saves two of the short jobs whose start and uneven finish cost
// more than their arithmetic (Docs/Performance.md, "Float32 decode, ninth pass").
import TLLMBackend
import TLLMEngine
import TLLMModel
import TLLMPlugin

enum QKVFusionPass {
    /// Rewrites every GPTAttention plugin op whose three inputs are projections of one input (linears,
    /// or plain GemmPlugin ops), read by nothing else, with weights (and biases, all or none) that stack: the three ops become one
    /// linear writing `[q | k | v]`, which the plugin reads packed. Every output element keeps its
    /// arithmetic, so the logits keep their bits. Returns the graph, the weights (stacked ones added,
    /// ones no op reads any more dropped) and log lines.
    static func run(_ graph: Graph, weights: [String: Tensor]) -> (graph: Graph, weights: [String: Tensor], log: [String]) {
        let view = GraphView(graph)
        let attentionPlugin = GPTAttentionPlugin().name
        var weights = weights
        var values = graph.values
        var removed = Set<Int>()
        var fusedAt: [Int: GraphOp] = [:]   // keyed by the index of the last of the three projections
        var rewiredInputs: [Int: [ValueID]] = [:]   // attention op index → its new inputs
        var skipped: [String] = []
        for (index, op) in graph.ops.enumerated() {
            guard case .plugin(attentionPlugin, _) = op.kind, op.inputs.count == 3 else { continue }
            let scope = op.scope.isEmpty ? "model" : op.scope
            var producers: [Int] = [], names: [String] = [], biases: [String?] = [], gemm: [Bool] = []
            for value in op.inputs {
                guard let p = view.producer(of: value, onlyReadBy: index), let projection = Projection(view[p]) else { break }
                producers.append(p)
                names.append(projection.weight)
                biases.append(projection.bias)
                gemm.append(projection.isGemmPlugin)
            }
            guard producers.count == 3, Set(producers.map { view[$0].inputs }).count == 1, Set(gemm).count == 1 else { continue }
            let fusedName = stackedName(names)
            guard names.allSatisfy({ weights[$0] != nil }), weights[fusedName] == nil,
                  let stacked = Tensor.concatenatingRows(names.map { weights[$0]! }) else {
                skipped.append("\(scope) (\(names.map { weights[$0]?.dtype.rawValue ?? "missing" }.joined(separator: ", ")) weights do not stack)")
                continue
            }
            var fusedBias: String?
            if biases.contains(where: { $0 != nil }) {
                let tensors = biases.compactMap { $0.flatMap { weights[$0] } }
                let name = stackedName(biases.compactMap { $0 })
                guard tensors.count == 3, weights[name] == nil, let bias = Tensor.concatenatingRows(tensors) else {
                    skipped.append("\(scope) (biases do not stack)")
                    continue
                }
                weights[name] = bias
                fusedBias = name
            }
            weights[fusedName] = stacked
            let qkv = values.count
            values.append(GraphValue(name: "qkv", width: stacked.shape[0], rows: .tokens))
            let last = producers.max()!
            fusedAt[last] = GraphOp(kind: Projection.kind(weight: fusedName, bias: fusedBias, gemmPlugin: gemm[0]),
                                    inputs: view[last].inputs, output: qkv, scope: view[last].scope)
            removed.formUnion(producers)
            rewiredInputs[index] = [qkv]
        }
        var log = skipped.map { "QKV not fused at \($0)" }
        guard !fusedAt.isEmpty else { return (graph, weights, log) }
        var ops: [GraphOp] = []
        for (i, op) in graph.ops.enumerated() {
            if let fused = fusedAt[i] {
                ops.append(fused)
            } else if !removed.contains(i) {
                var op = op
                if let inputs = rewiredInputs[i] { op.inputs = inputs }
                ops.append(op)
            }
        }
        let fused = Graph(values: values, ops: ops, output: graph.output).droppingUnproducedValues()
        let read = Set(fused.weightNames)
        for name in Set(graph.weightNames).subtracting(read) { weights[name] = nil }
        log.append("Fused QKV: \(fusedAt.count) attention projections into one linear each")
        return (fused, weights, log)
    }

    /// A projection the pass can stack: a `linear` op, or the GemmPlugin op that replaced one
    /// without absorbing an activation or a residual add.
    struct Projection {
        let weight: String, bias: String?, isGemmPlugin: Bool

        init?(_ op: GraphOp) {
            switch op.kind {
            case let .linear(w, b) where op.inputs.count == 1:
                (weight, bias, isGemmPlugin) = (w, b, false)
            case let .plugin(name, fields) where name == GemmPlugin().name && op.inputs.count == 1:
                let hasBias = fields.ints["bias"] == 1
                guard fields.ints["activation"] == Activation.none.rawValue, fields.ints["residual"] == 0,
                      fields.weights.count == (hasBias ? 2 : 1) else { return nil }
                (weight, bias, isGemmPlugin) = (fields.weights[0], hasBias ? fields.weights[1] : nil, true)
            default:
                return nil
            }
        }

        /// The op computing input · weightᵀ (+ bias), in the form the parts had.
        static func kind(weight: String, bias: String?, gemmPlugin: Bool) -> OpKind {
            guard gemmPlugin else { return .linear(weight: weight, bias: bias) }
            return .plugin(name: GemmPlugin().name,
                           fields: PluginFields(weights: [weight] + (bias.map { [$0] } ?? []),
                                                ints: ["bias": bias == nil ? 0 : 1, "activation": Activation.none.rawValue, "residual": 0]))
        }
    }

    /// The stacked weight's name: the names' common prefix and suffix around their differing middles
    /// joined, so `blk.0.attn_q.weight`, `…attn_k…`, `…attn_v…` give `blk.0.attn_qkv.weight`.
    static func stackedName(_ names: [String]) -> String {
        let parts = names.map(Array.init)
        let shortest = parts.map(\.count).min() ?? 0
        var prefix = 0
        while prefix < shortest, parts.allSatisfy({ $0[prefix] == parts[0][prefix] }) { prefix += 1 }
        var suffix = 0
        while suffix < shortest - prefix, parts.allSatisfy({ $0[$0.count - 1 - suffix] == parts[0][parts[0].count - 1 - suffix] }) {
            suffix += 1
        }
        let middles = parts.map { String($0[prefix..<($0.count - suffix)]) }
        return String(parts[0][..<prefix]) + middles.joined() + String(parts[0][(parts[0].count - suffix)...])
    }
}

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
    /// or plain GemmPlugin ops), read by nothing else, with weights (and biases, all or none) that
    /// stack: the three ops become one, of their kind, writing `[q | k | v]`, which the plugin reads
    /// packed. Every output element keeps its arithmetic, so the logits keep their bits. Returns the
    /// graph, the weights (stacked ones added, ones no op reads any more dropped) and log lines.
    static func run(_ graph: Graph, weights: [String: Tensor]) -> (graph: Graph, weights: [String: Tensor], log: [String]) {
        var weights = weights
        let (fusions, skipped) = plan(graph, weights: &weights)
        var log = skipped.map { "QKV not fused at \($0)" }
        guard !fusions.isEmpty else { return (graph, weights, log) }
        let fused = rewrite(graph, fusions)
        let read = Set(fused.weightNames)
        for name in Set(graph.weightNames).subtracting(read) { weights[name] = nil }
        log.append("Fused QKV: \(fusions.count) attention projections into one linear each")
        return (fused, weights, log)
    }

    /// One attention's fusion: the three projection ops it replaces and the stacked op's kind.
    struct Fusion {
        let attention: Int
        let projections: [Int]
        let kind: OpKind
        let width: Int
    }

    /// Finds the fusions, adding each stacked weight (and bias) to `weights`; also says, for each
    /// attention whose projections could not be stacked, where and why.
    static func plan(_ graph: Graph, weights: inout [String: Tensor]) -> (fusions: [Fusion], skipped: [String]) {
        let view = GraphView(graph)
        var fusions: [Fusion] = [], skipped: [String] = []
        for (index, op) in graph.ops.enumerated() {
            guard case .plugin(GPTAttentionPlugin().name, _) = op.kind, op.inputs.count == 3 else { continue }
            let producers = op.inputs.compactMap { view.producer(of: $0, onlyReadBy: index) }
            let parts = producers.compactMap { Projection(view[$0]) }
            guard parts.count == 3, Set(producers.map { view[$0].inputs }).count == 1,
                  Set(parts.map(\.isGemmPlugin)).count == 1 else { continue }
            let scope = op.scope.isEmpty ? "model" : op.scope
            let names = parts.map(\.weight), biases = parts.compactMap(\.bias)
            let fusedName = stackedName(names), biasName = biases.isEmpty ? nil : stackedName(biases)
            if let taken = [fusedName, biasName].compactMap({ $0 }).first(where: { weights[$0] != nil }) {
                skipped.append("\(scope) (the stacked name \(taken) is taken)")
                continue
            }
            guard names.allSatisfy({ weights[$0] != nil }), let stacked = Tensor.concatenatingRows(names.map { weights[$0]! }) else {
                skipped.append("\(scope) (\(names.map { weights[$0]?.dtype.rawValue ?? "missing" }.joined(separator: ", ")) weights do not stack)")
                continue
            }
            var bias: Tensor?
            if biasName != nil {
                guard biases.count == 3, biases.allSatisfy({ weights[$0] != nil }),
                      let stackedBias = Tensor.concatenatingRows(biases.map { weights[$0]! }) else {
                    skipped.append("\(scope) (biases do not stack)")
                    continue
                }
                bias = stackedBias
            }
            weights[fusedName] = stacked
            if let biasName { weights[biasName] = bias }
            fusions.append(Fusion(attention: index, projections: producers,
                                  kind: Projection.kind(weight: fusedName, bias: biasName, gemmPlugin: parts[0].isGemmPlugin),
                                  width: stacked.shape[0]))
        }
        return (fusions, skipped)
    }

    /// `graph` with each fusion's projections replaced by its stacked op, placed where the last of
    /// them was (their shared input is ready before any of them; the attention comes after all),
    /// writing a new value the attention reads; values no op produces any more are dropped.
    static func rewrite(_ graph: Graph, _ fusions: [Fusion]) -> Graph {
        var values = graph.values
        var stackedAt: [Int: GraphOp] = [:], packedInput: [Int: ValueID] = [:]
        for fusion in fusions {
            let last = fusion.projections.max()!
            let qkv = values.count
            values.append(GraphValue(name: "\(graph.ops[last].scope).qkv", width: fusion.width, rows: .tokens))
            stackedAt[last] = GraphOp(kind: fusion.kind, inputs: graph.ops[last].inputs, output: qkv, scope: graph.ops[last].scope)
            packedInput[fusion.attention] = qkv
        }
        let removed = Set(fusions.flatMap(\.projections))
        var ops: [GraphOp] = []
        for (i, op) in graph.ops.enumerated() {
            if let stacked = stackedAt[i] {
                ops.append(stacked)
            } else if !removed.contains(i) {
                var op = op
                if let qkv = packedInput[i] { op.inputs = [qkv] }
                ops.append(op)
            }
        }
        return Graph(values: values, ops: ops, output: graph.output).droppingUnproducedValues()
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

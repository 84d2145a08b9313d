// The graph a model lowers itself into: values are (rows, width) float32 activations, ops name
// their weights by checkpoint key. The Builder rewrites it; the Engine executes it.

/// Index of a value in ``Graph/values``.
public typealias ValueID = Int

/// One activation: a (rows, width) float32 matrix.
public struct GraphValue: Sendable, Codable, Equatable {
    /// Which rows a value has: one per packed token, or one per token whose logits were asked for.
    public enum Rows: String, Sendable, Codable { case tokens, outputs }
    public var name: String
    public var width: Int
    public var rows: Rows

    public init(name: String, width: Int, rows: Rows = .tokens) {
        self.name = name
        self.width = width
        self.rows = rows
    }
}

/// What an op computes. Weights are named by checkpoint key and resolved in the engine's weight map.
public enum OpKind: Sendable, Codable, Equatable {
    /// Rows of `weight` picked by the batch's token ids. No inputs.
    case embedding(weight: String)
    /// Rows of `weight` picked by the batch's positions (learned positions). No inputs.
    case positionEmbedding(weight: String)
    case rmsNorm(weight: String, epsilon: Float)
    case layerNorm(weight: String, bias: String, epsilon: Float)
    /// input · weightᵀ (+ bias); weight is [out, in].
    case linear(weight: String, bias: String?)
    /// Rotary position embedding of each head by its token's position.
    case rope(heads: Int, headDim: Int, ropeDim: Int, theta: Double, neox: Bool)
    /// Causal attention of inputs (q, k, v) over the paged KV cache of layer `layer`.
    case attention(layer: Int, heads: Int, kvHeads: Int, headDim: Int)
    case silu
    case gelu
    case mul
    case add
    /// Keeps only the rows whose logits the batch asked for (tokens → outputs).
    case gatherOutputRows
    /// A plugin op, resolved by name in the plugin registry when the engine is loaded; `fields`
    /// carry its weights and attributes.
    case plugin(name: String, fields: PluginFields)
}

/// One node: `kind` applied to `inputs`, producing `output`. `scope` names where it came from
/// in the module tree (e.g. `blk.0.ffn`).
public struct GraphOp: Sendable, Codable, Equatable {
    public var kind: OpKind
    public var inputs: [ValueID]
    public var output: ValueID
    public var scope: String

    public init(kind: OpKind, inputs: [ValueID], output: ValueID, scope: String) {
        self.kind = kind
        self.inputs = inputs
        self.output = output
        self.scope = scope
    }
}

/// A straight-line program of ops in execution order, ending in the logits value.
///
/// Invariants: every op's inputs are produced by an earlier op; each value is produced once;
/// `output` is produced by some op.
public struct Graph: Sendable, Codable, Equatable {
    public var values: [GraphValue]
    public var ops: [GraphOp]
    public var output: ValueID

    public init(values: [GraphValue], ops: [GraphOp], output: ValueID) {
        self.values = values
        self.ops = ops
        self.output = output
    }

    /// Weight names the ops refer to, in first-use order.
    public var weightNames: [String] {
        var seen = Set<String>(), names: [String] = []
        for op in ops {
            for name in op.kind.weightNames where seen.insert(name).inserted { names.append(name) }
        }
        return names
    }

    /// Index of the last op reading each value (or -1 if never read); the output counts as read at the end.
    public func lastUses() -> [Int] {
        var last = [Int](repeating: -1, count: values.count)
        for (index, op) in ops.enumerated() { for v in op.inputs { last[v] = index } }
        last[output] = ops.count
        return last
    }

    /// The graph without the values no op produces (left behind by a rewrite), the rest renumbered
    /// in their order. For a graph that passes ``validationError()``, whose ops read only produced values.
    public func droppingUnproducedValues() -> Graph {
        var produced = [Bool](repeating: false, count: values.count)
        for op in ops where values.indices.contains(op.output) { produced[op.output] = true }
        var newID = [ValueID](repeating: -1, count: values.count), kept: [GraphValue] = []
        for (id, value) in values.enumerated() where produced[id] {
            newID[id] = kept.count
            kept.append(value)
        }
        let renumbered = ops.map { op in
            GraphOp(kind: op.kind, inputs: op.inputs.map { newID[$0] }, output: newID[op.output], scope: op.scope)
        }
        return Graph(values: kept, ops: renumbered, output: newID[output])
    }

    /// Checks the invariants; returns a description of the first violation.
    public func validationError() -> String? {
        var produced = [Bool](repeating: false, count: values.count)
        for (index, op) in ops.enumerated() {
            for v in op.inputs where !(0..<values.count).contains(v) || !produced[v] {
                return "op \(index) (\(op.scope)) reads value \(v) before it is produced"
            }
            guard (0..<values.count).contains(op.output), !produced[op.output] else {
                return "op \(index) (\(op.scope)) writes value \(op.output) twice or out of range"
            }
            produced[op.output] = true
        }
        return (0..<values.count).contains(output) && produced[output] ? nil : "graph output is never produced"
    }
}

extension OpKind {
    /// The checkpoint keys this op reads.
    public var weightNames: [String] {
        switch self {
        case .embedding(let w), .positionEmbedding(let w), .rmsNorm(let w, _): [w]
        case .layerNorm(let w, let b, _): [w, b]
        case .linear(let w, let b): b.map { [w, $0] } ?? [w]
        case .plugin(_, let fields): fields.weights
        default: []
        }
    }
}

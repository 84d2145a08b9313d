// Tracing: modules call these methods to append ops; scopes record where each op came from.

/// Records ops as a model's modules run over symbolic values.
public struct GraphBuilder: Sendable {
    public private(set) var values: [GraphValue] = []
    public private(set) var ops: [GraphOp] = []
    private var scopes: [String] = []

    public init() {}

    /// The current scope path, e.g. `blk.3.attn`.
    public var scope: String { scopes.joined(separator: ".") }

    /// Runs `body` with `name` appended to the scope path.
    public mutating func scoped<T>(_ name: String, _ body: (inout GraphBuilder) -> T) -> T {
        scopes.append(name)
        defer { scopes.removeLast() }
        return body(&self)
    }

    /// Appends an op producing a new value of `width` columns.
    public mutating func add(_ kind: OpKind, _ inputs: [ValueID], width: Int, rows: GraphValue.Rows = .tokens,
                             name: String) -> ValueID {
        let id = values.count
        values.append(GraphValue(name: scope.isEmpty ? name : "\(scope).\(name)", width: width, rows: rows))
        ops.append(GraphOp(kind: kind, inputs: inputs, output: id, scope: scope))
        return id
    }

    public func width(of value: ValueID) -> Int { values[value].width }

    /// Appends every value and op of `graph` (renumbering its values); returns its output value.
    public mutating func append(_ graph: Graph) -> ValueID {
        let base = values.count
        values += graph.values
        ops += graph.ops.map { op in
            GraphOp(kind: op.kind, inputs: op.inputs.map { $0 + base }, output: op.output + base, scope: op.scope)
        }
        return graph.output + base
    }

    /// The finished graph whose result is `output`.
    public func finish(output: ValueID) -> Graph {
        Graph(values: values, ops: ops, output: output)
    }
}

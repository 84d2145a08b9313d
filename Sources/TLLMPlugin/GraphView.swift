// A read-only view of a graph for pattern matching: who produces and who reads each value.
import TLLMModel

/// A graph with its producer and reader indices, for plugins' pattern matchers.
public struct GraphView: Sendable {
    public let graph: Graph
    /// For each value, the indices of the ops that read it (in op order).
    public let readers: [[Int]]
    /// For each value, the index of the op that produces it, or nil.
    public let producers: [Int?]

    public init(_ graph: Graph) {
        self.graph = graph
        var readers = [[Int]](repeating: [], count: graph.values.count)
        var producers = [Int?](repeating: nil, count: graph.values.count)
        for (i, op) in graph.ops.enumerated() {
            for v in op.inputs where readers.indices.contains(v) { readers[v].append(i) }
            if producers.indices.contains(op.output) { producers[op.output] = i }
        }
        self.readers = readers
        self.producers = producers
    }

    public subscript(index: Int) -> GraphOp { graph.ops[index] }

    /// The one op reading `value`, if exactly one does and the value is not the graph's output.
    public func soleReader(of value: ValueID) -> Int? {
        guard value != graph.output, readers[value].count == 1 else { return nil }
        return readers[value][0]
    }

    /// The op producing `value`, if its only reader is op `reader`.
    public func producer(of value: ValueID, onlyReadBy reader: Int) -> Int? {
        guard let p = producers[value], soleReader(of: value) == reader else { return nil }
        return p
    }

    public func shape(_ value: ValueID) -> ValueShape { ValueShape(graph.values[value]) }
}

// Executes an engine's graph for a packed batch over the paged KV cache, on a backend.
// Not thread-safe: one owner (the Runtime or the Executor) drives it.
import TLLMBackend
import TLLMModel
import TLLMPlugin

/// Runs ``Engine`` graphs: validates a ``ForwardBatch``, runs every op, returns the requested logits.
public final class ModelEngine {
    public let engine: Engine
    public let backend: any Backend
    /// Each op's forward, configured once here: a plugin's, or a graph op's on the backend.
    private let forwards: [PluginForward]
    private let plan: ActivationPlan
    private var buffers: [UnsafeMutablePointer<Float>?]
    private var capacities: [Int]
    /// The packed batch of the current step, refilled in place every step.
    private var layout: BatchLayout
    /// Each op's input and output matrices. They depend only on the batch's token and output row
    /// counts, so they are rebuilt (in place: no step builds an array) only when those change.
    private var operands: [[Matrix]], outputs: [Matrix] = []
    private var operandShape = (tokenRows: -1, outputRows: -1)
    /// The graph's wiring as flat integer arrays, so that a step reads a few cache lines per op
    /// instead of copying ops and values (their strings and arrays) out of the graph: op i's
    /// inputs are `inputValues[inputStart[i] ..< inputStart[i + 1]]`, its output `outputValue[i]`.
    private let inputStart: [Int], inputValues: [ValueID], outputValue: [ValueID]
    /// Per value: its width, and whether it has a row per token (else per output row); its buffer
    /// slot is `plan.slotOfValue`.
    private let valueWidth: [Int], valueOnTokens: [Bool]

    /// Prepares `engine` to run on `backend`, checking every op against its weights first.
    /// - Throws: ``EngineError`` if a weight or plugin the graph names cannot be found, or an op's
    ///   inputs, weights or attributes do not fit together (`.invalidGraph`).
    public init(_ engine: Engine, backend: any Backend = CPUBackend(),
                plugins: PluginRegistry = .shared) throws(EngineError) {
        self.engine = engine
        self.backend = backend
        try GraphCheck(engine).verify(plugins: plugins)
        // After the check every name below resolves. Matrices carry the build's activation
        // precision to the backend (int8 for GGUF blocks in a W4A8 engine, else float32).
        let activations = engine.buildConfig.quantization.activations
        func weight(_ name: String) -> Tensor { engine.weights[name]!.multiplied(with: activations) }
        forwards = engine.graph.ops.map { op in
            if case let .plugin(name, fields) = op.kind {
                return plugins.plugin(named: name)!.configure(fields: fields, weights: fields.weights.map(weight))
            }
            return Self.forward(of: op.kind, weight: weight)
        }
        plan = ActivationPlan(engine.graph)
        let graph = engine.graph
        inputStart = graph.ops.reduce(into: [0]) { starts, op in starts.append(starts.last! + op.inputs.count) }
        inputValues = graph.ops.flatMap(\.inputs)
        outputValue = graph.ops.map(\.output)
        valueWidth = graph.values.map(\.width)
        valueOnTokens = graph.values.map { $0.rows == .tokens }
        buffers = Array(repeating: nil, count: plan.slotWidths.count)
        capacities = Array(repeating: 0, count: plan.slotWidths.count)
        layout = BatchLayout(reservingTokens: engine.buildConfig.maxNumTokens)
        outputs.reserveCapacity(engine.graph.ops.count)
        operands = engine.graph.ops.map { op in
            var inputs: [Matrix] = []
            inputs.reserveCapacity(op.inputs.count)
            return inputs
        }
    }

    deinit { for b in buffers { b?.deallocate() } }

    /// Bytes of activation memory currently held.
    public var activationBytes: Int { capacities.reduce(0, +) * 4 }

    /// Runs one packed forward step: writes the batch's keys and values into `cache` and returns
    /// the logits rows the sequences asked for, in batch order.
    ///
    /// Each call returns new logits storage; a caller that steps repeatedly can reuse one
    /// ``Logits`` with ``forward(_:cache:into:)`` instead.
    /// - Throws: ``EngineError`` for a batch that breaks the engine's limits or the cache's shape.
    public func forward(_ batch: ForwardBatch, cache: PagedKVCache) throws(EngineError) -> Logits {
        var logits = Logits()
        try execute(batch, cache: cache, observe: nil, into: &logits)
        return logits
    }

    /// ``forward(_:cache:)`` writing the logits into `logits`, whose storage is reused when it is
    /// large enough and not shared: once the engine has run a batch of this shape, a step with a
    /// reused `logits` makes no heap allocation on the CPU backend.
    /// - Parameters:
    ///   - batch: the sequences to run.
    ///   - cache: the KV cache the batch's block tables index.
    ///   - logits: replaced by the logits rows the sequences asked for, in batch order.
    /// - Throws: ``EngineError`` for a batch that breaks the engine's limits or the cache's shape;
    ///   `logits` is then unchanged.
    public func forward(_ batch: ForwardBatch, cache: PagedKVCache, into logits: inout Logits) throws(EngineError) {
        try execute(batch, cache: cache, observe: nil, into: &logits)
    }

    /// ``forward(_:cache:)`` that also shows `observe` each op's index and input rows just before
    /// it runs (calibration reads activations this way).
    public func forward(_ batch: ForwardBatch, cache: PagedKVCache,
                        observe: ((_ op: Int, _ inputs: [Matrix]) -> Void)?) throws(EngineError) -> Logits {
        var logits = Logits()
        try execute(batch, cache: cache, observe: observe, into: &logits)
        return logits
    }

    /// The forward step behind every `forward`: validate and pack, run the ops, copy out the logits.
    private func execute(_ batch: ForwardBatch, cache: PagedKVCache, observe: ((_ op: Int, _ inputs: [Matrix]) -> Void)?,
                         into logits: inout Logits) throws(EngineError) {
        guard cache.dtype == engine.buildConfig.kvCacheDType else {
            throw EngineError(.cacheMismatch, "the engine was built for a \(engine.buildConfig.kvCacheDType.rawValue) KV cache but the cache is \(cache.dtype.rawValue); create it with dtype: engine.buildConfig.kvCacheDType")
        }
        try layout.load(batch, engine: engine, cache: cache)
        let tokenRows = layout.tokenCount, outputRows = layout.outputRows.count
        func matrix(_ value: ValueID) -> Matrix {
            let rows = valueOnTokens[value] ? tokenRows : outputRows
            let slot = plan.slotOfValue[value]
            return Matrix(data: buffer(slot, elements: rows * plan.slotWidths[slot]), rows: rows, columns: valueWidth[value])
        }
        // Index loops: unlike for-in over an array, they make no heap allocation in debug builds either.
        if operandShape != (tokenRows, outputRows) {
            // Grow every slot first (every value an op reads is some op's output): a slot grown
            // after a matrix on it was made would leave that matrix pointing at the freed buffer.
            for index in outputValue.indices { _ = matrix(outputValue[index]) }
            outputs.removeAll(keepingCapacity: true)
            for index in forwards.indices {
                outputs.append(matrix(outputValue[index]))
                operands[index].removeAll(keepingCapacity: true)
                for j in inputStart[index]..<inputStart[index + 1] { operands[index].append(matrix(inputValues[j])) }
            }
            operandShape = (tokenRows, outputRows)
        }
        let context = PluginContext(backend: backend, tokens: layout.tokens, attention: layout.attention,
                                    outputRows: layout.outputRows, kvLayer: cache.layer)
        for index in forwards.indices {
            observe?(index, operands[index])
            forwards[index](operands[index], outputs[index], context)
        }
        let result = matrix(engine.graph.output)
        logits.replace(rows: result.rows, vocabSize: result.columns, from: result.data)
    }

    /// The forward of a graph op that no plugin replaced: the backend's kernel for it.
    private static func forward(of kind: OpKind, weight: (String) -> Tensor) -> PluginForward {
        switch kind {
        case .embedding(let w):
            let table = weight(w)
            return { _, out, c in c.backend.embedding(c.tokens, table: table, into: out) }
        case .positionEmbedding(let w):
            let table = weight(w)
            return { _, out, c in c.backend.embedding(c.attention.positions, table: table, into: out) }
        case let .rmsNorm(w, eps):
            let w = weight(w)
            return { x, out, c in c.backend.rmsNorm(x[0], weight: w, epsilon: eps, into: out) }
        case let .layerNorm(w, b, eps):
            let w = weight(w), b = weight(b)
            return { x, out, c in c.backend.layerNorm(x[0], weight: w, bias: b, epsilon: eps, into: out) }
        case let .linear(w, b):
            let w = weight(w), b = b.map(weight)
            return { x, out, c in c.backend.linear(x[0], weight: w, bias: b, into: out) }
        case let .rope(heads, headDim, ropeDim, theta, neox):
            return { x, out, c in
                out.data.update(from: x[0].data, count: out.rows * out.columns)
                c.backend.rope(out, heads: heads, headDim: headDim, ropeDim: ropeDim, positions: c.attention.positions,
                               theta: theta, neox: neox)
            }
        case let .attention(layer, heads, kvHeads, headDim):
            return { x, out, c in
                c.backend.pagedAttention(query: x[0], key: x[1], value: x[2], cache: c.kvLayer(layer), heads: heads,
                                         kvHeads: kvHeads, headDim: headDim, metadata: c.attention, into: out)
            }
        case .silu: return { x, out, c in c.backend.silu(x[0], into: out) }
        case .gelu: return { x, out, c in c.backend.gelu(x[0], into: out) }
        case .mul: return { x, out, c in c.backend.mul(x[0], x[1], into: out) }
        case .add: return { x, out, c in c.backend.add(x[0], x[1], into: out) }
        case .gatherOutputRows:
            return { x, out, c in
                for row in c.outputRows.indices {
                    (out.data + row * out.stride).update(from: x[0].data + c.outputRows[row] * x[0].stride, count: out.columns)
                }
            }
        case .plugin(let name, _):
            preconditionFailure("plugin op \(name) reached the graph-op path")
        }
    }

    /// The slot's buffer, grown (never shrunk) to hold `elements` floats.
    private func buffer(_ slot: Int, elements: Int) -> UnsafeMutablePointer<Float> {
        if capacities[slot] < elements {
            buffers[slot]?.deallocate()
            buffers[slot] = .allocate(capacity: elements)
            capacities[slot] = elements
        }
        return buffers[slot]!
    }
}

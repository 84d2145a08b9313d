// Executes an engine's graph for a packed batch over the paged KV cache, on a backend.
// Not thread-safe: one owner (the Runtime or the Executor) drives it.
import TLLMBackend
import TLLMModel
import TLLMPlugin

/// Runs ``Engine`` graphs: validates a ``ForwardBatch``, runs every op, returns the requested logits.
public final class ModelEngine {
    public let engine: Engine
    public let backend: any Backend
    private let steps: [Step]
    private let plan: ActivationPlan
    private var buffers: [UnsafeMutablePointer<Float>?]
    private var capacities: [Int]
    /// The packed batch of the current step, refilled in place every step.
    private var layout: BatchLayout
    /// Each op's input matrices, rewritten in place every step (so no step builds an array).
    private var operands: [[Matrix]]
    /// The graph's wiring as flat integer arrays, so that a step reads a few cache lines per op
    /// instead of copying ops and values (their strings and arrays) out of the graph: op i's
    /// inputs are `inputValues[inputStart[i] ..< inputStart[i + 1]]`, its output `outputValue[i]`.
    private let inputStart: [Int], inputValues: [ValueID], outputValue: [ValueID]
    /// Per value: its width, and whether it has a row per token (else per output row); its buffer
    /// slot is `plan.slotOfValue`.
    private let valueWidth: [Int], valueOnTokens: [Bool]

    /// An op with its weights and plugin resolved.
    private enum Step {
        case embedding(Tensor)
        case positionEmbedding(Tensor)
        case rmsNorm(Tensor, Float)
        case layerNorm(Tensor, Tensor, Float)
        case linear(Tensor, Tensor?)
        case rope(heads: Int, headDim: Int, ropeDim: Int, theta: Double, neox: Bool)
        case attention(layer: Int, heads: Int, kvHeads: Int, headDim: Int)
        case silu, gelu, mul, add, gatherOutputRows
        case plugin(any PluginBase, PluginFields, [Tensor])
    }

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
        var steps: [Step] = []
        for op in engine.graph.ops {
            switch op.kind {
            case .embedding(let w): steps.append(.embedding(weight(w)))
            case .positionEmbedding(let w): steps.append(.positionEmbedding(weight(w)))
            case .rmsNorm(let w, let eps): steps.append(.rmsNorm(weight(w), eps))
            case .layerNorm(let w, let b, let eps): steps.append(.layerNorm(weight(w), weight(b), eps))
            case .linear(let w, let b): steps.append(.linear(weight(w), b.map(weight)))
            case let .rope(heads, headDim, ropeDim, theta, neox):
                steps.append(.rope(heads: heads, headDim: headDim, ropeDim: ropeDim, theta: theta, neox: neox))
            case let .attention(layer, heads, kvHeads, headDim):
                steps.append(.attention(layer: layer, heads: heads, kvHeads: kvHeads, headDim: headDim))
            case .silu: steps.append(.silu)
            case .gelu: steps.append(.gelu)
            case .mul: steps.append(.mul)
            case .add: steps.append(.add)
            case .gatherOutputRows: steps.append(.gatherOutputRows)
            case let .plugin(name, fields):
                steps.append(.plugin(plugins.plugin(named: name)!, fields, fields.weights.map(weight)))
            }
        }
        self.steps = steps
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
        let context = PluginContext(backend: backend, tokens: layout.tokens, attention: layout.attention, kvLayer: cache.layer)
        // Index loops: unlike for-in over an array, they make no heap allocation in debug builds either.
        for index in steps.indices {
            let out = matrix(outputValue[index])
            operands[index].removeAll(keepingCapacity: true)
            for j in inputStart[index]..<inputStart[index + 1] { operands[index].append(matrix(inputValues[j])) }
            observe?(index, operands[index])
            run(steps[index], inputs: operands[index], out: out, cache: cache, context: context)
        }
        let result = matrix(engine.graph.output)
        logits.replace(rows: result.rows, vocabSize: result.columns, from: result.data)
    }

    private func run(_ step: Step, inputs: [Matrix], out: Matrix, cache: PagedKVCache, context: PluginContext) {
        let b = backend
        switch step {
        case .embedding(let table): b.embedding(layout.tokens, table: table, into: out)
        case .positionEmbedding(let table): b.embedding(layout.attention.positions, table: table, into: out)
        case .rmsNorm(let w, let eps): b.rmsNorm(inputs[0], weight: w, epsilon: eps, into: out)
        case .layerNorm(let w, let bias, let eps): b.layerNorm(inputs[0], weight: w, bias: bias, epsilon: eps, into: out)
        case .linear(let w, let bias): b.linear(inputs[0], weight: w, bias: bias, into: out)
        case let .rope(heads, headDim, ropeDim, theta, neox):
            out.data.update(from: inputs[0].data, count: out.rows * out.columns)
            b.rope(out, heads: heads, headDim: headDim, ropeDim: ropeDim, positions: layout.attention.positions,
                   theta: theta, neox: neox)
        case let .attention(layer, heads, kvHeads, headDim):
            b.pagedAttention(query: inputs[0], key: inputs[1], value: inputs[2], cache: cache.layer(layer),
                             heads: heads, kvHeads: kvHeads, headDim: headDim, metadata: layout.attention, into: out)
        case .silu: b.silu(inputs[0], into: out)
        case .gelu: b.gelu(inputs[0], into: out)
        case .mul: b.mul(inputs[0], inputs[1], into: out)
        case .add: b.add(inputs[0], inputs[1], into: out)
        case .gatherOutputRows:
            for row in layout.outputRows.indices {
                let token = layout.outputRows[row]
                (out.data + row * out.stride).update(from: inputs[0].data + token * inputs[0].stride, count: out.columns)
            }
        case let .plugin(plugin, fields, weights):
            plugin.forward(PluginCall(inputs: inputs, output: out, weights: weights, fields: fields, context: context))
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

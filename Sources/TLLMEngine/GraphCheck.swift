// Type-checks an engine's graph against its weights and model before anything runs: every op's
// inputs, weights and attributes must fit, so no kernel ever sees a shape it cannot handle.
import TLLMBackend
import TLLMModel
import TLLMPlugin

/// Checks the ops of an ``Engine`` one by one; the first problem becomes an ``EngineError``.
struct GraphCheck {
    let engine: Engine
    let limits: PluginLimits

    init(_ engine: Engine) {
        self.engine = engine
        limits = PluginLimits(vocabSize: engine.config.vocabSize, maxSeqLen: engine.maxSeqLen,
                              numLayers: engine.config.numHiddenLayers, kvDim: engine.config.kvDim)
    }

    /// - Throws: ``EngineError`` `.invalidGraph`, `.missingWeight` or `.unknownPlugin` naming the op.
    func verify(plugins: PluginRegistry) throws(EngineError) {
        let graph = engine.graph
        if let problem = graph.validationError() { throw EngineError(.invalidGraph, problem) }
        for (i, value) in graph.values.enumerated() where value.width < 1 || value.width > 1 << 24 {
            throw EngineError(.invalidGraph, "value \(i) (\(value.name)) has width \(value.width)")
        }
        for (i, op) in graph.ops.enumerated() {
            do throws(OpProblem) { try check(op, plugins: plugins) } catch {
                throw EngineError(error.code, "op \(i) (\(op.kind.name) at \(op.scope.isEmpty ? "top" : op.scope)): \(error.message)")
            }
        }
        let out = graph.values[graph.output]
        guard out.rows == .outputs, out.width == engine.config.vocabSize else {
            throw EngineError(.invalidGraph, "the graph output is (\(out.rows.rawValue), \(out.width)); expected (outputs, \(engine.config.vocabSize))")
        }
    }

    struct OpProblem: Error {
        var code: EngineError.Code = .invalidGraph
        var message: String
    }

    func weight(_ name: String) throws(OpProblem) -> Tensor {
        guard let t = engine.weights[name] else { throw OpProblem(code: .missingWeight, message: "engine has no weight '\(name)'") }
        return t
    }

    private func check(_ op: GraphOp, plugins: PluginRegistry) throws(OpProblem) {
        let values = engine.graph.values
        let ins = op.inputs.map { ValueShape(values[$0]) }
        let out = ValueShape(values[op.output])
        func need(_ ok: Bool, _ message: @autoclosure () -> String) throws(OpProblem) {
            if !ok { throw OpProblem(message: message()) }
        }
        func arity(_ n: Int) throws(OpProblem) { try need(ins.count == n, "has \(ins.count) inputs; expected \(n)") }
        func vector(_ name: String, _ length: Int) throws(OpProblem) {
            let t = try weight(name)
            try need(t.shape == [length] && t.dtype == .f32, "'\(name)' is \(t.shape) \(t.dtype.rawValue); expected [\(length)] f32")
        }
        func table(_ name: String, rows: Int) throws(OpProblem) {
            let t = try weight(name)
            try need(t.shape.count == 2 && t.shape[0] >= rows && t.dtype.hasWeightKernel,
                     "table '\(name)' is \(t.shape) \(t.dtype.rawValue); it needs at least \(rows) rows")
            try need(out == ValueShape(rows: .tokens, width: t.shape[1]), "output \(out) does not match table width \(t.shape[1])")
        }
        switch op.kind {
        case .embedding(let w):
            try arity(0)
            try table(w, rows: limits.vocabSize)
        case .positionEmbedding(let w):
            try arity(0)
            try table(w, rows: limits.maxSeqLen)
        case let .rmsNorm(w, eps):
            try arity(1)
            try vector(w, ins[0].width)
            try need(eps > 0 && eps.isFinite && out == ins[0], "epsilon \(eps) or output \(out) is wrong")
        case let .layerNorm(w, b, eps):
            try arity(1)
            try vector(w, ins[0].width)
            try vector(b, ins[0].width)
            try need(eps > 0 && eps.isFinite && out == ins[0], "epsilon \(eps) or output \(out) is wrong")
        case let .linear(w, b):
            try arity(1)
            let t = try weight(w)
            try need(t.shape.count == 2 && t.shape[1] == ins[0].width && t.dtype.hasWeightKernel,
                     "weight '\(w)' is \(t.shape) \(t.dtype.rawValue) for an input of width \(ins[0].width)")
            try need(out == ValueShape(rows: ins[0].rows, width: t.shape[0]), "output \(out) does not match weight rows \(t.shape[0])")
            if let b { try vector(b, t.shape[0]) }
        case let .rope(heads, headDim, ropeDim, theta, _):
            try arity(1)
            try need(heads > 0 && headDim > 0 && heads * headDim == ins[0].width && ins[0].rows == .tokens && out == ins[0],
                     "\(heads) heads of \(headDim) do not cover input \(ins[0])")
            try need(ropeDim > 0 && ropeDim <= headDim && ropeDim % 2 == 0 && theta > 0 && theta.isFinite,
                     "rope_dim \(ropeDim) / theta \(theta) are invalid")
        case let .attention(layer, heads, kvHeads, headDim):
            try arity(3)
            try need((0..<limits.numLayers).contains(layer), "layer \(layer) is outside 0..<\(limits.numLayers)")
            try need(heads > 0 && kvHeads > 0 && heads % kvHeads == 0 && headDim > 0 && kvHeads * headDim == limits.kvDim,
                     "heads \(heads) / kv_heads \(kvHeads) / head_dim \(headDim) do not match the cache width \(limits.kvDim)")
            let widths = [heads * headDim, limits.kvDim, limits.kvDim]
            for (i, s) in ins.enumerated() { try need(s == ValueShape(rows: .tokens, width: widths[i]), "input \(i) is \(s)") }
            try need(out == ValueShape(rows: .tokens, width: heads * headDim), "output \(out) is wrong")
        case .silu, .gelu:
            try arity(1)
            try need(out == ins[0], "output \(out) differs from input \(ins[0])")
        case .mul, .add:
            try arity(2)
            try need(ins[0] == ins[1] && out == ins[0], "inputs \(ins[0]), \(ins[1]) and output \(out) differ")
        case .gatherOutputRows:
            try arity(1)
            try need(ins[0].rows == .tokens && out == ValueShape(rows: .outputs, width: ins[0].width), "gathers \(ins[0]) into \(out)")
        case let .plugin(name, fields):
            guard let plugin = plugins.plugin(named: name) else {
                throw OpProblem(code: .unknownPlugin, message: "plugin '\(name)' is not registered; register it before loading the engine")
            }
            var tensors: [Tensor] = []
            for w in fields.weights { tensors.append(try weight(w)) }
            let inferred: ValueShape
            do throws(PluginError) {
                inferred = try plugin.inferOutput(inputs: ins, weights: tensors, fields: fields, limits: limits)
            } catch {
                throw OpProblem(message: error.description)
            }
            try need(inferred == out, "plugin \(name) infers \(inferred); the graph says \(out)")
        }
    }
}

extension OpKind {
    /// A short name for messages.
    public var name: String {
        switch self {
        case .embedding: "embedding"
        case .positionEmbedding: "positionEmbedding"
        case .rmsNorm: "rmsNorm"
        case .layerNorm: "layerNorm"
        case .linear: "linear"
        case .rope: "rope"
        case .attention: "attention"
        case .silu: "silu"
        case .gelu: "gelu"
        case .mul: "mul"
        case .add: "add"
        case .gatherOutputRows: "gatherOutputRows"
        case .plugin(let name, _): name
        }
    }
}

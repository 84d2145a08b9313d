// Embedding lookup, fused with the learned-position lookup and their sum when the model has one.
import TLLMBackend
import TLLMModel

/// Replaces an `embedding` op, or `add(embedding, positionEmbedding)` (GPT-2) with one pass.
///
/// Weights: the token table, then the position table if fused.
public struct EmbeddingPlugin: PluginBase {
    public init() {}
    public var name: String { "EmbeddingPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        let op = view[index]
        guard case .embedding(let table) = op.kind else { return nil }
        if let addIndex = view.soleReader(of: op.output), view[addIndex].kind == .add, view[addIndex].inputs.first == op.output,
           view[addIndex].inputs.count == 2, let posIndex = view.producer(of: view[addIndex].inputs[1], onlyReadBy: addIndex),
           case .positionEmbedding(let positions) = view[posIndex].kind {
            return PluginMatch(ops: [index, posIndex, addIndex], inputs: [], output: view[addIndex].output,
                               fields: PluginFields(weights: [table, positions]))
        }
        return PluginMatch(ops: [index], inputs: [], output: op.output, fields: PluginFields(weights: [table]))
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        try require(inputs.isEmpty && (1...2).contains(weights.count), "takes no inputs and one or two tables")
        let width = weights[0].rowLength
        try require(weights[0].shape.count == 2 && weights[0].shape[0] >= limits.vocabSize && weights[0].dtype.hasWeightKernel,
                    "token table \(weights[0].shape) must have at least \(limits.vocabSize) rows")
        if weights.count == 2 {
            try require(weights[1].shape.count == 2 && weights[1].shape[0] >= limits.maxSeqLen && weights[1].rowLength == width
                        && weights[1].dtype.hasWeightKernel,
                        "position table \(weights[1].shape) must have at least \(limits.maxSeqLen) rows of \(width)")
        }
        return ValueShape(rows: .tokens, width: width)
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        let table = weights[0], positionTable = weights.count > 1 ? weights[1] : nil
        return { _, output, context in
            context.backend.fusedEmbedding(context.tokens, table: table, positions: context.attention.positions,
                                           positionTable: positionTable, into: output)
        }
    }
}

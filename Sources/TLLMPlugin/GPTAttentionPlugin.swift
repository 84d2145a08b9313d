// The gpt_attention_plugin analogue: RoPE on q and k, the KV cache write and paged attention, fused.
import TLLMBackend
import TLLMModel

/// Replaces an `attention` op and, when they feed only it, the `rope` ops on its q and k inputs.
///
/// Fields: `layer`, `heads`, `kv_heads`, `head_dim`, `rope_dim` (0: no rotary embedding),
/// `neox`; float `theta`. Inputs: q, k, v before rotation, or one packed input holding them side by
/// side, `[q | k | v]` (TensorRT-LLM's fused QKV, which the Builder makes by fusing the three
/// projections). Works over float32 and int8 caches.
public struct GPTAttentionPlugin: PluginBase {
    public init() {}
    public var name: String { "GPTAttentionPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        let op = view[index]
        guard case let .attention(layer, heads, kvHeads, headDim) = op.kind, op.inputs.count == 3 else { return nil }
        var ops = [index], inputs = op.inputs
        var fields = PluginFields(ints: ["layer": layer, "heads": heads, "kv_heads": kvHeads, "head_dim": headDim,
                                         "rope_dim": 0, "neox": 0])
        if let qi = view.producer(of: op.inputs[0], onlyReadBy: index), let ki = view.producer(of: op.inputs[1], onlyReadBy: index),
           case let .rope(_, qDim, qRope, qTheta, qNeox) = view[qi].kind,
           case let .rope(_, kDim, kRope, kTheta, kNeox) = view[ki].kind,
           qDim == headDim, kDim == headDim, qRope == kRope, qTheta == kTheta, qNeox == kNeox {
            ops = [qi, ki, index]
            inputs = [view[qi].inputs[0], view[ki].inputs[0], op.inputs[2]]
            fields.ints["rope_dim"] = qRope
            fields.ints["neox"] = qNeox ? 1 : 0
            fields.floats["theta"] = qTheta
        }
        return PluginMatch(ops: ops, inputs: inputs, output: op.output, fields: fields)
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        try require(weights.isEmpty, "has \(weights.count) weights; expected 0")
        try require(inputs.count == 3 || inputs.count == 1, "has \(inputs.count) inputs; expected q, k, v or one packed qkv")
        let layer = try int(fields, "layer"), heads = try int(fields, "heads"), kvHeads = try int(fields, "kv_heads")
        let headDim = try int(fields, "head_dim"), ropeDim = try int(fields, "rope_dim")
        _ = try flag(fields, "neox")
        try require((0..<limits.numLayers).contains(layer), "layer \(layer) is outside 0..<\(limits.numLayers)")
        try require(heads > 0 && kvHeads > 0 && heads % kvHeads == 0 && headDim > 0 && headDim < 1 << 16,
                    "heads \(heads), kv_heads \(kvHeads), head_dim \(headDim) do not form grouped-query attention")
        try require(kvHeads * headDim == limits.kvDim, "KV width \(kvHeads * headDim) differs from the cache's \(limits.kvDim)")
        try require(ropeDim >= 0 && ropeDim <= headDim && ropeDim % 2 == 0, "rope_dim \(ropeDim) must be even and at most head_dim")
        if ropeDim > 0 {
            let theta = fields.floats["theta"] ?? 0
            try require(theta > 0 && theta.isFinite, "rope theta \(theta) must be positive")
        }
        let separate = [heads * headDim, kvHeads * headDim, kvHeads * headDim]
        let widths = inputs.count == 1 ? [separate.reduce(0, +)] : separate
        for (i, input) in inputs.enumerated() {
            try require(input.rows == .tokens && input.width == widths[i], "input \(i) is \(input); expected (tokens, \(widths[i]))")
        }
        return ValueShape(rows: .tokens, width: heads * headDim)
    }

    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        let f = fields.ints
        let ropeDim = f["rope_dim"]!
        let rotary = ropeDim > 0 ? RotarySpec(ropeDim: ropeDim, theta: fields.floats["theta"]!, neox: f["neox"] == 1) : nil
        let layer = f["layer"]!, heads = f["heads"]!, kvHeads = f["kv_heads"]!, headDim = f["head_dim"]!
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim
        return { x, output, context in
            // Packed [q | k | v]: column views of the one matrix.
            let (q, k, v) = x.count == 3 ? (x[0], x[1], x[2])
                                         : (x[0].columns(0, qWidth), x[0].columns(qWidth, kvWidth), x[0].columns(qWidth + kvWidth, kvWidth))
            context.backend.ropeAttention(query: q, key: k, value: v, cache: context.kvLayer(layer),
                                          heads: heads, kvHeads: kvHeads, headDim: headDim, rotary: rotary,
                                          metadata: context.attention, into: output)
        }
    }
}

// The building blocks every model file uses. Each holds checkpoint keys and lowers itself to ops.

/// Token (or position) lookup table: `weight` is (rows, width).
public struct Embedding: Sendable {
    public let weight: String
    public let width: Int

    public func callAsFunction(_ g: inout GraphBuilder) -> ValueID {
        g.add(.embedding(weight: weight), [], width: width, name: "embedding")
    }
}

/// y = x · Wᵀ + b with W stored as (outFeatures, inFeatures).
public struct Linear: Sendable {
    public let weight: String
    public let bias: String?
    public let outFeatures: Int

    public init(_ weight: String, bias: String? = nil, outFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.outFeatures = outFeatures
    }

    public func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID, name: String) -> ValueID {
        g.add(.linear(weight: weight, bias: bias), [x], width: outFeatures, rows: g.values[x].rows, name: name)
    }
}

/// Root-mean-square normalisation with a learned scale.
public struct RMSNorm: Sendable {
    public let weight: String
    public let epsilon: Float

    public func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        g.add(.rmsNorm(weight: weight, epsilon: epsilon), [x], width: g.width(of: x), rows: g.values[x].rows, name: "norm")
    }
}

/// Mean/variance normalisation with a learned scale and shift.
public struct LayerNorm: Sendable {
    public let weight: String
    public let bias: String
    public let epsilon: Float

    public func callAsFunction(_ g: inout GraphBuilder, _ x: ValueID) -> ValueID {
        g.add(.layerNorm(weight: weight, bias: bias, epsilon: epsilon), [x], width: g.width(of: x),
              rows: g.values[x].rows, name: "norm")
    }
}

extension GraphBuilder {
    public mutating func add(_ a: ValueID, _ b: ValueID) -> ValueID {
        add(.add, [a, b], width: width(of: a), rows: values[a].rows, name: "residual")
    }

    public mutating func mul(_ a: ValueID, _ b: ValueID) -> ValueID {
        add(.mul, [a, b], width: width(of: a), name: "mul")
    }

    public mutating func silu(_ x: ValueID) -> ValueID {
        add(.silu, [x], width: width(of: x), name: "silu")
    }

    public mutating func gelu(_ x: ValueID) -> ValueID {
        add(.gelu, [x], width: width(of: x), name: "gelu")
    }

    /// Keeps the rows whose logits the batch asked for.
    public mutating func gatherOutputRows(_ x: ValueID) -> ValueID {
        add(.gatherOutputRows, [x], width: width(of: x), rows: .outputs, name: "last_tokens")
    }

    /// Causal attention over the paged KV cache of `layer`; (q, k, v) → (tokens, heads * headDim).
    public mutating func attention(_ q: ValueID, _ k: ValueID, _ v: ValueID,
                                   layer: Int, heads: Int, kvHeads: Int, headDim: Int) -> ValueID {
        add(.attention(layer: layer, heads: heads, kvHeads: kvHeads, headDim: headDim), [q, k, v],
            width: heads * headDim, name: "attention")
    }
}

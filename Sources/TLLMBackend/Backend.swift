// The Backend protocol: the kernels an engine needs, on raw activation memory. Knows no model.

/// A (rows, columns) view of float32 activations with a row stride, owned by the caller.
public struct Matrix: @unchecked Sendable {
    public var data: UnsafeMutablePointer<Float>
    public var rows: Int
    public var columns: Int
    /// Elements between the starts of consecutive rows (≥ columns).
    public var stride: Int

    public init(data: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil) {
        self.data = data
        self.rows = rows
        self.columns = columns
        self.stride = stride ?? columns
    }

    /// Columns [start, start + count) of every row, sharing memory.
    public func columns(_ start: Int, _ count: Int) -> Matrix {
        Matrix(data: data + start, rows: rows, columns: count, stride: stride)
    }
}

/// Paged attention inputs for one packed batch: which sequence and position each token has,
/// and each sequence's block table (padded to `maxBlocksPerSequence`).
public struct AttentionMetadata: Sendable {
    public var sequenceOfToken: [Int32]
    public var positions: [Int32]
    /// Row-major (sequences, maxBlocksPerSequence) block ids.
    public var blockTables: [Int32]
    public var maxBlocksPerSequence: Int
    /// Cache slot (block * tokensPerBlock + offset) each token's K/V is written to.
    public var slots: [Int64]
    public var tokensPerBlock: Int

    public init(sequenceOfToken: [Int32], positions: [Int32], blockTables: [Int32],
                maxBlocksPerSequence: Int, slots: [Int64], tokensPerBlock: Int) {
        self.sequenceOfToken = sequenceOfToken
        self.positions = positions
        self.blockTables = blockTables
        self.maxBlocksPerSequence = maxBlocksPerSequence
        self.slots = slots
        self.tokensPerBlock = tokensPerBlock
    }
}

/// How the paged KV cache stores keys and values.
public enum KVCacheDType: String, Sendable, Codable, CaseIterable {
    /// float32, exactly what attention computed.
    case float32
    /// int8 codes with one float32 scale per block of 32 consecutive values of one token's row
    /// (a quarter of the memory; a token's stored values never depend on other tokens).
    case int8
}

/// One layer's slice of the paged KV cache: `(slots, kvDim)` float32 for keys and for values.
///
/// For an int8 cache, `keyCodes`/`valueCodes` hold the `(slots, kvDim)` int8 codes and
/// `keys`/`values` the `(slots, kvDim / 32)` float32 scales.
public struct KVLayerView: @unchecked Sendable {
    public var keys: UnsafeMutablePointer<Float>
    public var values: UnsafeMutablePointer<Float>
    public var dtype: KVCacheDType = .float32
    public var keyCodes: UnsafeMutablePointer<Int8>?
    public var valueCodes: UnsafeMutablePointer<Int8>?

    public init(keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>) {
        self.keys = keys
        self.values = values
    }

    /// An int8 layer: codes and per-32-value scales for keys and values.
    public init(keyCodes: UnsafeMutablePointer<Int8>, keyScales: UnsafeMutablePointer<Float>,
                valueCodes: UnsafeMutablePointer<Int8>, valueScales: UnsafeMutablePointer<Float>) {
        self.keys = keyScales
        self.values = valueScales
        self.dtype = .int8
        self.keyCodes = keyCodes
        self.valueCodes = valueCodes
    }
}

/// An activation applied in a GEMM epilogue.
public enum Activation: Int, Sendable, Codable {
    case none = 0, gelu = 1, silu = 2
}

/// Rotary embedding parameters for the fused attention kernel.
public struct RotarySpec: Sendable, Equatable {
    public var ropeDim: Int
    public var theta: Double
    public var neox: Bool

    public init(ropeDim: Int, theta: Double, neox: Bool) {
        self.ropeDim = ropeDim
        self.theta = theta
        self.neox = neox
    }
}

/// The kernels an engine runs. Every method computes each output row independently of the
/// others in the batch (batch invariance).
public protocol Backend: Sendable {
    /// A short name for logs ("cpu (avx2+fma, 2 threads)").
    var description: String { get }
    /// out = input · weightᵀ (+ bias). weight is [out, in] of any supported dtype.
    func linear(_ input: Matrix, weight: Tensor, bias: Tensor?, into out: Matrix)
    /// out[t] = table[ids[t]].
    func embedding(_ ids: [Int32], table: Tensor, into out: Matrix)
    func rmsNorm(_ input: Matrix, weight: Tensor, epsilon: Float, into out: Matrix)
    func layerNorm(_ input: Matrix, weight: Tensor, bias: Tensor, epsilon: Float, into out: Matrix)
    /// Rotates each head of `x` in place by its token's position.
    func rope(_ x: Matrix, heads: Int, headDim: Int, ropeDim: Int, positions: [Int32], theta: Double, neox: Bool)
    func siluMul(gate: Matrix, up: Matrix, into out: Matrix)
    func silu(_ input: Matrix, into out: Matrix)
    func mul(_ a: Matrix, _ b: Matrix, into out: Matrix)
    func gelu(_ input: Matrix, into out: Matrix)
    func add(_ a: Matrix, _ b: Matrix, into out: Matrix)
    /// Writes this batch's keys and values into the cache, then attends causally over it.
    func pagedAttention(query: Matrix, key: Matrix, value: Matrix, cache: KVLayerView,
                        heads: Int, kvHeads: Int, headDim: Int, metadata: AttentionMetadata, into out: Matrix)

    // Fused kernels (the built-in plugins run on these).

    /// out = residual + activation(input · weightᵀ + bias), one pass per output element.
    func fusedLinear(_ input: Matrix, weight: Tensor, bias: Tensor?, activation: Activation,
                     residual: Matrix?, into out: Matrix)
    /// out = silu(input · gateᵀ + gateBias) * (input · upᵀ + upBias), one pass.
    func gatedLinear(_ input: Matrix, gate: Tensor, up: Tensor, gateBias: Tensor?, upBias: Tensor?, into out: Matrix)
    /// out[t] = table[ids[t]] (+ positionTable[positions[t]]).
    func fusedEmbedding(_ ids: [Int32], table: Tensor, positions: [Int32], positionTable: Tensor?, into out: Matrix)
    /// RMSNorm over rows that may be strided.
    func fusedRMSNorm(_ input: Matrix, weight: Tensor, epsilon: Float, into out: Matrix)
    /// GELU over rows that may be strided, parallel over rows.
    func fusedGELU(_ input: Matrix, into out: Matrix)
    /// Rotary embedding of q and k (when `rotary` is set), cache write and paged attention in one call.
    func ropeAttention(query: Matrix, key: Matrix, value: Matrix, cache: KVLayerView, heads: Int, kvHeads: Int,
                       headDim: Int, rotary: RotarySpec?, metadata: AttentionMetadata, into out: Matrix)
}

// Plugins: named fused kernels that replace matched subgraphs, as TensorRT-LLM's plugins do.
// A plugin knows its pattern, its output shape and its kernel; it knows nothing about text.
import TLLMBackend
import TLLMModel

/// The shape and element type of one activation: (rows, width) of `dtype` (float32 on the CPU).
public struct ValueShape: Sendable, Equatable, CustomStringConvertible {
    public var rows: GraphValue.Rows
    public var width: Int
    public var dtype: DType

    public init(rows: GraphValue.Rows, width: Int, dtype: DType = .f32) {
        self.rows = rows
        self.width = width
        self.dtype = dtype
    }

    /// The shape of a graph value (activations are float32).
    public init(_ value: GraphValue) { self.init(rows: value.rows, width: value.width) }

    public var description: String { "(\(rows.rawValue), \(width)) \(dtype.rawValue)" }
}

/// A subgraph a plugin takes over: the ops it removes, the values it reads, the value it produces
/// and the fields the plugin op will carry.
public struct PluginMatch: Sendable, Equatable {
    /// Indices of the replaced ops in the graph (the last one produces `output`).
    public var ops: [Int]
    public var inputs: [ValueID]
    public var output: ValueID
    public var fields: PluginFields

    public init(ops: [Int], inputs: [ValueID], output: ValueID, fields: PluginFields = PluginFields()) {
        self.ops = ops
        self.inputs = inputs
        self.output = output
        self.fields = fields
    }
}

/// What the engine tells a plugin about the model when it checks a plugin op.
public struct PluginLimits: Sendable, Equatable {
    public var vocabSize: Int
    public var maxSeqLen: Int
    public var numLayers: Int
    /// Width of one token's keys (and values) in the KV cache.
    public var kvDim: Int

    public init(vocabSize: Int, maxSeqLen: Int, numLayers: Int, kvDim: Int) {
        self.vocabSize = vocabSize
        self.maxSeqLen = maxSeqLen
        self.numLayers = numLayers
        self.kvDim = kvDim
    }
}

/// A fused kernel with a stable name, a pattern it replaces, shape and dtype inference, and a
/// forward on a backend, configured once per op (TensorRT's `IPluginV2` with its creator).
public protocol PluginBase: Sendable {
    /// Stable name recorded in engines (e.g. `SwiGLUPlugin`).
    var name: String { get }
    /// The subgraph rooted at op `index` this plugin replaces, or nil.
    func match(at index: Int, in view: GraphView) -> PluginMatch?
    /// Shape and dtype inference: the output of a plugin op with these inputs, weights and fields.
    /// - Throws: ``PluginError`` when they do not fit together (checked before anything runs, also
    ///   for ops read from an engine file).
    func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                     limits: PluginLimits) throws(PluginError) -> ValueShape
    /// Reads an op's fields and takes its resolved weights (in `fields.weights` order) once, when an
    /// engine is loaded (TensorRT's `configurePlugin`), and returns the op's forward, which the
    /// engine then calls every step. Called only for ops that passed
    /// ``inferOutput(inputs:weights:fields:limits:)``, so fields it checked there are present.
    func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward
}

extension PluginBase {
    /// Throws a ``PluginError`` from this plugin unless `condition` holds.
    public func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(PluginError) {
        if !condition { throw PluginError(name, message()) }
    }

    /// The 0/1 field `key` as a Bool, or a ``PluginError`` naming it.
    public func flag(_ fields: PluginFields, _ key: String) throws(PluginError) -> Bool {
        let v = try int(fields, key)
        guard v == 0 || v == 1 else { throw PluginError(name, "field '\(key)' is \(v); expected 0 or 1") }
        return v == 1
    }

    /// The integer field `key`, or a ``PluginError`` naming it.
    public func int(_ fields: PluginFields, _ key: String) throws(PluginError) -> Int {
        guard let v = fields.ints[key] else { throw PluginError(name, "missing integer field '\(key)'") }
        return v
    }
}

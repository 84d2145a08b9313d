// The attributes a plugin op carries in the graph (TensorRT's PluginFieldCollection): what it reads
// and how it is parameterised, so an engine file can recreate the op without the Builder.

/// Named attributes of one plugin op. Weights are checkpoint keys the engine resolves at load.
public struct PluginFields: Sendable, Codable, Equatable {
    /// Checkpoint keys of the weights the plugin reads, in the order the plugin expects.
    public var weights: [String]
    /// Integer attributes (layer index, head counts, flags).
    public var ints: [String: Int]
    /// Floating-point attributes (epsilon, rope theta).
    public var floats: [String: Double]

    public init(weights: [String] = [], ints: [String: Int] = [:], floats: [String: Double] = [:]) {
        self.weights = weights
        self.ints = ints
        self.floats = floats
    }

    /// The integer attribute `key`, or nil.
    public func int(_ key: String) -> Int? { ints[key] }
    /// The floating-point attribute `key`, or nil.
    public func float(_ key: String) -> Double? { floats[key] }
}

// A user's own plugin: RMSNorm written in plain Swift with float64 accumulation, replacing the
// graph's rmsNorm ops ahead of the built-in RMSNormPlugin. It counts its calls so a test (and
// the example) can prove it ran.
import Synchronization
import TLLMBackend
import TLLMModel
import TLLMPlugin

/// Counts calls across threads.
public final class CallCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public func increment() { value.add(1, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// RMSNorm with float64 sums: y = x / sqrt(mean(x²) + eps) * w.
///
/// Register it ahead of the built-in so it takes the ops first:
/// `registry.register(ScalarRMSNormPlugin(counter: c), before: "RMSNormPlugin")`.
public struct ScalarRMSNormPlugin: PluginBase {
    public let counter: CallCounter

    public init(counter: CallCounter = CallCounter()) { self.counter = counter }

    /// Stable: engines built with this plugin record the name and need it registered to load.
    public var name: String { "ScalarRMSNormPlugin" }

    public func match(at index: Int, in view: GraphView) -> PluginMatch? {
        guard case let .rmsNorm(weight, epsilon) = view[index].kind else { return nil }
        return PluginMatch(ops: [index], inputs: view[index].inputs, output: view[index].output,
                           fields: PluginFields(weights: [weight], floats: ["epsilon": Double(epsilon)]))
    }

    public func inferOutput(inputs: [ValueShape], weights: [Tensor], fields: PluginFields,
                            limits: PluginLimits) throws(PluginError) -> ValueShape {
        try require(inputs.count == 1 && weights.count == 1, "takes one input and one weight")
        try require(weights[0].shape == [inputs[0].width] && weights[0].dtype == .f32, "weight must be [\(inputs[0].width)] f32")
        try require((fields.floats["epsilon"] ?? 0) > 0, "needs a positive epsilon")
        return inputs[0]
    }

    /// Reads epsilon and the weight once; the forward it returns runs every step.
    public func configure(fields: PluginFields, weights: [Tensor]) -> PluginForward {
        let w = weights[0], eps = fields.floats["epsilon"]!
        return { [counter] inputs, output, _ in
            counter.increment()
            Self.normalize(inputs[0], weight: w.floatPointer, epsilon: eps, into: output)
        }
    }

    private static func normalize(_ x: Matrix, weight w: UnsafePointer<Float>, epsilon eps: Double, into y: Matrix) {
        for r in 0..<x.rows {
            let row = x.data + r * x.stride, out = y.data + r * y.stride
            var sum = 0.0
            for i in 0..<x.columns { sum += Double(row[i]) * Double(row[i]) }
            let scale = 1 / (sum / Double(x.columns) + eps).squareRoot()
            for i in 0..<x.columns { out[i] = Float(Double(row[i]) * scale) * w[i] }
        }
    }
}

// What calibration measured: sampled rows of the values that feed rescalable linears.
import TLLMModel

/// Sampled activations of graph values, gathered by running the unquantized model on the
/// calibration prompts (the Builder does this; quantization only reads the samples).
public struct CalibrationActivations: Sendable {
    /// For each value, `count × width` floats, row-major: one row per sampled token.
    public var samples: [ValueID: [Float]]
    /// Tokens the calibration prompts held.
    public var tokens: Int

    public init(samples: [ValueID: [Float]] = [:], tokens: Int = 0) {
        self.samples = samples
        self.tokens = tokens
    }

    /// Most rows kept per value: AWQ's loss needs a representative sample, not every token.
    public static let maxSamples = 64
}

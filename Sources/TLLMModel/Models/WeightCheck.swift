// Checks a weight map against the shapes a module tree expects, before anything runs.
import TLLMBackend

/// Verifies presence, shape and usable dtype of named weights.
struct WeightCheck {
    let weights: [String: Tensor]

    init(_ weights: [String: Tensor]) { self.weights = weights }

    /// - Throws: ``ModelError`` for the first (alphabetically) missing, misshapen or unusable weight.
    func verify(_ expected: [String: [Int]]) throws(ModelError) {
        for name in expected.keys.sorted() {
            let shape = expected[name]!
            guard let tensor = weights[name] else {
                throw ModelError(.missingWeight, "checkpoint has no tensor '\(name)' (expected shape \(shape))")
            }
            guard tensor.shape == shape else {
                throw ModelError(.shapeMismatch, "tensor '\(name)' has shape \(tensor.shape), the config implies \(shape)")
            }
            let isVector = shape.count == 1
            guard isVector ? tensor.dtype == .f32 : tensor.dtype.hasWeightKernel else {
                throw ModelError(.unsupportedWeightType,
                                 "tensor '\(name)' is \(tensor.dtype.rawValue); \(isVector ? "norms and biases must be f32" : "no kernel reads that type")")
            }
        }
    }
}

// Shared checks the built-in plugins run in shape inference, so a bad op fails before any kernel.
import TLLMBackend
import TLLMModel

extension PluginBase {
    /// A matrix weight [rows, columns] that a kernel can read.
    func checkMatrix(_ w: Tensor, columns: Int, _ what: String) throws(PluginError) {
        try require(w.shape.count == 2 && w.shape[1] == columns && w.shape[0] > 0,
                    "\(what) has shape \(w.shape); expected [N, \(columns)]")
        try require(w.dtype.hasWeightKernel, "\(what) is \(w.dtype.rawValue), which no kernel reads")
    }

    /// A float32 vector of `length` elements (norm weights, biases).
    func checkVector(_ v: Tensor, length: Int, _ what: String) throws(PluginError) {
        try require(v.shape == [length] && v.dtype == .f32, "\(what) has shape \(v.shape) \(v.dtype.rawValue); expected [\(length)] f32")
    }

    /// Exactly `count` weights and `inputs` inputs.
    func checkArity(_ weights: [Tensor], _ count: Int, _ inputs: [ValueShape], _ inputCount: Int) throws(PluginError) {
        try require(weights.count == count, "has \(weights.count) weights; expected \(count)")
        try require(inputs.count == inputCount, "has \(inputs.count) inputs; expected \(inputCount)")
    }
}

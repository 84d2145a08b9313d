// Applies a QuantConfig to a model's weights: the Builder's quantization step.
import TLLMBackend

/// Converts weights to the storage a ``QuantConfig`` asks for.
public enum Quantizer {
    /// The weights as the engine will store them, and a log line per converted tensor group.
    public static func apply(_ config: QuantConfig, to weights: [String: Tensor]) -> (weights: [String: Tensor], log: [String]) {
        switch config.algo {
        case .ggufNative:
            var counts: [DType: Int] = [:]
            for tensor in weights.values { counts[tensor.dtype, default: 0] += 1 }
            let summary = counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
            return (weights, ["Quantization: gguf_native, weights kept as stored (\(summary.joined(separator: ", ")))"])
        case .none:
            var out: [String: Tensor] = [:]
            var converted = 0
            for (name, tensor) in weights {
                if tensor.dtype == .f32 { out[name] = tensor; continue }
                out[name] = Tensor(shape: tensor.shape, floats: tensor.floats())
                converted += 1
            }
            return (out, ["Quantization: none, \(converted) tensors dequantized exactly to f32"])
        }
    }

    /// Total bytes of the weights (tied tensors counted once).
    public static func modelBytes(_ weights: [String: Tensor]) -> Int {
        weights.values.reduce(0) { $0 + $1.byteCount }
    }
}

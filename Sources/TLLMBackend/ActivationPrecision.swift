// How a linear layer's input meets block-quantized weights: float32 (exact), or int8 (W4A8).
import TLLMKernels

/// The precision of activations in the matrix products (TensorRT-LLM's "A" in W4A16 / W4A8).
///
/// `.int8` quantizes each token's input per 32 values to int8 with a float scale (llama.cpp's q8_1)
/// and multiplies it with GGUF Q4_0/Q4_1/Q8_0 weights in integer arithmetic: faster decode and
/// prefill, but logits move (measured in Docs/Quantization.md). Results stay batch-invariant.
/// Other weight types keep float32 activations.
public enum ActivationPrecision: String, Sendable, Codable, CaseIterable {
    /// float32 activations, exactly (the default).
    case float32
    /// int8 activations, one float scale per 32 values (W4A8 / W8A8).
    case int8

    /// The kernels' name for this precision.
    public var kernelInput: tllm_input_type { self == .int8 ? TLLM_INPUT_Q8 : TLLM_INPUT_F32 }
}

extension DType {
    /// Whether linears over weights of this type have an int8-activation kernel (GGUF Q4_0, Q4_1,
    /// Q8_0, and their 8-row interleaved formats; the grouped ones are float32-only).
    public var takesInt8Activations: Bool {
        self == .q4_0 || self == .q4_1 || self == .q8_0 || self == .q4_0x8 || self == .q4_1x8 || self == .q8_0x8
    }
}

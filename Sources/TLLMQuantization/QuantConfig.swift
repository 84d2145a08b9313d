// How weights are stored in a built engine. Real kernels read whatever is chosen here.

/// The weight quantization algorithm of an engine.
public enum QuantAlgo: String, Sendable, Codable, CaseIterable {
    /// Float32 weights: every matrix is dequantized exactly at build time; GEMM through OpenBLAS.
    case none
    /// GGUF blocks (Q4_0, Q4_1, Q8_0, F16, …) kept as they are and read directly by the kernels.
    case ggufNative = "gguf_native"
}

/// Quantization settings of a build.
public struct QuantConfig: Sendable, Codable, Equatable {
    public var algo: QuantAlgo

    public init(algo: QuantAlgo = .ggufNative) {
        self.algo = algo
    }
}

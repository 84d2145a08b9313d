// How weights are stored in a built engine. Real kernels read whatever is chosen here.
import TLLMBackend

/// The weight quantization algorithm of an engine (TensorRT-LLM's `QuantAlgo`).
public enum QuantAlgo: String, Sendable, Codable, CaseIterable {
    /// Float32 weights: every matrix is dequantized exactly at build time.
    case none
    /// int8 weights with one float32 scale per output channel; activations stay float32.
    case w8a16
    /// int4 weights in groups of 32/64/128 columns (fp16 scale and minimum per group), optionally
    /// with activation-aware scaling (AWQ) calibrated on a few prompts.
    case w4a16
    /// FP8 E4M3 weights with one float32 scale per output channel, computed in float32.
    case fp8
    /// GGUF blocks (Q4_0, Q4_1, Q8_0, F16, …) kept as they are and read directly by the kernels.
    case ggufNative = "gguf_native"
}

/// Quantization settings of a build.
public struct QuantConfig: Sendable, Codable, Equatable {
    public var algo: QuantAlgo
    /// Columns per int4 group (W4A16): 32, 64 or 128. Must divide every quantized matrix's width.
    public var groupSize: Int
    /// Activation-aware weight scaling (AWQ) before int4 quantization (W4A16 only).
    public var activationAware: Bool
    /// Token ids of the calibration prompts AWQ measures activations on (a few short prompts).
    public var calibration: [[Int32]]
    /// The precision of activations in the matrix products: float32 (exact, the default) or int8
    /// per 32 values (W4A8 with GGUF-native Q4_0/Q4_1/Q8_0 weights, as llama.cpp computes).
    public var activations: ActivationPrecision

    /// - Parameters:
    ///   - algo: The weight format.
    ///   - groupSize: int4 group size for W4A16 (default 64: SmolLM2's hidden size 576 is not a multiple of 128).
    ///   - activationAware: Run AWQ scaling (W4A16 only; needs `calibration`).
    ///   - calibration: Token ids of the calibration prompts.
    ///   - activations: float32, or int8 (GGUF-native weights only).
    public init(algo: QuantAlgo = .ggufNative, groupSize: Int = 64, activationAware: Bool = false, calibration: [[Int32]] = [],
                activations: ActivationPrecision = .float32) {
        self.algo = algo
        self.groupSize = groupSize
        self.activationAware = activationAware
        self.calibration = calibration
        self.activations = activations
    }

    private enum CodingKeys: String, CodingKey { case algo, groupSize, activationAware, calibration, activations }

    /// Decodes a stored config; engines written before `activations` existed read as float32.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        algo = try c.decode(QuantAlgo.self, forKey: .algo)
        groupSize = try c.decode(Int.self, forKey: .groupSize)
        activationAware = try c.decode(Bool.self, forKey: .activationAware)
        calibration = try c.decode([[Int32]].self, forKey: .calibration)
        activations = try c.decodeIfPresent(ActivationPrecision.self, forKey: .activations) ?? .float32
    }

    /// Problems with the settings on their own, as messages that say what to change (empty if none).
    public func problems() -> [String] {
        var out: [String] = []
        if algo == .w4a16 {
            if ![32, 64, 128].contains(groupSize) { out.append("group size \(groupSize) is not supported; use 32, 64 or 128") }
        } else if activationAware {
            out.append("activation-aware scaling (AWQ) applies to W4A16 only; drop it or use --quant w4a16")
        }
        if activationAware && calibration.allSatisfy(\.isEmpty) {
            out.append("activation-aware scaling needs calibration prompts (token ids); give at least one")
        }
        if activations == .int8 && algo != .ggufNative {
            out.append("int8 activations multiply GGUF Q4_0/Q4_1/Q8_0 blocks; use --quant gguf_native with --activation int8")
        }
        return out
    }

    /// The format matrices are stored in (nil: kept as in the checkpoint, or float32 for `.none`).
    public var matrixType: DType? {
        switch algo {
        case .none: .f32
        case .w8a16: .int8Row
        case .w4a16: groupSize == 32 ? .int4G32 : groupSize == 128 ? .int4G128 : .int4G64
        case .fp8: .fp8Row
        case .ggufNative: nil
        }
    }

    /// The format of lookup tables and the LM head: W4A16 keeps them at 8 bits (as TensorRT-LLM
    /// and llama.cpp keep the output layer at higher precision); other modes use `matrixType`.
    public var tableType: DType? { algo == .w4a16 ? .int8Row : matrixType }
}

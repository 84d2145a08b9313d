// Engine options shared by trtllm-build and trtllm-eval: quantization, KV cache storage, plugins.
import ArgumentParser
import MiniTRTLLM

/// `--quant`, `--group-size`, `--awq`, `--activation`, `--kv-cache-dtype`, `--plugins`, `--[no-]fuse-qkv`.
public struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Weight quantization: none (float32), w8a16, w4a16, fp8, or gguf_native (keep the checkpoint's blocks).")
    public var quant: String = QuantAlgo.ggufNative.rawValue

    @Option(name: .long, help: "int4 group size for --quant w4a16: 32, 64 or 128 (default 64).")
    public var groupSize: Int?

    @Flag(name: .long, help: "Activation-aware scaling (AWQ) for --quant w4a16, calibrated on a few built-in prompts.")
    public var awq = false

    @Option(name: .long, help: "Activations in the matrix products: float32 (exact) or int8 (W4A8 as llama.cpp computes it: faster, logits move; --quant gguf_native only).")
    public var activation: String = ActivationPrecision.float32.rawValue

    @Option(name: .long, help: "KV cache storage: float32 or int8 (one scale per 32 values).")
    public var kvCacheDtype: String = KVCacheDType.float32.rawValue

    @Option(name: .long, help: "Plugins: all, none, or a comma-separated list of the ones to use (\(PluginRegistry.shared.names.joined(separator: ", "))).")
    public var plugins: String = "all"

    @Flag(name: .customLong("fuse-qkv"), inversion: .prefixedNo,
          help: "Fuse each attention's Q, K and V projections into one linear (same results; needs GPTAttentionPlugin).")
    public var fuseQKV = true

    public init() {}

    public func validate() throws {
        guard let algo = QuantAlgo(rawValue: quant) else {
            throw ValidationError("--quant \(quant) is not one of \(QuantAlgo.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if groupSize != nil && algo != .w4a16 {
            throw ValidationError("--group-size applies to --quant w4a16 only; drop it or use --quant w4a16")
        }
        if awq && algo != .w4a16 {
            throw ValidationError("--awq applies to --quant w4a16 only; drop it or use --quant w4a16")
        }
        if let g = groupSize, ![32, 64, 128].contains(g) {
            throw ValidationError("--group-size \(g) is not supported; use 32, 64 or 128")
        }
        guard let activations = ActivationPrecision(rawValue: activation) else {
            throw ValidationError("--activation \(activation) is not one of \(ActivationPrecision.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if activations == .int8 && algo != .ggufNative {
            throw ValidationError("--activation int8 multiplies GGUF Q4_0/Q4_1/Q8_0 blocks; use it with --quant gguf_native")
        }
        guard KVCacheDType(rawValue: kvCacheDtype) != nil else {
            throw ValidationError("--kv-cache-dtype \(kvCacheDtype) is not one of \(KVCacheDType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        _ = try pluginSettings()
    }

    /// The quantization settings (calibration prompts are filled in by ``ModelSource/preparing(_:)``).
    public var quantConfig: QuantConfig {
        QuantConfig(algo: QuantAlgo(rawValue: quant) ?? .ggufNative, groupSize: groupSize ?? 64, activationAware: awq,
                    activations: ActivationPrecision(rawValue: activation) ?? .float32)
    }

    public var kvCacheDType: KVCacheDType { KVCacheDType(rawValue: kvCacheDtype) ?? .float32 }

    /// `--plugins` as BuildConfig's per-name switches and default.
    public func pluginSettings() throws -> (plugins: [String: Bool], pluginDefault: Bool) {
        switch plugins {
        case "all": return ([:], true)
        case "none": return ([:], false)
        default:
            let names = plugins.split(separator: ",").map { String($0.filter { $0 != " " }) }
            let known = PluginRegistry.shared.names
            if let unknown = names.first(where: { !known.contains($0) }) {
                throw ValidationError("--plugins names '\(unknown)'; known plugins: \(known.joined(separator: ", ")) (or all, none)")
            }
            return (Dictionary(uniqueKeysWithValues: names.map { ($0, true) }), false)
        }
    }

    /// A BuildConfig with these options and the given limits.
    public func buildConfig(maxBatchSize: Int = 64, maxSeqLen: Int? = nil, maxNumTokens: Int = 2048,
                            maxInputLen: Int? = nil) throws -> BuildConfig {
        let (plugins, pluginDefault) = try pluginSettings()
        return BuildConfig(maxBatchSize: maxBatchSize, maxSeqLen: maxSeqLen, maxNumTokens: maxNumTokens, maxInputLen: maxInputLen,
                           plugins: plugins, pluginDefault: pluginDefault, quantization: quantConfig, kvCacheDType: kvCacheDType,
                           fuseQKV: fuseQKV)
    }
}

/// `--activation float32|int8` for the benchmarks that take the precision directly.
extension ActivationPrecision: ExpressibleByArgument {}

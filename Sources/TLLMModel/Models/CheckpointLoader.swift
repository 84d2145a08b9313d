// From a checkpoint file to a model: read the config from metadata, map the weights without copying.
import TLLMBackend

/// Loads models from GGUF checkpoints.
public enum CheckpointLoader {
    /// Opens a GGUF file and builds the model its `general.architecture` names.
    /// - Throws: ``ModelError`` (`.checkpoint` wraps a ``GGUFError``).
    public static func load(path: String) throws(ModelError) -> any CausalLM {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: path) } catch { throw ModelError(.checkpoint, "\(path): \(error)") }
        return try load(gguf)
    }

    /// Builds the model an already-parsed GGUF file describes.
    public static func load(_ gguf: GGUFFile) throws(ModelError) -> any CausalLM {
        let config = try modelConfig(gguf)
        let weights = tensors(gguf)
        switch config.architecture {
        case .llama: return try LlamaForCausalLM(config: config, weights: weights)
        case .gpt: return try GPTForCausalLM(config: config, weights: weights)
        }
    }

    /// Reads the hyper-parameters from `{arch}.*` metadata keys.
    public static func modelConfig(_ gguf: GGUFFile) throws(ModelError) -> ModelConfig {
        let arch: String
        do { arch = try gguf.string("general.architecture") } catch { throw ModelError(.checkpoint, "\(error)") }
        func int(_ key: String, default value: Int? = nil) throws(ModelError) -> Int {
            if let v = gguf.metadata["\(arch).\(key)"]?.intValue { return v }
            if let value { return value }
            throw ModelError(.invalidConfig, "GGUF metadata key '\(arch).\(key)' is missing or not an integer")
        }
        func float(_ key: String, default value: Double) -> Double {
            gguf.metadata["\(arch).\(key)"]?.floatValue ?? value
        }
        let family: ModelConfig.Architecture
        switch arch {
        case "llama", "mistral", "qwen2": family = .llama
        case "gpt2": family = .gpt
        default:
            throw ModelError(.unsupportedArchitecture,
                             "general.architecture '\(arch)' is not supported; supported: llama, mistral, qwen2, gpt2")
        }
        let embd = gguf.tensorInfo(named: "token_embd.weight")
        let vocab = gguf.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count ?? embd?.shape.last ?? 0
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let headDim = try int("attention.key_length", default: heads > 0 ? hidden / heads : 0)
        let eps = family == .llama ? float("attention.layer_norm_rms_epsilon", default: 1e-5)
                                   : float("attention.layer_norm_epsilon", default: 1e-5)
        return try ModelConfig(
            architecture: family, vocabSize: vocab, hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"), numHiddenLayers: try int("block_count"),
            numAttentionHeads: heads, numKeyValueHeads: try int("attention.head_count_kv", default: heads),
            headDim: headDim, maxPositionEmbeddings: try int("context_length"),
            normEpsilon: Float(eps), ropeTheta: float("rope.freq_base", default: 10_000),
            ropeDim: try int("rope.dimension_count", default: headDim), ropeNeox: arch == "qwen2",
            tieWordEmbeddings: gguf.tensorInfo(named: "output.weight") == nil)
    }

    /// Every tensor of the file as a ``Tensor`` over the mapping (no copy). Shapes are reversed
    /// from GGUF's innermost-first order; 1-D f16/bf16 tensors (norms, biases) become f32 copies.
    public static func tensors(_ gguf: GGUFFile) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        guard let base = gguf.storage.base else { return out }
        let storage = TensorStorage(borrowing: base, byteCount: gguf.storage.count, owner: gguf.storage)
        for info in gguf.tensors {
            let tensor = Tensor(shape: info.shape.reversed(), dtype: info.dtype, storage: storage, byteOffset: info.offset)
            if info.shape.count == 1 && (info.dtype == .f16 || info.dtype == .bf16) {
                out[info.name] = Tensor(shape: tensor.shape, floats: tensor.floats())
            } else {
                out[info.name] = tensor
            }
        }
        return out
    }
}

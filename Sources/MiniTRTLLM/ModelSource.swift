// Where a model comes from: a GGUF checkpoint or an engine file. The LLM API opens either through
// here; an engine file carries its checkpoint's tokenizer so it runs on its own.
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMModel

/// A model to run and its tokenizer, opened from a GGUF checkpoint or a built engine file.
public struct ModelSource: Sendable {
    /// What the path held.
    public enum Kind: String, Sendable { case checkpoint, engine }

    public let kind: Kind
    /// The model: a module tree for a checkpoint, a ``PrebuiltEngine`` for an engine file
    /// (``Builder/build(_:_:plugins:progress:)`` returns that engine unchanged).
    public let model: any CausalLM
    public let tokenizer: Tokenizer
    /// The parsed checkpoint (nil for an engine file).
    public let checkpoint: GGUFFile?

    /// Name of the attachment holding the tokenizer in an engine file: a GGUF file with only the
    /// checkpoint's `tokenizer.*` metadata (and `general.architecture`), read by ``Tokenizer/init(gguf:)``.
    public static let tokenizerAttachment = "tokenizer.gguf"

    /// Opens `path`: an engine file if it starts with the engine magic, else a GGUF checkpoint.
    /// - Throws: ``LLMError`` naming the failing layer: `.engineFile` for a corrupt engine,
    ///   `.model` for a bad checkpoint, `.tokenizer` for missing or malformed tokenizer metadata.
    public static func open(_ path: String) throws(LLMError) -> ModelSource {
        if EngineFileFormat.isEngineFile(path: path) {
            let engine: Engine
            do { engine = try Engine.deserialize(from: path) } catch { throw .engineFile(error) }
            return try ModelSource(engine: engine)
        }
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: path) } catch { throw .model(ModelError(.checkpoint, "\(path): \(error)")) }
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(gguf: gguf) } catch { throw .tokenizer(error) }
        let model: any CausalLM
        do { model = try CheckpointLoader.load(gguf) } catch { throw .model(error) }
        return ModelSource(kind: .checkpoint, model: model, tokenizer: tokenizer, checkpoint: gguf)
    }

    /// A built engine with the tokenizer it carries.
    /// - Throws: ``LLMError/tokenizer(_:)`` if the engine has no tokenizer attachment.
    public init(engine: Engine) throws(LLMError) {
        guard let blob = engine.attachments[Self.tokenizerAttachment] else {
            throw .tokenizer(TokenizerError(.missingKey, "the engine file carries no tokenizer; build it with trtllm-build from a GGUF checkpoint that has one"))
        }
        let gguf: GGUFFile
        do { gguf = try GGUFFile(storage: MappedFile(copying: blob)) } catch {
            throw .tokenizer(TokenizerError(.missingKey, "the engine's tokenizer attachment is unreadable: \(error)"))
        }
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(gguf: gguf) } catch { throw .tokenizer(error) }
        self.init(kind: .engine, model: PrebuiltEngine(engine), tokenizer: tokenizer, checkpoint: nil)
    }

    private init(kind: Kind, model: any CausalLM, tokenizer: Tokenizer, checkpoint: GGUFFile?) {
        self.kind = kind
        self.model = model
        self.tokenizer = tokenizer
        self.checkpoint = checkpoint
    }

    /// The engine, for an engine file.
    public var engine: Engine? { (model as? PrebuiltEngine)?.engine }

    /// `buildConfig` with AWQ calibration prompts filled in from ``CalibrationPrompts`` when
    /// activation-aware scaling is on and none were given (the Builder works on token ids only).
    public func preparing(_ buildConfig: BuildConfig) -> BuildConfig {
        var config = buildConfig
        if config.quantization.activationAware && config.quantization.calibration.allSatisfy(\.isEmpty) {
            config.quantization.calibration = CalibrationPrompts.default.map { tokenizer.encode($0, parseSpecial: false) }
        }
        return config
    }

    /// `engine` with this checkpoint's tokenizer metadata attached, so its file runs without the checkpoint.
    public func attachingTokenizer(to engine: Engine) -> Engine {
        guard let checkpoint else { return engine }
        var writer = GGUFWriter()
        for key in checkpoint.metadataKeys where key.hasPrefix("tokenizer.") || key == "general.architecture" {
            writer.add(key, checkpoint.metadata[key]!)
        }
        var out = engine
        out.attachments[Self.tokenizerAttachment] = writer.serialize()
        return out
    }
}

/// The built-in calibration prompts for activation-aware quantization: short, varied English
/// (prose, instructions, code, lists), as AWQ needs only a few hundred tokens.
public enum CalibrationPrompts {
    public static let `default` = [
        "The history of the printing press begins in the fifteenth century, when movable type made books cheaper and spread literacy across Europe.",
        "Explain step by step how to convert a temperature from degrees Celsius to degrees Fahrenheit, and give two examples.",
        "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "Shopping list: apples, whole wheat bread, two litres of milk, eggs, coffee beans, and something for dinner on Friday.",
        "The committee met on Tuesday to review the budget, and after a long discussion it agreed to fund the new library.",
        "Photosynthesis converts light energy into chemical energy stored in glucose, releasing oxygen as a by-product.",
    ]
}

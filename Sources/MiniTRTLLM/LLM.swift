// The LLM API: load a checkpoint, build an engine, generate text. Everything a user needs starts here.
import Synchronization
import TLLMBackend
import TLLMBuilder
import TLLMEngine
import TLLMExecutor
import TLLMModel
import TLLMRuntime

/// One prompt's result.
public struct RequestOutput: Sendable {
    public var prompt: String
    public var promptTokenIDs: [Int32]
    public var text: String
    public var tokenIDs: [Int32]
    public var finishReason: FinishReason
}

/// A loaded model ready to generate (TensorRT-LLM's `LLM`).
///
/// Thread-safe: calls are serialised on one lock that owns the executor, the runtime and the engine.
public final class LLM: @unchecked Sendable {
    public let tokenizer: Tokenizer
    public let engine: Engine
    private let lock = Mutex(())
    private let executor: Executor
    private let runtime: Runtime

    /// Loads a GGUF checkpoint, builds its engine and sizes the KV cache.
    /// - Parameters:
    ///   - model: Path to a `.gguf` file.
    ///   - buildConfig: Engine limits, plugins and quantization.
    ///   - kvCacheConfig: KV cache size in tokens and block size.
    /// - Throws: ``LLMError`` naming the failing layer and what to fix.
    public convenience init(model path: String, buildConfig: BuildConfig = BuildConfig(),
                            kvCacheConfig: KvCacheConfig = KvCacheConfig()) throws(LLMError) {
        let gguf: GGUFFile
        do { gguf = try GGUFFile(path: path) } catch { throw .model(ModelError(.checkpoint, "\(path): \(error)")) }
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(gguf: gguf) } catch { throw .tokenizer(error) }
        let model: any CausalLM
        do { model = try CheckpointLoader.load(gguf) } catch { throw .model(error) }
        try self.init(model: model, tokenizer: tokenizer, buildConfig: buildConfig, kvCacheConfig: kvCacheConfig)
    }

    /// Builds an engine for an in-memory model with its tokenizer.
    public init(model: any CausalLM, tokenizer: Tokenizer, buildConfig: BuildConfig = BuildConfig(),
                kvCacheConfig: KvCacheConfig = KvCacheConfig()) throws(LLMError) {
        self.tokenizer = tokenizer
        do {
            engine = try Builder.build(model, buildConfig)
            let modelEngine = try ModelEngine(engine)
            executor = try Executor(engine: modelEngine, kvCacheConfig: kvCacheConfig)
            runtime = try Runtime(engine: modelEngine, kvCacheConfig: kvCacheConfig)
        } catch let error as EngineError {
            throw .engine(error)
        } catch let error as RuntimeError {
            throw .runtime(error)
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    /// Generates a completion for each prompt, all in one in-flight batch.
    /// - Parameters:
    ///   - prompts: Texts; control tokens written in them (e.g. `<|im_start|>`) are parsed.
    ///   - params: Sampling settings; `endID` defaults to the tokenizer's EOS.
    /// - Returns: One output per prompt, in order.
    /// - Throws: ``LLMError`` for an empty prompt, invalid parameters or a prompt that does not fit.
    public func generate(_ prompts: [String], _ params: SamplingParams = SamplingParams()) throws(LLMError) -> [RequestOutput] {
        let ids = prompts.map { tokenizer.encode($0) }
        let results = try generate(promptIDs: ids, params)
        return zip(prompts, zip(ids, results)).map { prompt, pair in
            RequestOutput(prompt: prompt, promptTokenIDs: pair.0, text: tokenizer.decode(pair.1.outputIDs, skipSpecialTokens: true),
                          tokenIDs: pair.1.outputIDs, finishReason: pair.1.finishReason)
        }
    }

    /// Generates from token ids; one result per prompt, in order.
    public func generate(promptIDs: [[Int32]], _ params: SamplingParams = SamplingParams()) throws(LLMError) -> [GenerationResult] {
        var params = params
        if params.endID == nil { params.endID = tokenizer.eosID }
        return try lock.withLock { _ throws(LLMError) in
            var order: [RequestID] = []
            do {
                for (i, ids) in promptIDs.enumerated() {
                    guard !ids.isEmpty else { throw LLMError.invalidArgument("prompt \(i) is empty") }
                    order.append(try executor.enqueue(Request(promptIDs: ids, params: params)))
                }
            } catch let error as LLMError {
                order.forEach(executor.cancel)
                throw error
            } catch {
                order.forEach(executor.cancel)
                throw .runtime(error as! RuntimeError)
            }
            var outputs: [RequestID: [Int32]] = [:]
            var finished: [RequestID: FinishReason] = [:]
            while executor.hasWork {
                let responses: [Response]
                do throws(RuntimeError) { responses = try executor.step() } catch {
                    order.forEach(executor.cancel)
                    throw .runtime(error)
                }
                for r in responses {
                    outputs[r.requestID, default: []] += r.newTokens
                    if let reason = r.finishReason { finished[r.requestID] = reason }
                }
            }
            return order.map { GenerationResult(outputIDs: outputs[$0] ?? [], finishReason: finished[$0] ?? .cancelled) }
        }
    }

    /// Teacher-forced logits: one row per position of `ids`, row j predicting `ids[j + 1]`.
    /// - Throws: ``LLMError`` if the ids are empty, out of vocabulary or longer than max_seq_len.
    public func logits(ids: [Int32]) throws(LLMError) -> Logits {
        try lock.withLock { _ throws(LLMError) in
            do throws(RuntimeError) { return try runtime.logits(ids: ids) } catch { throw .runtime(error) }
        }
    }
}

// trtllm-serve: load a GGUF model, build its engine, serve the OpenAI API over HTTP until SIGINT/SIGTERM.
import ArgumentParser
import Logging
import MiniTRTLLM
import TLLMCLI
import TLLMServer
#if canImport(Glibc)
import Glibc
#endif

@main
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-serve",
        abstract: "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health, /metrics).",
        discussion: """
        Example:
          trtllm-serve ~/.cache/minitrtllm/SmolLM2-135M-Instruct.Q4_1.gguf --port 8000
          curl http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \\
               -d '{"model": "SmolLM2-135M-Instruct.Q4_1", "prompt": "The capital of France is", "max_tokens": 16}'
        SIGINT or SIGTERM stops accepting connections, lets in-flight requests finish for
        --shutdown-grace-period seconds, cancels the rest, and exits.
        """)

    @Argument(help: "Path to a GGUF checkpoint (default: the fetched SmolLM2-135M-Instruct, see Scripts/fetch-model.sh).")
    var model: String = DefaultModel.path

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one (printed on stdout).") var port = 8000
    @Option(help: "Most sequences in one forward batch.") var maxBatchSize = 64
    @Option(help: "Most tokens (all sequences) in one forward batch.") var maxNumTokens = 2048
    @Option(help: "Longest sequence (prompt + output); default: the model's context length.") var maxSeqLen: Int?
    @Option(help: "Tokens the KV cache holds across all requests.") var kvCacheMaxTokens = 16384
    @Option(help: "Prompts that may wait beyond --max-batch-size running; more requests get 429.") var maxQueue = 256
    @Option(help: "Model name clients send in `model` (default: the file name without .gguf).") var servedModelName: String?
    @Option(help: "max_tokens for chat requests that do not set it.") var defaultMaxTokens = 512
    @Option(help: "Seconds in-flight requests may run on after SIGINT/SIGTERM before they are cancelled.") var shutdownGracePeriod = 10.0
    @Option(help: "Kernel threads (default: all online CPUs, or $TLLM_NUM_THREADS).") var threads: Int?
    @Option(help: "Activations in the matrix products: float32 (exact), or int8 (W4A8 as llama.cpp computes it: faster, logits move by up to ~1; see Docs/Quantization.md).")
    var activation: ActivationPrecision = .float32
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be ≥ 0") }
        guard defaultMaxTokens >= 1 else { throw ValidationError("--default-max-tokens must be ≥ 1") }
        guard shutdownGracePeriod >= 0 else { throw ValidationError("--shutdown-grace-period must be ≥ 0") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        if let threads { setenv("TLLM_NUM_THREADS", String(threads), 1) }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "trtllm-serve")
        let gguf = try GGUFFile(path: model)
        let template = gguf.metadata["tokenizer.chat_template"]?.stringValue
        let kvConfig = KvCacheConfig(maxTokens: kvCacheMaxTokens)
        let llm = try LLM(model: model, buildConfig: BuildConfig(maxBatchSize: maxBatchSize, maxSeqLen: maxSeqLen, maxNumTokens: maxNumTokens,
                                                                 quantization: QuantConfig(activations: activation)),
                          kvCacheConfig: kvConfig)
        let usage = llm.kvCacheUsage()
        let name = servedModelName ?? Self.defaultName(model)
        let served = ServedModel(name: name, llm: llm, chatTemplateSource: template,
                                 cacheTokens: (usage.used + usage.free) * kvConfig.tokensPerBlock)
        logger.info("model \(name): \(model)")
        logger.info("engine: max_batch_size \(maxBatchSize), max_num_tokens \(maxNumTokens), max_seq_len \(llm.engine.maxSeqLen), \(activation.rawValue) activations; KV cache \(usage.used + usage.free) blocks × \(kvConfig.tokensPerBlock) tokens")
        if let error = served.templateError { logger.warning("chat disabled: \(error)") }
        let server = OpenAIServer(model: served, configuration: ServerConfiguration(
            host: host, port: port, maxQueue: maxQueue, defaultMaxTokens: defaultMaxTokens,
            shutdownGracePeriod: .milliseconds(Int(shutdownGracePeriod * 1000))), logger: logger)
        try await server.run { host, port in
            // One write(2), so a parent reading the pipe sees the line at once.
            let line = Array("trtllm-serve listening on http://\(host):\(port)\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        }
    }

    static func defaultName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }
}

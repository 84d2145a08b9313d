// Option groups shared by every command-line tool, so flags mean the same thing everywhere.
import ArgumentParser
import MiniTRTLLM
#if canImport(Glibc)
import Glibc
#endif

/// `--model` and `--threads`.
public struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Path to a GGUF checkpoint (default: the fetched SmolLM2-135M-Instruct, see Scripts/fetch-model.sh).")
    public var model: String = DefaultModel.path

    @Option(name: .long, help: "Kernel threads (default: all online CPUs, or $TLLM_NUM_THREADS).")
    public var threads: Int?

    public init() {}

    /// Applies `--threads` before the first kernel starts the pool.
    public func applyThreads() {
        if let threads { setenv("TLLM_NUM_THREADS", String(threads), 1) }
    }
}

/// Sampling flags.
public struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Tokens to generate.") public var maxTokens: Int = 64
    @Option(name: .long, help: "Softmax temperature; 0 is greedy.") public var temperature: Float = 0
    @Option(name: .long, help: "Top-k filter; 0 disables it.") public var topK: Int = 0
    @Option(name: .long, help: "Top-p (nucleus) filter; 1 disables it.") public var topP: Float = 1
    @Option(name: .long, help: "Random seed for sampling.") public var seed: UInt64?

    public init() {}

    public var params: SamplingParams {
        SamplingParams(maxTokens: maxTokens, temperature: temperature, topK: topK, topP: topP, seed: seed)
    }
}

/// Reads a whole file as UTF-8 text, or fails with a message naming the path.
public func readTextFile(_ path: String) throws -> String {
    guard let handle = fopen(path, "rb") else { throw ValidationError("cannot open \(path)") }
    defer { fclose(handle) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, handle)
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

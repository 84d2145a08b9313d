// trtllm-build: checkpoint → engine file (quantize, calibrate, fuse plugins, serialize), and verify.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI
#if canImport(Glibc)
import Glibc
#endif

@main
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-build",
        abstract: "Build a one-file engine from a GGUF checkpoint, or verify an engine file.",
        discussion: """
        Examples:
          trtllm-build --checkpoint model.gguf --output model.engine
          trtllm-build --checkpoint model.gguf --output model-w4.engine --quant w4a16 --group-size 64 --awq
          trtllm-build verify model.engine
        The engine carries the checkpoint's tokenizer: LLM(model: "model.engine") and
        `trtllm-eval ... --model model.engine` run without the GGUF.
        """,
        subcommands: [Build.self, Verify.self],
        defaultSubcommand: Build.self)
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build an engine file from a checkpoint.")

    @Option(name: .long, help: "The GGUF checkpoint to build from.") var checkpoint: String
    @Option(name: .long, help: "Where to write the engine file.") var output: String
    @OptionGroup var engine: EngineOptions
    @Option(name: .long, help: "Most sequences in one forward batch.") var maxBatchSize: Int = 64
    @Option(name: .long, help: "Longest sequence, prompt plus output (default: the model's context length).") var maxSeqLen: Int?
    @Option(name: .long, help: "Most tokens of all sequences in one forward batch.") var maxNumTokens: Int = 2048
    @Option(name: .long, help: "Longest prompt (default: max-seq-len - 1).") var maxInputLen: Int?
    @Option(name: .long, help: "Kernel threads (default: all online CPUs).") var threads: Int?
    @Flag(name: .long, help: "Print the whole build log (every plugin replacement) to stderr.") var verbose = false
    @Flag(name: .long, help: "No progress bar.") var quiet = false

    func validate() throws {
        if checkpoint == output { throw ValidationError("--output must differ from --checkpoint") }
        if let m = maxSeqLen, let i = maxInputLen, i >= m {
            throw ValidationError("--max-input-len \(i) must be smaller than --max-seq-len \(m)")
        }
        if maxNumTokens < 1 || maxBatchSize < 1 { throw ValidationError("--max-num-tokens and --max-batch-size must be at least 1") }
    }

    func run() throws {
        if let threads { setenv("TLLM_NUM_THREADS", String(threads), 1) }
        let clock = ContinuousClock()
        let start = clock.now
        if EngineFileFormat.isEngineFile(path: checkpoint) {
            throw BuildFailure(description: "--checkpoint \(checkpoint) is already an engine file; give the GGUF it was built from")
        }
        let source = try ModelSource.open(checkpoint)
        let config = source.preparing(try engine.buildConfig(maxBatchSize: maxBatchSize, maxSeqLen: maxSeqLen,
                                                             maxNumTokens: maxNumTokens, maxInputLen: maxInputLen))
        let bar = ProgressBar(enabled: !quiet)
        let built: Engine
        do { built = try Builder.build(source.model, config, progress: bar.update) } catch {
            throw BuildFailure(description: "\(error)")
        }
        let afterBuild = clock.now
        let final = source.attachingTokenizer(to: built)
        try final.serialize(to: output)
        let end = clock.now
        if verbose { for line in final.buildLog { printError(line) } }
        let before = source.model.weights.values.reduce(0) { $0 + $1.byteCount }
        let fileBytes = (try? MappedFile(path: output).count) ?? 0
        let c = final.config, b = final.buildConfig, q = b.quantization
        var quant = q.algo.rawValue
        if q.algo == .w4a16 { quant += " (group \(q.groupSize)\(q.activationAware ? ", AWQ on \(q.calibration.count) prompts" : ""))" }
        print("Built engine: \(output)")
        print("  model          \(c.architecture.rawValue), \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize) (from \(checkpoint))")
        print("  quantization   \(quant); weights \(mib(before)) → \(mib(final.weightBytes))")
        print("  activations    \(q.activations.rawValue)\(q.activations == .int8 ? " (W4A8: int8 per 32 values into the Q4/Q8 linears)" : "")")
        print("  kv cache       \(b.kvCacheDType.rawValue)")
        print("  plugins        \(final.pluginNames.isEmpty ? "none" : final.pluginNames.joined(separator: ", "))")
        let fused = final.buildLog.filter { $0.hasPrefix("Fused QKV") || $0.hasPrefix("QKV not fused") }
        print("  fusion         \(!b.fuseQKV ? "off (--no-fuse-qkv)" : fused.isEmpty ? "no attention plugin to fuse Q, K and V for" : fused.joined(separator: "; "))")
        print("  limits         max_batch_size \(b.maxBatchSize), max_seq_len \(final.maxSeqLen), max_num_tokens \(b.maxNumTokens)")
        print("  file           \(mib(fileBytes)), \(final.weights.count) tensors with CRC-32C, tokenizer \(final.attachments.isEmpty ? "not included" : "included")")
        print("  time           \(seconds(end - start)) (build \(seconds(afterBuild - start)), write \(seconds(end - afterBuild)))")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check an engine file: header, index, every tensor's CRC-32C and the graph.")
    @Argument(help: "The engine file.") var file: String

    func run() throws {
        let start = ContinuousClock.now
        let engine: Engine
        do { engine = try Engine.deserialize(from: file, verifyChecksums: true, placement: .fileMapping) } catch {
            printError("FAILED \(file): \(error)")
            throw ExitCode.failure
        }
        do { _ = try ModelEngine(engine) } catch {
            printError("FAILED \(file): \(error)")
            throw ExitCode.failure
        }
        let q = engine.buildConfig.quantization
        print("OK \(file): format v\(EngineFileFormat.version), \(engine.weights.count) tensors (\(mib(engine.weightBytes))), every CRC-32C matches, graph of \(engine.graph.ops.count) ops checks")
        print("  quantization \(q.algo.rawValue), activations \(q.activations.rawValue), kv cache \(engine.buildConfig.kvCacheDType.rawValue), plugins \(engine.pluginNames.joined(separator: ", ")), tokenizer \(engine.attachments[ModelSource.tokenizerAttachment] == nil ? "absent" : "present")")
        print("  verified in \(seconds(ContinuousClock.now - start))")
    }
}

func mib(_ bytes: Int) -> String {
    let m = Double(bytes) / 1_048_576
    return "\(Double(Int(m * 10)) / 10) MiB"
}

func seconds(_ d: Duration) -> String {
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return s < 1 ? "\(Int(s * 1000)) ms" : "\(Double(Int(s * 10)) / 10) s"
}

/// A build that failed after the arguments were accepted (printed without the usage text).
struct BuildFailure: Error, CustomStringConvertible {
    let description: String
}

// trtllm-demo, Demo 1: build an engine for the default model, show what the Builder did, run one request.
import ArgumentParser
import MiniTRTLLM
import TLLMCLI

@main
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trtllm-demo",
        abstract: "Build an engine, print the build log, generate a continuation.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "The prompt.") var prompt = "The capital of France is"
    @Flag(name: .long, help: "Run the small random-weight GPT instead of a checkpoint (no download needed).")
    var offline = false
    @Option(name: .long, help: "Which demo: 1 = one request through every layer, 2 = the in-flight batching trace.")
    var demo = 1

    func validate() throws {
        guard demo == 1 || demo == 2 else { throw ValidationError("--demo must be 1 or 2") }
    }

    func run() throws {
        model.applyThreads()
        if demo == 2 {
            print("== MiniTRTLLM Demo 2: in-flight batching over a paged KV cache")
            try InflightBatchingDemo(modelPath: model.model, maxTokens: min(sampling.maxTokens, 40)).run()
            return
        }
        print("== MiniTRTLLM Demo 1: one request through LLM API → Builder → Engine → Runtime → Executor")
        if offline { try runOffline(); return }
        let llm = try LLM(model: model.model)
        printBuild(llm.engine)
        let start = ContinuousClock.now
        let output = try llm.generate([prompt], sampling.params)[0]
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        print("\n-- Prompt (\(output.promptTokenIDs.count) tokens):\n\(prompt)")
        print("\n-- Generated (\(output.tokenIDs.count) tokens, finish: \(output.finishReason.rawValue)):\n\(output.text)")
        print("\n-- \(String(format2(Double(output.tokenIDs.count) / seconds))) tokens/s end to end on \(CPUBackend().description)")
    }

    /// The seed's small GPT with random weights: shows the pipeline without any download.
    func runOffline() throws {
        let gpt = try GPTForCausalLM.random()
        let engine = try Builder.build(gpt, BuildConfig(maxNumTokens: 256))
        printBuild(engine)
        let runtime = try Runtime(engine: try ModelEngine(engine), kvCacheConfig: KvCacheConfig(maxTokens: 1024))
        let prompt: [Int32] = [1, 2, 3, 4]
        let result = try runtime.generate(promptIDs: prompt, params: sampling.params)
        print("\n-- Prompt ids: \(prompt)\n-- Generated ids (random weights, so not text): \(result.outputIDs)")
    }

    func printBuild(_ engine: Engine) {
        print("\n-- Builder log:")
        for line in engine.buildLog where !line.hasPrefix("Plugin replaced") { print("  " + line) }
        let replaced = engine.buildLog.filter { $0.hasPrefix("Plugin replaced") }
        for line in replaced.prefix(3) { print("  " + line) }
        if replaced.count > 3 { print("  … and \(replaced.count - 3) more plugin replacements") }
    }

    func format2(_ x: Double) -> String {
        let scaled = (x * 100).rounded() / 100
        return "\(scaled)"
    }
}

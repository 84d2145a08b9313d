// trtllm-custom-plugin: register your own plugin so the Builder puts it in place of a built-in op,
// then generate with it. Usage: trtllm-custom-plugin [--model PATH] [--prompt TEXT]
import CustomPluginExample
import MiniTRTLLM
import TLLMPlugin
#if canImport(Glibc)
import Glibc
#endif

var model = DefaultModel.path
var prompt = "The capital of France is"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--model": model = arguments.next() ?? model
    case "--prompt": prompt = arguments.next() ?? prompt
    default: print("usage: trtllm-custom-plugin [--model PATH] [--prompt TEXT]"); exit(2)
    }
}

// 1. Register the plugin, ahead of the built-in RMSNormPlugin so it matches the rmsNorm ops first.
let counter = CallCounter()
PluginRegistry.shared.register(ScalarRMSNormPlugin(counter: counter), before: "RMSNormPlugin")

// 2. Build as usual: the Builder's plugin pass now replaces every rmsNorm with it.
do {
    let source = try ModelSource.open(model)
    let llm = try LLM(model: source.model, tokenizer: source.tokenizer)
    let replaced = llm.engine.buildLog.filter { $0.hasPrefix("Plugin replaced: ScalarRMSNormPlugin") }
    print("-- Builder: \(replaced.count) ops replaced by ScalarRMSNormPlugin, e.g.")
    for line in replaced.prefix(3) { print("  \(line)") }

    // 3. Generate: the engine configured each replaced op once at load; every step calls its forward.
    let output = try llm.generate([prompt], .greedy(maxTokens: 16))[0]
    print("-- \(prompt)\(output.text)")
    print("-- ScalarRMSNormPlugin's forward ran \(counter.count) times")
} catch {
    print("error: \(error)")
    exit(1)
}

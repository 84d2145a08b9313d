// The Builder: traces, plugins on and off, limits validated, activation memory planned.
import Testing
import TLLMBackend
import TLLMBuilder
@testable import TLLMEngine
import TLLMModel
import TLLMPlugin
import TLLMQuantization
import TLLMRuntime

@Suite("Builder")
struct BuilderTests {
    @Test("SwiGLU is replaced by its plugin in every layer and the log says where")
    func swigluPluginReplacesEveryLayer() throws {
        let engine = try Builder.build(try TestModels.llama())
        #expect(engine.pluginNames.contains("SwiGLUPlugin"))
        #expect(engine.buildLog.contains("Plugin replaced: SwiGLUPlugin at blk.0.ffn"))
        #expect(engine.buildLog.contains("Plugin replaced: SwiGLUPlugin at blk.1.ffn"))
        #expect(!engine.graph.ops.contains { $0.kind == .silu || $0.kind == .mul })
        #expect(engine.graph.validationError() == nil)
    }

    @Test("Logits are the same with the plugin on and off")
    func pluginsOnAndOffAgree() throws {
        let model = try TestModels.llama()
        let on = try ModelEngine(try Builder.build(model))
        let off = try ModelEngine(try Builder.build(model, BuildConfig(plugins: ["SwiGLUPlugin": false])))
        #expect(!off.engine.pluginNames.contains("SwiGLUPlugin"))
        #expect(off.engine.graph.ops.contains { $0.kind == .mul })
        let a = try forwardAll(on, [4, 8, 15, 16, 23, 42])
        let b = try forwardAll(off, [4, 8, 15, 16, 23, 42])
        let worst = zip(a.values, b.values).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5)
    }

    @Test("The float32 engine dequantizes weights and agrees with the f16-native engine")
    func quantNoneAgreesWithNative() throws {
        let model = try TestModels.llama(matrixType: .f16)
        let native = try ModelEngine(try Builder.build(model))
        let float = try ModelEngine(try Builder.build(model, BuildConfig(quantization: QuantConfig(algo: .none))))
        #expect(float.engine.weights.values.allSatisfy { $0.dtype == .f32 })
        #expect(float.engine.weightBytes > native.engine.weightBytes)
        let a = try forwardAll(native, [1, 2, 3, 4])
        let b = try forwardAll(float, [1, 2, 3, 4])
        #expect(zip(a.values, b.values).map { abs($0 - $1) }.max()! <= 1e-4)
    }

    @Test("Invalid limits are refused with the setting named")
    func invalidLimitsAreRefused() throws {
        let model = try TestModels.llama()
        for (config, needle) in [(BuildConfig(maxBatchSize: 0), "max_batch_size"), (BuildConfig(maxNumTokens: 0), "max_num_tokens"),
                                 (BuildConfig(maxSeqLen: 1), "max_seq_len"), (BuildConfig(maxSeqLen: 100, maxInputLen: 100), "max_input_len")] {
            #expect {
                _ = try Builder.build(model, config)
            } throws: { error in
                guard let e = error as? EngineError else { return false }
                return e.code == .invalidBuildConfig && e.message.contains(needle)
            }
        }
    }

    @Test("An engine that names an unregistered plugin fails to load with a clear error")
    func unknownPluginFailsToLoad() throws {
        let engine = try Builder.build(try TestModels.llama())
        #expect(throws: EngineError.self) { _ = try ModelEngine(engine, plugins: PluginRegistry(builtIns: false)) }
    }

    @Test("Activation planning never lets an op's output share a buffer with a live value")
    func activationPlanIsSafe() throws {
        let graph = try Builder.build(try TestModels.gpt()).graph
        let plan = ActivationPlan(graph)
        let lastUse = graph.lastUses()
        for (index, op) in graph.ops.enumerated() {
            let slot = plan.slotOfValue[op.output]
            #expect(plan.slotWidths[slot] >= graph.values[op.output].width)
            // Every value produced earlier and still needed at or after this op must live elsewhere.
            for earlier in graph.ops[..<index] where lastUse[earlier.output] >= index {
                #expect(plan.slotOfValue[earlier.output] != slot, "op \(index) overwrites live value \(earlier.output)")
            }
        }
        #expect(plan.slotWidths.count < graph.values.count / 4, "\(plan.slotWidths.count) slots for \(graph.values.count) values")
    }

    func forwardAll(_ engine: ModelEngine, _ tokens: [Int32]) throws -> Logits {
        let c = engine.engine.config
        var cache = try KVCacheManager(config: KvCacheConfig(maxTokens: 64, tokensPerBlock: 8), numLayers: c.numHiddenLayers, kvDim: c.kvDim)
        #expect(cache.reserve(0, tokens: tokens.count) == true)
        return try engine.forward(ForwardBatch(sequences: [.init(tokens: tokens, startPosition: 0, blockTable: cache.blockTable(0), logits: .all)]),
                                  cache: cache.cache)
    }
}

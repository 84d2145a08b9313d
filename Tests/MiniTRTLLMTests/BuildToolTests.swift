// trtllm-build drives the whole pipeline from the command line; tests run the built binary.
import Foundation
import MiniTRTLLM
import Testing

@Suite("trtllm-build on the default model", .enabled(if: TestModel.enabled, "default model not available"), .serialized)
struct BuildToolTests {
    @Test("trtllm-build writes an engine that verify accepts and trtllm-eval runs exactly like the checkpoint")
    func buildVerifyAndRun() throws {
        let model = try TestModel.path()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tllm-tool-\(getpid()).engine").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let build = try runTool("trtllm-build", ["--checkpoint", model, "--output", output, "--max-seq-len", "512"])
        #expect(build.status == 0, "\(build.stderr)")
        for field in ["Built engine:", "quantization   gguf_native", "plugins        GPTAttentionPlugin",
                      "fusion         Fused QKV: 30 attention projections into one linear each", "tokenizer included"] {
            #expect(build.stdout.contains(field), "summary lacks \(field): \(build.stdout)")
        }
        let verify = try runTool("trtllm-build", ["verify", output])
        #expect(verify.status == 0 && verify.stdout.hasPrefix("OK "), "\(verify.stderr)")

        let ids = FileManager.default.temporaryDirectory.appendingPathComponent("tllm-tool-ids-\(getpid()).json")
        try JSONEncoder().encode([Int32]([504, 3575, 282, 4649, 314])).write(to: ids)
        defer { try? FileManager.default.removeItem(at: ids) }
        let fromEngine = try runTool("trtllm-eval", ["logits", "--model", output, "--ids-file", ids.path])
        let fromGGUF = try runTool("trtllm-eval", ["logits", "--model", model, "--ids-file", ids.path])
        #expect(fromEngine.status == 0, "\(fromEngine.stderr)")
        #expect(fromEngine.stdout == fromGGUF.stdout)
        // Q, K and V as three linears give the same logits, printed digit for digit.
        let unfused = try runTool("trtllm-eval", ["logits", "--model", model, "--ids-file", ids.path, "--no-fuse-qkv"])
        #expect(unfused.status == 0, "\(unfused.stderr)")
        #expect(unfused.stdout == fromGGUF.stdout)

        // A flipped byte in the tensor data is found by verify and named by code.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        bytes[bytes.count - 4096] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: output))
        let damaged = try runTool("trtllm-build", ["verify", output])
        #expect(damaged.status != 0)
        #expect(damaged.stderr.contains("tensorChecksumMismatch"), "\(damaged.stderr)")
    }

    @Test("Invalid combinations are refused with a message that says what to change",
          arguments: [
            (["--quant", "w8a16", "--awq"], "--awq applies to --quant w4a16 only"),
            (["--quant", "w4a16", "--group-size", "48"], "use 32, 64 or 128"),
            (["--quant", "int3"], "is not one of none, w8a16, w4a16, fp8, gguf_native"),
            (["--kv-cache-dtype", "fp16"], "is not one of float32, int8"),
            (["--plugins", "FlashPlugin"], "known plugins: GPTAttentionPlugin"),
            (["--max-seq-len", "64", "--max-input-len", "64"], "must be smaller than --max-seq-len 64"),
            (["--quant", "w4a16", "--group-size", "128"], "use group size 32 or 64"),
            (["--max-batch-size", "0"], "at least 1"),
            (["--quant", "w8a16", "--activation", "int8"], "use it with --quant gguf_native"),
            (["--activation", "int4"], "is not one of float32, int8"),
          ])
    func invalidCombinationsAreRefused(arguments: [String], message: String) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tllm-bad-\(getpid()).engine").path
        let result = try runTool("trtllm-build", ["--checkpoint", try TestModel.path(), "--output", output] + arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

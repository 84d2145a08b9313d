// trtllm-eval is a stable interface: tests drive the built binary exactly as other tools do.
import Foundation
import MiniTRTLLM
import Testing

/// Runs a built product of this package and returns its standard output.
func runTool(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let directory = Bundle.main.bundleURL.deletingLastPathComponent()
    let candidates = [directory.appendingPathComponent(name), Bundle.main.bundleURL.appendingPathComponent(name)]
    guard let url = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw TestModel.Unavailable(description: "\(name) is not built next to the tests (\(directory.path)); run swift build first")
    }
    let process = Process()
    process.executableURL = url
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite("trtllm-eval on the default model", .enabled(if: TestModel.enabled, "default model not available"), .serialized)
struct EvalToolTests {
    @Test("tokenize prints the reference ids, with and without special-token parsing")
    func tokenizePrintsIDs() throws {
        let model = try TestModel.path()
        let text = "<|im_start|>user\nHi"
        let special = try runTool("trtllm-eval", ["tokenize", "--model", model, "--text", text])
        #expect(special.status == 0, "\(special.stderr)")
        let ids = try JSONDecoder().decode([Int32].self, from: Data(special.stdout.utf8))
        let llm = try TestModel.sharedLLM()
        #expect(ids == llm.tokenizer.encode(text))
        #expect(ids.first == 1)
        let plain = try runTool("trtllm-eval", ["tokenize", "--model", model, "--no-parse-special", "--text", text])
        let plainIDs = try JSONDecoder().decode([Int32].self, from: Data(plain.stdout.utf8))
        #expect(plainIDs == llm.tokenizer.encode(text, parseSpecial: false))
        #expect(!plainIDs.contains(1))
    }

    @Test("logits prints the reference top-k for every position")
    func logitsMatchReference() throws {
        struct Row: Decodable { let top_ids: [Int32]; let top_logits: [Float] }
        let reference = try TeacherForcedReference.load().prompts[1]
        let ids = reference.prompt_token_ids + reference.continuation_ids.prefix(4)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eval-ids-\(getpid()).json")
        try JSONEncoder().encode(ids).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runTool("trtllm-eval", ["logits", "--model", try TestModel.path(), "--ids-file", file.path, "--top-k", "5"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try JSONDecoder().decode([Row].self, from: Data(result.stdout.utf8))
        #expect(rows.count == ids.count)
        for j in 0..<4 {
            let row = rows[reference.prompt_token_ids.count - 1 + j], expected = reference.positions[j]
            #expect(row.top_ids.count == 5)
            if expected.margin > tieMargin { #expect(row.top_ids[0] == expected.top_ids[0]) }
            #expect(abs(row.top_logits[0] - expected.top_logits[0]) <= logitTolerance)
        }
    }

    @Test("perplexity scores every token but each window's first, and English text scores low")
    func perplexityOfEnglish() throws {
        let text = """
        The GNU General Public License is a free, copyleft license for software and other kinds of works. \
        The licenses for most software and other practical works are designed to take away your freedom to share \
        and change the works. By contrast, the GNU General Public License is intended to guarantee your freedom to \
        share and change all versions of a program, to make sure it remains free software for all its users.
        """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eval-text-\(getpid()).txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try runTool("trtllm-eval", ["perplexity", "--model", try TestModel.path(), "--text-file", file.path, "--ctx", "32"])
        #expect(result.status == 0, "\(result.stderr)")
        struct Output: Decodable { let perplexity: Double; let tokens: Int }
        let output = try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
        let count = try TestModel.sharedLLM().tokenizer.encode(text, parseSpecial: false).count
        let windows = (count + 31) / 32
        let lastWindow = count - (windows - 1) * 32
        #expect(output.tokens == count - windows + (lastWindow == 1 ? 1 : 0))
        #expect(output.perplexity > 1.5 && output.perplexity < 200, "perplexity \(output.perplexity)")
        // Shuffled words must score far worse than the same words in order.
        let shuffled = text.split(separator: " ").reversed().joined(separator: " ")
        try shuffled.write(to: file, atomically: true, encoding: .utf8)
        let worse = try runTool("trtllm-eval", ["perplexity", "--model", try TestModel.path(), "--text-file", file.path, "--ctx", "32"])
        let worseOutput = try JSONDecoder().decode(Output.self, from: Data(worse.stdout.utf8))
        #expect(worseOutput.perplexity > 2 * output.perplexity)
    }

    @Test("Bad arguments fail with a message, not a crash")
    func badArgumentsFailCleanly() throws {
        let missing = try runTool("trtllm-eval", ["tokenize", "--model", "/nonexistent.gguf", "--text", "x"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nonexistent.gguf"))
        let neither = try runTool("trtllm-eval", ["tokenize", "--model", try TestModel.path()])
        #expect(neither.status != 0)
        #expect(neither.stderr.contains("--text"))
    }
}

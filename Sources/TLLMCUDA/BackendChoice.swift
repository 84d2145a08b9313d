// Which backend runs the engine: `--backend auto|cpu|cuda`. CPU-only machines never need CUDA.
import TLLMBackend

/// The user's backend request.
public enum BackendKind: String, Sendable, CaseIterable, Codable {
    /// The GPU when a usable one is present, else the CPU (with one log line saying why).
    case auto
    case cpu
    /// The GPU or an error that says what is missing.
    case cuda
}

/// Resolves a ``BackendKind`` on this machine.
public enum BackendChoice {
    /// The backend to run, and one line for the log explaining the choice.
    ///
    /// The CUDA engine path (device-resident activations and KV cache) is not built yet, so a
    /// present GPU is detected and reported, and the CPU runs: `.cuda` therefore throws until it lands.
    /// - Throws: ``CUDAError`` for `.cuda` when no GPU backend can run.
    public static func resolve(_ kind: BackendKind) throws(CUDAError) -> (backend: any Backend, log: String) {
        switch kind {
        case .cpu:
            let cpu = CPUBackend()
            return (cpu, "Backend: \(cpu.description) (requested)")
        case .auto, .cuda:
            let reason: String
            do {
                let devices = try CUDADevice.probe()
                reason = "found \(devices.map(\.name).joined(separator: ", ")) but the CUDA engine path is not built yet"
            } catch {
                reason = error.message
            }
            if kind == .cuda { throw CUDAError(.noDevice, "--backend cuda cannot run: \(reason)") }
            let cpu = CPUBackend()
            return (cpu, "Backend: \(cpu.description) — CUDA not used: \(reason)")
        }
    }
}

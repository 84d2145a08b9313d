// Every CUDA kernel must compile: NVRTC (from NVIDIA's PyPI wheel) runs on any machine, GPU or not.
import Foundation
import Testing
import TLLMCUDA

enum NVRTCAvailability {
    static let compiler: Result<NVRTC, CUDAError> = Result { () throws(CUDAError) in try NVRTC() }
    /// Under CI=true these tests always run: a missing NVRTC is a failure, not a skip.
    static var enabled: Bool { ProcessInfo.processInfo.environment["CI"] == "true" || (try? compiler.get()) != nil }
}

@Suite("CUDA kernels compile through NVRTC", .enabled(if: NVRTCAvailability.enabled, "libnvrtc not found; run Scripts/fetch-nvrtc.sh and set TLLM_CUDA_LIB_DIRS"))
struct NVRTCCompileTests {
    @Test("Every kernel program compiles to PTX that defines each of its kernels", arguments: CUDAKernelSource.all.map(\.name))
    func everyProgramCompiles(name: String) throws {
        let nvrtc = try NVRTCAvailability.compiler.get()
        let source = CUDAKernelSource.all.first { $0.name == name }!
        for architecture in ["compute_80", "compute_90"] {
            let ptx = try nvrtc.compile(source.code, name: "\(name).cu", architecture: architecture)
            #expect(ptx.contains(".version") && ptx.contains(".target sm_\(architecture.dropFirst("compute_".count))"))
            for kernel in source.kernels { #expect(ptx.contains(".entry \(kernel)("), "\(name): PTX lacks \(kernel)") }
        }
    }

    @Test("A kernel with an error fails with NVRTC's log naming the line")
    func brokenKernelReportsItsLog() throws {
        let nvrtc = try NVRTCAvailability.compiler.get()
        #expect {
            _ = try nvrtc.compile("extern \"C\" __global__ void k(float *x) {\n  x[0] = undefined_name;\n}\n", name: "broken.cu")
        } throws: { error in
            guard let e = error as? CUDAError else { return false }
            return e.code == .compileFailed && e.message.contains("undefined_name") && e.message.contains("broken.cu")
        }
    }
}

@Suite("Backend choice")
struct BackendChoiceTests {
    @Test("auto falls back to the CPU with one line saying why; cpu is always available")
    func autoFallsBackToCPU() throws {
        let (backend, log) = try BackendChoice.resolve(.auto)
        #expect(backend.description.hasPrefix("cpu"))
        #expect(log.hasPrefix("Backend: cpu"))
        #expect(try BackendChoice.resolve(.cpu).log.contains("requested"))
    }

    @Test("cuda without a usable GPU is refused with the reason")
    func cudaWithoutGPUIsRefused() {
        if (try? CUDADevice.probe()) != nil { return }   // a GPU machine: covered by the GPU suite
        #expect(throws: CUDAError.self) { _ = try BackendChoice.resolve(.cuda) }
    }
}

// swift-tools-version: 6.1
// MiniTRTLLM: a Swift LLM inference engine that mirrors TensorRT-LLM's pipeline
// (LLM API → Builder → Engine → Runtime → Executor), with a CPU backend on OpenBLAS.
import PackageDescription

/// The hot C kernels are built optimised even in debug builds: SwiftPM would otherwise use -O0.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"])]

let package = Package(
    name: "MiniTRTLLM",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "MiniTRTLLM", targets: ["MiniTRTLLM"]),
        .executable(name: "trtllm-demo", targets: ["trtllm-demo"]),
        .executable(name: "trtllm-eval", targets: ["trtllm-eval"]),
        .executable(name: "trtllm-build", targets: ["trtllm-build"]),
        .executable(name: "bench-inflight", targets: ["bench-inflight"]),
        .executable(name: "trtllm-bench", targets: ["trtllm-bench"]),
        .executable(name: "bench-speed", targets: ["bench-speed"]),
        .executable(name: "bench-kernels", targets: ["bench-kernels"]),
        .executable(name: "trtllm-serve", targets: ["trtllm-serve"]),
        .library(name: "TLLMServer", targets: ["TLLMServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System OpenBLAS behind a modulemap.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        // Hot kernels in C, with run-time ISA dispatch (AVX2+FMA / AVX-512 / scalar).
        .target(name: "TLLMKernels", dependencies: ["CBLAS"], cSettings: kernelFlags, linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m")]),
        .target(name: "TLLMBackend", dependencies: ["TLLMKernels", "CBLAS"]),
        // Optional GPU backend: CUDA libraries are bound with dlopen at run time, never at build time.
        .target(name: "TLLMCUDA", dependencies: ["TLLMBackend"], linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "TLLMModel", dependencies: ["TLLMBackend"]),
        .target(name: "TLLMQuantization", dependencies: ["TLLMModel", "TLLMBackend"]),
        .target(name: "TLLMPlugin", dependencies: ["TLLMModel", "TLLMBackend"]),
        .target(name: "TLLMBuilder", dependencies: ["TLLMModel", "TLLMQuantization", "TLLMPlugin", "TLLMEngine"]),
        .target(name: "TLLMEngine", dependencies: ["TLLMModel", "TLLMPlugin", "TLLMQuantization", "TLLMBackend"]),
        .target(name: "TLLMRuntime", dependencies: ["TLLMEngine", "TLLMBackend"]),
        .target(name: "TLLMExecutor", dependencies: ["TLLMRuntime", "TLLMEngine"]),
        .target(name: "MiniTRTLLM", dependencies: ["TLLMExecutor", "TLLMRuntime", "TLLMBuilder", "TLLMEngine", "TLLMModel", "TLLMBackend"]),
        // Shared command-line option groups for every tool.
        .target(name: "TLLMCLI", dependencies: ["MiniTRTLLM", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "trtllm-eval", dependencies: ["TLLMCLI", "MiniTRTLLM", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "trtllm-build", dependencies: ["TLLMCLI", "MiniTRTLLM", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // A user's own plugin replacing a built-in op (library, for the test) and its runnable example.
        .target(name: "CustomPluginExample", dependencies: ["TLLMPlugin", "TLLMBackend", "TLLMModel"], path: "Examples/CustomPlugin/Plugin"),
        .executableTarget(name: "trtllm-custom-plugin", dependencies: ["CustomPluginExample", "MiniTRTLLM"], path: "Examples/CustomPlugin/Main"),
        // Micro-benchmarks (engine load time, decode speed, perplexity per quantization mode), apart from tests.
        .executableTarget(name: "trtllm-microbench", dependencies: ["MiniTRTLLM", "TLLMCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Benchmarks/Micro"),
        .executableTarget(name: "trtllm-demo", dependencies: ["TLLMCLI", "MiniTRTLLM", .product(name: "ArgumentParser", package: "swift-argument-parser")], path: "Examples/Demo"),
        // Benchmark library (datasets, statistics, reports, charts, HTTP client) and its tool.
        .target(name: "TLLMBench", dependencies: ["MiniTRTLLM", .product(name: "Histogram", package: "hdrhistogram-swift")]),
        .executableTarget(name: "trtllm-bench", dependencies: ["TLLMBench", "TLLMCLI", "MiniTRTLLM", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "bench-inflight", dependencies: ["MiniTRTLLM", "TLLMCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/InflightBatching"),
        .executableTarget(name: "bench-speed", dependencies: ["MiniTRTLLM", "TLLMCLI", "TLLMKernels", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/Speed"),
        // One micro-benchmark per hot kernel against the machine's measured ceilings (C, no Swift).
        .executableTarget(name: "bench-kernels", dependencies: ["TLLMKernels"], path: "Benchmarks/Kernels", cSettings: kernelFlags),
        // Heap allocations per decode step: an allocator interposer (benchmark executables only,
        // never a library) and the tool that counts over a window of decode steps.
        .target(name: "TLLMAllocCounter", path: "Benchmarks/AllocCounter"),
        .executableTarget(name: "bench-alloc", dependencies: ["MiniTRTLLM", "TLLMCLI", "TLLMAllocCounter",
                                                          .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Benchmarks/Alloc"),
        // Jinja-subset renderer for the chat templates stored in checkpoints; no dependencies.
        .target(name: "TLLMChatTemplate"),
        // The OpenAI-compatible HTTP server (Hummingbird stays out of the core targets).
        .target(name: "TLLMServer", dependencies: [
            "MiniTRTLLM", "TLLMChatTemplate",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "trtllm-serve", dependencies: [
            "TLLMServer", "TLLMCLI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "TLLMBackendTests", dependencies: ["TLLMBackend", "TLLMKernels"]),
        .testTarget(name: "TLLMModelTests", dependencies: ["TLLMModel", "TLLMBackend"]),
        .testTarget(name: "TLLMEngineTests", dependencies: ["TLLMAllocCounter", "TLLMKernels", "TLLMBuilder", "TLLMEngine", "TLLMRuntime", "TLLMExecutor", "TLLMModel", "TLLMBackend"]),
        .testTarget(name: "TLLMCUDATests", dependencies: ["TLLMCUDA"]),
        .testTarget(name: "TLLMBenchTests", dependencies: ["TLLMBench", "MiniTRTLLM"]),
        .testTarget(name: "MiniTRTLLMTests", dependencies: ["MiniTRTLLM", "TLLMModel", "TLLMBench"]),
        .testTarget(name: "CustomPluginTests", dependencies: ["CustomPluginExample", "TLLMBuilder", "TLLMEngine", "TLLMPlugin", "TLLMModel", "TLLMBackend"]),
        .testTarget(name: "TLLMChatTemplateTests", dependencies: ["TLLMChatTemplate"]),
        .testTarget(name: "TLLMServerTests", dependencies: ["TLLMServer", "MiniTRTLLM"]),
    ],
    swiftLanguageModes: [.v6]
)

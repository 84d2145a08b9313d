// NVRTC: compiles CUDA C kernel sources to PTX at run time. Needs no GPU, only libnvrtc.
#if canImport(Glibc)
import Glibc
#endif

/// The NVIDIA run-time compiler, loaded on demand.
public final class NVRTC: @unchecked Sendable {
    private typealias CreateProgram = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>?,
                                                      Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias CompileProgram = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias SizeQuery = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Int32
    private typealias TextQuery = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Int32
    private typealias DestroyProgram = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    private typealias Version = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
    private typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?

    private let library: DynamicLibrary
    private let createProgram: CreateProgram
    private let compileProgram: CompileProgram
    private let getPTXSize: SizeQuery
    private let getPTX: TextQuery
    private let getLogSize: SizeQuery
    private let getLog: TextQuery
    private let destroyProgram: DestroyProgram
    private let errorString: ErrorString
    /// "major.minor" of the loaded NVRTC.
    public let version: String

    /// Loads libnvrtc (from the system's CUDA, or NVIDIA's `nvidia-cuda-nvrtc-cu12` wheel).
    /// - Throws: ``CUDAError`` (`.libraryMissing`) when it cannot be found.
    public init() throws(CUDAError) {
        library = try DynamicLibrary(names: ["libnvrtc.so.12", "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.11.2"],
                                     directories: DynamicLibrary.searchDirectories(wheelPackage: "cuda_nvrtc"))
        createProgram = try library.function("nvrtcCreateProgram", as: CreateProgram.self)
        compileProgram = try library.function("nvrtcCompileProgram", as: CompileProgram.self)
        getPTXSize = try library.function("nvrtcGetPTXSize", as: SizeQuery.self)
        getPTX = try library.function("nvrtcGetPTX", as: TextQuery.self)
        getLogSize = try library.function("nvrtcGetProgramLogSize", as: SizeQuery.self)
        getLog = try library.function("nvrtcGetProgramLog", as: TextQuery.self)
        destroyProgram = try library.function("nvrtcDestroyProgram", as: DestroyProgram.self)
        errorString = try library.function("nvrtcGetErrorString", as: ErrorString.self)
        let versionFunction = try library.function("nvrtcVersion", as: Version.self)
        var major: Int32 = 0, minor: Int32 = 0
        _ = versionFunction(&major, &minor)
        version = "\(major).\(minor)"
    }

    /// Where libnvrtc was loaded from.
    public var libraryPath: String { library.path }

    /// Compiles `source` to PTX for `architecture` (e.g. `compute_80`).
    /// - Throws: ``CUDAError`` (`.compileFailed`) with NVRTC's log naming the line that failed.
    public func compile(_ source: String, name: String, architecture: String = "compute_80",
                        options extra: [String] = []) throws(CUDAError) -> String {
        var program: OpaquePointer?
        var status = createProgram(&program, source, name, 0, nil, nil)
        guard status == 0 else { throw CUDAError(.compileFailed, "\(name): nvrtcCreateProgram: \(describe(status))") }
        defer { _ = destroyProgram(&program) }
        let options = ["--gpu-architecture=\(architecture)", "--std=c++17", "-default-device"] + extra
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        var pointers = cOptions.map { UnsafePointer<CChar>($0) }
        status = pointers.withUnsafeMutableBufferPointer { compileProgram(program, Int32(options.count), $0.baseAddress) }
        if status != 0 {
            throw CUDAError(.compileFailed, "\(name): \(describe(status))\n\(log(program))")
        }
        var size = 0
        _ = getPTXSize(program, &size)
        var ptx = [CChar](repeating: 0, count: max(size, 1))
        _ = getPTX(program, &ptx)
        return String(decoding: ptx.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func log(_ program: OpaquePointer?) -> String {
        var size = 0
        _ = getLogSize(program, &size)
        var text = [CChar](repeating: 0, count: max(size, 1))
        _ = getLog(program, &text)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func describe(_ status: Int32) -> String {
        errorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
    }
}

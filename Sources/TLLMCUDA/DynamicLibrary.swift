// Run-time binding with dlopen/dlsym: nothing links against CUDA, so one binary runs everywhere.
#if canImport(Glibc)
import Glibc
#endif

/// A shared library opened at run time, and typed lookups of its C functions.
final class DynamicLibrary: @unchecked Sendable {
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `names` that loads, trying each name as given (the loader's search
    /// path) and inside each of `directories`.
    init(names: [String], directories: [String]) throws(CUDAError) {
        var tried: [String] = []
        for name in names {
            for candidate in directories.map({ "\($0)/\(name)" }) + [name] {
                tried.append(candidate)
                if let h = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                    handle = h
                    path = candidate
                    return
                }
            }
        }
        let reason = dlerror().map { String(cString: $0) } ?? "not found"
        throw CUDAError(.libraryMissing, "could not load any of \(names.joined(separator: ", ")) (\(reason)); tried \(tried.count) paths")
    }

    deinit { dlclose(handle) }

    /// The function `name` as the C function type `T`.
    func function<T>(_ name: String, as type: T.Type) throws(CUDAError) -> T {
        guard let symbol = dlsym(handle, name) else {
            throw CUDAError(.libraryMissing, "\(path) has no symbol \(name)")
        }
        return unsafeBitCast(symbol, to: T.self)
    }

    /// Directories where CUDA libraries usually live: $TLLM_CUDA_LIB_DIRS (colon-separated),
    /// $CUDA_HOME/lib64, /usr/local/cuda/lib64, and the lib folders of NVIDIA's PyPI wheels in
    /// the user's and the system's Python site-packages.
    static func searchDirectories(wheelPackage: String) -> [String] {
        var dirs: [String] = []
        if let extra = getenv("TLLM_CUDA_LIB_DIRS") { dirs += String(cString: extra).split(separator: ":").map(String.init) }
        if let home = getenv("CUDA_HOME") { dirs.append(String(cString: home) + "/lib64") }
        dirs += ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64"]
        var roots = ["/usr/local/lib", "/usr/lib"]
        if let home = getenv("HOME") { roots.append(String(cString: home) + "/.local/lib") }
        for root in roots {
            for minor in 8...13 {
                dirs.append("\(root)/python3.\(minor)/site-packages/nvidia/\(wheelPackage)/lib")
                dirs.append("\(root)/python3.\(minor)/dist-packages/nvidia/\(wheelPackage)/lib")
            }
        }
        return dirs
    }
}

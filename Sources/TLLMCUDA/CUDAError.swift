// Errors from the optional CUDA backend: a missing library or device, a failed compile or call.

/// Why the CUDA backend cannot be used, or what failed on the GPU.
public struct CUDAError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// libcuda, libnvrtc or libcublas could not be loaded.
        case libraryMissing
        /// The driver loaded but reports no usable device.
        case noDevice
        /// NVRTC rejected a kernel source; the message holds its log.
        case compileFailed
        /// A driver or cuBLAS call returned an error.
        case callFailed
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "CUDA \(code.rawValue): \(message)" }
}

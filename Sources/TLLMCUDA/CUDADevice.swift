// The CUDA driver, probed at run time: is there a GPU, and which.

/// A GPU found through the CUDA driver API.
public struct CUDADeviceInfo: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var computeCapability: (major: Int, minor: Int)
    public var memoryBytes: Int

    public static func == (a: Self, b: Self) -> Bool {
        a.index == b.index && a.name == b.name && a.computeCapability == b.computeCapability && a.memoryBytes == b.memoryBytes
    }
}

/// Loads libcuda and lists devices; nothing here allocates GPU memory.
public enum CUDADevice {
    private typealias Init = @convention(c) (UInt32) -> Int32
    private typealias GetCount = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    private typealias Get = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias GetName = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Int32
    private typealias GetAttribute = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Int32
    private typealias TotalMem = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Int32

    /// Every visible device.
    /// - Throws: ``CUDAError`` `.libraryMissing` without a driver, `.noDevice` when it lists none.
    public static func probe() throws(CUDAError) -> [CUDADeviceInfo] {
        let lib = try DynamicLibrary(names: ["libcuda.so.1", "libcuda.so"], directories: DynamicLibrary.searchDirectories(wheelPackage: "cuda_runtime"))
        let cuInit = try lib.function("cuInit", as: Init.self)
        let status = cuInit(0)
        guard status == 0 else { throw CUDAError(.noDevice, "cuInit failed with CUDA error \(status) (no usable GPU or driver)") }
        var count: Int32 = 0
        guard try lib.function("cuDeviceGetCount", as: GetCount.self)(&count) == 0, count > 0 else {
            throw CUDAError(.noDevice, "the CUDA driver reports no device")
        }
        let get = try lib.function("cuDeviceGet", as: Get.self)
        let getName = try lib.function("cuDeviceGetName", as: GetName.self)
        let attribute = try lib.function("cuDeviceGetAttribute", as: GetAttribute.self)
        let totalMem = try lib.function("cuDeviceTotalMem_v2", as: TotalMem.self)
        return try (0..<count).map { (i: Int32) throws(CUDAError) -> CUDADeviceInfo in
            var device: Int32 = 0
            guard get(&device, i) == 0 else { throw CUDAError(.callFailed, "cuDeviceGet(\(i)) failed") }
            var name = [CChar](repeating: 0, count: 256)
            _ = getName(&name, 256, device)
            var major: Int32 = 0, minor: Int32 = 0, bytes = 0
            _ = attribute(&major, 75, device)   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
            _ = attribute(&minor, 76, device)   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
            _ = totalMem(&bytes, device)
            return CUDADeviceInfo(index: Int(i), name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                  computeCapability: (Int(major), Int(minor)), memoryBytes: bytes)
        }
    }
}

// A tensor is a shape, an element type and bytes that live somewhere (an mmap'd file or our heap).
import TLLMKernels

/// Read-only bytes behind one or more tensors. Either borrowed from an owner that keeps them alive
/// (a memory-mapped checkpoint, or a ``HugePageRegion``) or allocated on the heap and owned here.
public final class TensorStorage: @unchecked Sendable {
    /// Start of the bytes (64-byte aligned when allocated here).
    public let base: UnsafeRawPointer
    /// Length in bytes.
    public let byteCount: Int
    private let owner: AnyObject?
    private let allocation: UnsafeMutableRawPointer?

    /// Borrows `byteCount` bytes at `base`, kept alive by `owner` (e.g. a ``MappedFile``).
    public init(borrowing base: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
        self.allocation = nil
    }

    /// Allocates `byteCount` zeroed bytes on the heap and lets `fill` write them once.
    public init(byteCount: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        fill(UnsafeMutableRawBufferPointer(start: memory, count: byteCount))
        self.base = UnsafeRawPointer(memory)
        self.byteCount = byteCount
        self.owner = nil
        self.allocation = memory
    }

    deinit { allocation?.deallocate() }

    /// Whether the bytes were allocated here (not borrowed from an owner).
    public var isAllocated: Bool { allocation != nil }

    /// The huge-page region holding the bytes, when they were placed by ``HugePageArena``.
    public var hugePageRegion: HugePageRegion? { owner as? HugePageRegion }
}

/// An immutable weight tensor. Shapes are row-major, outermost first: a linear layer's weight
/// is `[outFeatures, inFeatures]`, and each row is stored contiguously (block-quantized rows too).
public struct Tensor: Sendable {
    public let shape: [Int]
    public let dtype: DType
    public let storage: TensorStorage
    /// Byte offset of element 0 inside `storage`.
    public let byteOffset: Int
    /// The precision of the inputs a linear layer multiplies this weight with (set by the engine
    /// from its ``ActivationPrecision`` build setting).
    public let activations: ActivationPrecision

    /// - Precondition: the bytes for `shape` in `dtype` fit inside `storage` from `byteOffset`.
    public init(shape: [Int], dtype: DType, storage: TensorStorage, byteOffset: Int = 0) {
        let bytes = dtype.byteCount(shape: shape)
        precondition(bytes != nil && byteOffset >= 0 && byteOffset + bytes! <= storage.byteCount, "tensor bytes exceed its storage")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
        self.activations = .float32
    }

    /// This tensor's bytes copied into `arena`'s huge-page memory, where decode streams them
    /// faster (Docs/Performance.md, tenth pass); this tensor itself where the arena does not take
    /// one of its size (under ``HugePageArena/minimumBytes``, the arena off, or no mapping).
    public func onHugePages(_ arena: HugePageArena = .shared) -> Tensor {
        guard let (memory, region) = arena.place(byteCount: byteCount) else { return self }
        memory.copyMemory(from: pointer, byteCount: byteCount)
        let copy = Tensor(shape: shape, dtype: dtype,
                          storage: TensorStorage(borrowing: UnsafeRawPointer(memory), byteCount: byteCount, owner: region))
        return Tensor(copy, activations: activations)
    }

    private init(_ tensor: Tensor, activations: ActivationPrecision) {
        shape = tensor.shape
        dtype = tensor.dtype
        storage = tensor.storage
        byteOffset = tensor.byteOffset
        self.activations = activations
    }

    /// The same bytes, multiplied with inputs of `precision` where its type has such a kernel
    /// (int8 for GGUF Q4_0/Q4_1/Q8_0 matrices; anything else stays float32).
    public func multiplied(with precision: ActivationPrecision) -> Tensor {
        let int8 = precision == .int8 && shape.count == 2 && dtype.takesInt8Activations
        return Tensor(self, activations: int8 ? .int8 : .float32)
    }

    /// A float32 tensor holding a copy of `values`.
    public init(shape: [Int], floats values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let storage = TensorStorage(byteCount: values.count * 4) { buffer in
            values.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
        self.init(shape: shape, dtype: .f32, storage: storage)
    }

    public var elementCount: Int {
        var count = 1
        for i in shape.indices { count *= shape[i] }
        return count
    }
    public var byteCount: Int { dtype.byteCount(shape: shape)! }
    /// Elements in one row (the innermost dimension).
    public var rowLength: Int { shape.isEmpty ? 1 : shape[shape.count - 1] }
    public var rowCount: Int { elementCount / max(rowLength, 1) }
    public var pointer: UnsafeRawPointer { storage.base + byteOffset }

    /// Float32 pointer; only for `.f32` tensors.
    public var floatPointer: UnsafePointer<Float> {
        precondition(dtype == .f32, "floatPointer on a \(dtype) tensor")
        return pointer.assumingMemoryBound(to: Float.self)
    }

    /// Every element as float32, dequantized exactly.
    public func floats() -> [Float] {
        if let base = dtype.interleavedBase {
            // Interleaved rows are not addressable one by one: restore the GGUF rows first.
            let storage = TensorStorage(byteCount: byteCount) { buffer in
                tllm_unpack_x8(dtype.kernelType, pointer, Int64(rowCount), Int64(rowLength), buffer.baseAddress)
            }
            return Tensor(shape: shape, dtype: base, storage: storage).floats()
        }
        var out = [Float](repeating: 0, count: elementCount)
        let rowBytes = dtype.rowBytes(rowLength)!
        out.withUnsafeMutableBufferPointer { dst in
            for r in 0..<rowCount {
                tllm_dequantize_row(dtype.kernelType, pointer + r * rowBytes, dst.baseAddress! + r * rowLength, Int64(rowLength))
            }
        }
        return out
    }
}

extension DType {
    /// The kernels' name for this type; int8 has no weight kernels yet.
    public var kernelType: tllm_wtype {
        switch self {
        case .f32: TLLM_F32
        case .f16: TLLM_F16
        case .bf16: TLLM_BF16
        case .q4_0: TLLM_Q4_0
        case .q4_1: TLLM_Q4_1
        case .q8_0: TLLM_Q8_0
        case .int8Row: TLLM_INT8_ROW
        case .int4G32: TLLM_INT4_G32
        case .int4G64: TLLM_INT4_G64
        case .int4G128: TLLM_INT4_G128
        case .fp8Row: TLLM_FP8_ROW
        case .q4_0x8: TLLM_Q4_0_X8
        case .q4_1x8: TLLM_Q4_1_X8
        case .q8_0x8: TLLM_Q8_0_X8
        case .q4_0x8g: TLLM_Q4_0_X8G
        case .q4_1x8g: TLLM_Q4_1_X8G
        case .q8_0x8g: TLLM_Q8_0_X8G
        case .int8: preconditionFailure("int8 weights have no kernel")
        }
    }

    /// Whether the CPU kernels can use weights of this type directly.
    public var hasWeightKernel: Bool { self != .int8 }
}

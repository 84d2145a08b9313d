// Errors from reading or writing an engine file: what is wrong with which bytes, and what to do.

/// An engine file that cannot be written, or read back as the engine it should hold.
public struct EngineFileError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        /// The file cannot be opened, mapped or written.
        case io
        /// Shorter than its fixed prefix, its header or the size its header records.
        case truncated
        /// Longer than the size its header records.
        case trailingData
        /// Does not start with the engine magic: not an engine file.
        case badMagic
        /// Written by a newer (or unknown) format version.
        case unsupportedVersion
        /// The header length is impossible (larger than the file or the 64 MiB limit).
        case badHeaderLength
        /// The JSON header's CRC-32C does not match: the header bytes were changed.
        case headerChecksumMismatch
        /// The header is not the JSON this version writes.
        case malformedHeader
        /// A tensor's dtype is not one this version knows.
        case unknownDType
        /// A tensor's byte length does not match its dtype and shape.
        case tensorSizeMismatch
        /// A tensor (or attachment) points outside the data section or the file.
        case tensorOutOfBounds
        /// A tensor's offset is not 64-byte aligned.
        case misalignedTensor
        /// Two tensors share a name or overlapping bytes.
        case overlappingTensors
        /// A tensor's (or attachment's) CRC-32C does not match its bytes.
        case tensorChecksumMismatch
        /// The model or build configuration in the header is invalid.
        case invalidConfig
        /// The graph is malformed or reads a tensor the file does not hold.
        case invalidGraph
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "engine file error (\(code.rawValue)): \(message)" }
}

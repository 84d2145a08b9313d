// The typed error for GGUF reading: a machine-checkable code plus a message that says what and where.

/// A GGUF parse or lookup failure.
///
/// `code` classifies the failure; `message` says what is wrong, where (byte offset, key or
/// tensor name) and what to fix.
public struct GGUFError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of failure.
    public enum Code: String, Sendable {
        /// The file could not be opened or mapped.
        case io
        /// The file does not start with "GGUF".
        case badMagic
        /// The version is not 2 or 3.
        case unsupportedVersion
        /// The file ends in the middle of a header, key, value or tensor info.
        case truncated
        /// A count (tensors, keys, array elements, nesting depth) cannot fit in the file.
        case absurdCount
        /// A string length cannot fit in the file.
        case absurdLength
        /// A string is not valid UTF-8.
        case invalidUTF8
        /// A metadata value type id is not 0...12.
        case unknownValueType
        /// A tensor's ggml type is not one this engine supports.
        case unknownTensorType
        /// `general.alignment` is zero, not a power of two, or a tensor offset is misaligned.
        case badAlignment
        /// A tensor's data extends past the end of the file.
        case tensorOutOfBounds
        /// A tensor's shape is inconsistent with its type, or its size overflows.
        case shapeMismatch
        /// Two tensors share a name.
        case duplicateTensor
        /// Two metadata entries share a key.
        case duplicateKey
        /// A required metadata key is absent.
        case missingKey
        /// A metadata value has an unexpected type.
        case wrongType
        /// A tensor has a dimension count outside 1...4.
        case badDimensions
    }

    /// The kind of failure.
    public let code: Code
    /// What is wrong, where, and what to fix.
    public let message: String

    /// Creates an error with `code` and a human-readable `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// "GGUF <code>: <message>".
    public var description: String { "GGUF \(code.rawValue): \(message)" }
}

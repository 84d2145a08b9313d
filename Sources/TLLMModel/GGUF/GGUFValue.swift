// GGUF metadata values: the typed value enum and its accessors; no parsing or I/O here.

/// One GGUF metadata value, with the exact on-disk type preserved.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// An array; elements share one type on disk. Nested arrays are allowed.
    case array([GGUFValue])

    /// The value of any integer case as `Int`, or `nil` if it is not an integer or does not fit.
    /// Booleans are not integers.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value of a float case, or of an integer case converted to `Double`; `nil` otherwise.
    public var floatValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        default: intValue.map(Double.init)
        }
    }

    /// The string, if this is a string value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean, if this is a bool value.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, if this is an array value.
    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The GGUF on-disk type id of this value (0...12).
    public var typeID: UInt32 {
        switch self {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    /// A short name of the on-disk type, for error messages.
    public var typeName: String { GGUFValue.typeName(typeID) }

    /// The GGUF name of value type `id` ("UINT8", ..., "FLOAT64"), or "type <id>" if unknown.
    public static func typeName(_ id: UInt32) -> String {
        switch id {
        case 0: "UINT8"
        case 1: "INT8"
        case 2: "UINT16"
        case 3: "INT16"
        case 4: "UINT32"
        case 5: "INT32"
        case 6: "FLOAT32"
        case 7: "BOOL"
        case 8: "STRING"
        case 9: "ARRAY"
        case 10: "UINT64"
        case 11: "INT64"
        case 12: "FLOAT64"
        default: "type \(id)"
        }
    }
}

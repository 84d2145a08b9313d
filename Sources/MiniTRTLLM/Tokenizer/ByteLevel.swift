// Tokenizer boundary: GPT-2's reversible byte ↔ printable-character mapping used by byte-level BPE vocabularies.

/// GPT-2's byte-level alphabet: every byte 0...255 stands for one printable Unicode scalar, so that
/// vocabulary strings never contain raw control bytes or spaces (a space byte is written `"Ġ"`).
///
/// Printable Latin-1 bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) map to themselves; the other 68 bytes map,
/// in increasing byte order, to U+0100, U+0101, ... U+0143.
public enum ByteLevel {
    /// The scalar each byte is written as, indexed by byte value.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\u{0}", count: 256)
        var extra: UInt32 = 0
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(256 + extra)!
                extra += 1
            }
        }
        return table
    }()

    /// The inverse of ``byteToScalar`` over scalar values 0...323; `-1` where a scalar stands for no byte.
    private static let scalarToByteTable: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The byte `scalar` stands for, or `nil` if it is not in the byte-level alphabet.
    @inline(__always)
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = Int(scalar.value)
        guard value < scalarToByteTable.count else { return nil }
        let byte = scalarToByteTable[value]
        return byte < 0 ? nil : UInt8(byte)
    }

    /// Writes `bytes` in the byte-level alphabet (the form vocabulary and merge strings use).
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(byteToScalar[Int(byte)]) }
        return String(scalars)
    }

    /// Reads a byte-level string back to raw bytes. Scalars outside the alphabet (which a well-formed
    /// vocabulary never contains) are passed through as their own UTF-8.
    public static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if let byte = byte(for: scalar) {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }
}

// Stop strings over streamed text: emit what cannot be part of a stop string, hold back the rest.

/// Finds the first occurrence of any stop string in text that arrives in pieces.
///
/// Invariant: `held` is the longest suffix of the text seen so far that is a proper prefix of some
/// stop string; everything before it has been emitted. Works on UTF-8 bytes; since the text and
/// the stop strings are valid UTF-8, cuts always fall on character boundaries.
struct StopStringMatcher: Sendable {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []

    init(_ stops: [String]) { self.stops = stops.map { Array($0.utf8) } }

    var isActive: Bool { !stops.isEmpty }

    /// Feeds a delta; returns the text safe to emit and whether a stop string matched (the
    /// emitted text then ends right before it).
    mutating func feed(_ delta: String) -> (emit: String, stopped: Bool) {
        guard isActive else { return (delta, false) }
        let text = held + Array(delta.utf8)
        if let cut = firstMatch(in: text) {
            held = []
            return (String(decoding: text[..<cut], as: UTF8.self), true)
        }
        let keep = longestPartialMatch(at: text)
        held = Array(text[(text.count - keep)...])
        return (String(decoding: text[..<(text.count - keep)], as: UTF8.self), false)
    }

    /// The held-back text, when the request ends for another reason.
    mutating func flush() -> String {
        defer { held = [] }
        return String(decoding: held, as: UTF8.self)
    }

    private func firstMatch(in text: [UInt8]) -> Int? {
        var best: Int?
        for stop in stops where stop.count <= text.count {
            for start in 0...(text.count - stop.count) where best == nil || start < best! {
                if text[start] == stop[0] && text[start..<(start + stop.count)].elementsEqual(stop) {
                    best = start
                    break
                }
            }
        }
        return best
    }

    private func longestPartialMatch(at text: [UInt8]) -> Int {
        var longest = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, text.count), to: longest, by: -1)
            where text[(text.count - length)...].elementsEqual(stop[..<length]) {
                longest = length
                break
            }
        }
        return longest
    }
}

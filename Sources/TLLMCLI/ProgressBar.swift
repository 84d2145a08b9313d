// A one-line progress bar on standard error, redrawn only when what it shows changes.
import MiniTRTLLM
#if canImport(Glibc)
import Glibc
#endif

/// Draws `[#########-----------]  45%  quantizing  blk.12.ffn_up.weight` on stderr.
public final class ProgressBar {
    private var last = ""
    private let width = 28
    private let enabled: Bool

    /// - Parameter enabled: false keeps it silent (e.g. `--quiet`).
    public init(enabled: Bool = true) { self.enabled = enabled }

    /// Shows one report.
    public func update(_ p: BuildProgress) {
        guard enabled else { return }
        let filled = Int(p.fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let percent = Int(p.fraction * 100)
        let key = "\(p.phase)|\(percent)"
        guard key != last else { return }
        last = key
        let item = p.item.count > 36 ? String(p.item.prefix(35)) + "…" : p.item
        let line = "\r[\(bar)] \(String(repeating: " ", count: max(0, 3 - String(percent).count)))\(percent)%  \(p.phase)  \(item)"
        printError(line + "\u{1B}[K" + (p.completed >= p.total ? "\n" : ""), newline: false)
    }
}

/// Writes `text` to standard error (unbuffered), with a newline unless told otherwise.
public func printError(_ text: String, newline: Bool = true) {
    let line = newline ? text + "\n" : text
    var bytes = Array(line.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { break }
        done += n
    }
}

// Charts as standalone SVG: latency percentiles of one run, and a concurrency sweep.
import Foundation

/// Renders benchmark reports as SVG documents.
public enum SVGChart {
    /// Grouped bars: median, p90, p95 and p99 of TTFT, TPOT, ITL and E2E (milliseconds, log scale).
    public static func latency(_ r: BenchReport) -> String {
        let metrics = [("TTFT", r.ttftMs), ("TPOT", r.tpotMs), ("ITL", r.itlMs), ("E2E", r.e2eMs)]
        let series = ["p50", "p90", "p95", "p99"]
        let colors = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2"]
        let (w, h, left, bottom, top) = (720.0, 360.0, 70.0, 50.0, 50.0)
        let values = metrics.flatMap { [$0.1.median, $0.1.p90, $0.1.p95, $0.1.p99] }
        let maxV = max(values.max() ?? 1, 0.001), minV = max(values.filter { $0 > 0 }.min() ?? 0.001, 0.001)
        let lo = floor(log10(minV)), hi = max(ceil(log10(maxV)), lo + 1)
        func y(_ v: Double) -> Double { h - bottom - (log10(max(v, pow(10, lo))) - lo) / (hi - lo) * (h - bottom - top) }
        var svg = header(w, h, title: "trtllm-bench \(r.mode): latency percentiles (ms, log scale) — c=\(r.concurrency), \(r.completed) requests")
        for e in stride(from: lo, through: hi, by: 1) {
            let yy = y(pow(10, e))
            svg += "<line x1=\"\(left)\" y1=\"\(f(yy))\" x2=\"\(w - 20)\" y2=\"\(f(yy))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(f(yy + 4))\" text-anchor=\"end\" font-size=\"11\">\(escape(label(pow(10, e))))</text>"
        }
        let group = (w - left - 20) / Double(metrics.count), bar = group / 6
        for (i, (name, s)) in metrics.enumerated() {
            let x0 = left + Double(i) * group + bar
            for (j, v) in [s.median, s.p90, s.p95, s.p99].enumerated() {
                let top = y(v)
                svg += "<rect x=\"\(f(x0 + Double(j) * bar))\" y=\"\(f(top))\" width=\"\(f(bar * 0.9))\" height=\"\(f(max(0, h - bottom - top)))\" fill=\"\(colors[j])\"><title>\(name) \(series[j]) \(f(v)) ms</title></rect>"
            }
            svg += "<text x=\"\(f(x0 + 2 * bar))\" y=\"\(f(h - bottom + 18))\" text-anchor=\"middle\" font-size=\"13\">\(name)</text>"
        }
        svg += legend(series, colors, x: left, y: h - 12)
        return svg + "</svg>\n"
    }

    /// Two panels against concurrency: output token throughput, and p99 TTFT.
    public static func sweep(_ reports: [BenchReport]) -> String {
        let (w, h) = (820.0, 380.0)
        var svg = header(w, h, title: "trtllm-bench concurrency sweep — \(escape(reports.first?.target ?? ""))")
        svg += panel(reports.map { Double($0.concurrency) }, reports.map(\.outputTokenThroughput),
                     x: 0, width: w / 2, height: h, title: "output tokens/s", color: "#4e79a7")
        svg += panel(reports.map { Double($0.concurrency) }, reports.map(\.ttftMs.p99),
                     x: w / 2, width: w / 2, height: h, title: "p99 TTFT (ms)", color: "#e15759")
        return svg + "</svg>\n"
    }

    private static func panel(_ xs: [Double], _ ys: [Double], x: Double, width: Double, height: Double,
                              title: String, color: String) -> String {
        let (left, right, top, bottom) = (x + 60, x + width - 20, 60.0, height - 50)
        let maxY = max(ys.max() ?? 1, 1e-9) * 1.1
        func px(_ i: Int) -> Double { xs.count == 1 ? (left + right) / 2 : left + Double(i) / Double(xs.count - 1) * (right - left) }
        func py(_ v: Double) -> Double { bottom - v / maxY * (bottom - top) }
        var s = "<text x=\"\(f((left + right) / 2))\" y=\"\(f(top - 12))\" text-anchor=\"middle\" font-size=\"13\">\(escape(title))</text>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>"
        for k in 0...4 {
            let v = maxY * Double(k) / 4
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\" font-size=\"10\">\(escape(label(v)))</text>"
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(v)))\" x2=\"\(f(right))\" y2=\"\(f(py(v)))\" stroke=\"#eee\"/>"
        }
        let points = ys.indices.map { "\(f(px($0))),\(f(py(ys[$0])))" }.joined(separator: " ")
        s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
        for i in ys.indices {
            s += "<circle cx=\"\(f(px(i)))\" cy=\"\(f(py(ys[i])))\" r=\"4\" fill=\"\(color)\"><title>c=\(Int(xs[i])): \(f(ys[i]))</title></circle>"
            s += "<text x=\"\(f(px(i)))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(Int(xs[i]))</text>"
            s += "<text x=\"\(f(px(i)))\" y=\"\(f(py(ys[i]) - 8))\" text-anchor=\"middle\" font-size=\"10\">\(escape(label(ys[i])))</text>"
        }
        s += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 34))\" text-anchor=\"middle\" font-size=\"12\">concurrency</text>"
        return s
    }

    private static func header(_ w: Double, _ h: Double, title: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" font-family=\"sans-serif\">"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
            + "<text x=\"\(f(w / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>"
    }

    private static func legend(_ names: [String], _ colors: [String], x: Double, y: Double) -> String {
        names.indices.map { i in
            "<rect x=\"\(f(x + Double(i) * 70))\" y=\"\(f(y - 10))\" width=\"12\" height=\"12\" fill=\"\(colors[i])\"/>"
                + "<text x=\"\(f(x + Double(i) * 70 + 16))\" y=\"\(f(y))\" font-size=\"12\">\(names[i])</text>"
        }.joined()
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private static func label(_ v: Double) -> String {
        v >= 100 ? String(format: "%.0f", v) : v >= 1 ? String(format: "%.1f", v) : String(format: "%.3g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

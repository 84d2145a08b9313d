// An OpenAI-compatible server over plain HTTP/1.1 (`serve` mode): POST /v1/completions with
// stream=true, read Server-Sent Events as they arrive. Blocking sockets on a thread per request.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Any OpenAI-compatible completions endpoint reachable over `http://` (ours, llama.cpp's, vLLM's).
public struct HTTPCompletionsTarget: BenchTarget {
    public let host: String
    public let port: Int
    public let model: String
    public var label: String { "http://\(host):\(port) (model \(model))" }

    /// - Throws: ``BenchError`` unless `url` is `http://HOST[:PORT][/...]`.
    public init(url: String, model: String) throws(BenchError) {
        guard url.hasPrefix("http://") else { throw BenchError("--url must start with http:// (TLS is not supported), got \(url)") }
        let rest = url.dropFirst("http://".count).split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        let parts = rest.split(separator: ":")
        guard let h = parts.first, !h.isEmpty else { throw BenchError("--url has no host: \(url)") }
        host = String(h)
        if parts.count > 1 {
            guard let p = Int(parts[1]), (1...65535).contains(p) else { throw BenchError("--url has a bad port: \(url)") }
            port = p
        } else {
            port = 80
        }
        self.model = model
    }

    public func send(_ request: BenchRequest) async -> RequestTiming {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.blockingSend(request)) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func blockingSend(_ request: BenchRequest) -> RequestTiming {
        var timing = RequestTiming(start: .now)
        var body: [String: Any] = ["model": model, "max_tokens": request.outputTokens, "stream": true,
                                   "stream_options": ["include_usage": true], "temperature": 0, "ignore_eos": true]
        if let ids = request.inputIDs { body["prompt"] = ids.map(Int.init) } else { body["prompt"] = request.prompt ?? "" }
        guard let json = try? JSONSerialization.data(withJSONObject: body) else {
            timing.error = "could not encode the request"
            return timing
        }
        let head = "POST /v1/completions HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nConnection: close\r\nContent-Length: \(json.count)\r\n\r\n"
        do {
            let socket = try HTTPSocket(host: host, port: port)
            defer { socket.close() }
            try socket.write(Array(head.utf8) + [UInt8](json))
            var reader = HTTPResponseReader()
            var events = SSEParser()
            while let bytes = try socket.read() {
                for event in events.feed(try reader.feed(bytes)) {
                    if event == "[DONE]" { continue }
                    handle(event, &timing)
                }
                if reader.finished { break }
            }
            if let status = reader.status, status != 200 {
                timing.error = "HTTP \(status): \(String(decoding: reader.errorBody.prefix(300), as: UTF8.self))"
            }
        } catch {
            timing.error = "\(error)"
        }
        timing.end = .now
        if timing.outputTokens == 0 { timing.outputTokens = timing.chunks.reduce(0) { $0 + $1.tokens } }
        return timing
    }

    private func handle(_ event: String, _ timing: inout RequestTiming) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any] else { return }
        if let usage = object["usage"] as? [String: Any] {
            timing.outputTokens = usage["completion_tokens"] as? Int ?? timing.outputTokens
            timing.promptTokens = usage["prompt_tokens"] as? Int ?? timing.promptTokens
        }
        guard let choices = object["choices"] as? [[String: Any]], let first = choices.first,
              let text = first["text"] as? String, !text.isEmpty else { return }
        timing.outputText += text
        timing.chunks.append((.now, 1))
    }
}

/// A connected TCP socket with blocking reads and writes (5-minute timeouts).
final class HTTPSocket {
    private var fd: Int32 = -1

    init(host: String, port: Int) throws(BenchError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
            throw BenchError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let a = info {
            fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var timeout = timeval(tv_sec: 300, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return }
                Glibc.close(fd)
                fd = -1
            }
            info = a.pointee.ai_next
        }
        throw BenchError("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
    }

    func write(_ bytes: [UInt8]) throws(BenchError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BenchError("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// The next bytes, or nil at end of stream.
    func read() throws(BenchError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return nil }
        guard n > 0 else { throw BenchError("receive failed: \(String(cString: strerror(errno)))") }
        return Array(buffer[..<n])
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Incremental HTTP/1.1 response parsing: status line, headers, then the body as it arrives
/// (chunked transfer encoding, Content-Length, or until close).
struct HTTPResponseReader {
    private var buffer: [UInt8] = []
    private var headersDone = false
    private var chunked = false
    private var remaining: Int?          // bytes left in the current chunk or the whole body
    private(set) var status: Int?
    private(set) var finished = false
    private(set) var errorBody: [UInt8] = []

    /// Feeds bytes; returns the body bytes they completed.
    mutating func feed(_ bytes: [UInt8]) throws(BenchError) -> [UInt8] {
        if finished { return [] }                 // trailers after the last chunk
        buffer += bytes
        if !headersDone {
            guard let end = find([13, 10, 13, 10], in: buffer) else { return [] }
            let head = String(decoding: buffer[..<end], as: UTF8.self)
            buffer.removeFirst(end + 4)
            let lines = head.split(separator: "\r\n")
            guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
                  let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
                throw BenchError("not an HTTP response: \(head.prefix(80))")
            }
            status = code
            for line in lines.dropFirst() {
                let lower = line.lowercased()
                if lower.hasPrefix("transfer-encoding:") && lower.contains("chunked") { chunked = true }
                if lower.hasPrefix("content-length:") { remaining = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
            }
            headersDone = true
            if chunked { remaining = nil }
        }
        var body: [UInt8] = []
        if chunked {
            while true {
                if let left = remaining, left > 0 {
                    let take = min(left, buffer.count)
                    body += buffer[..<take]
                    buffer.removeFirst(take)
                    remaining = left - take
                    if remaining! > 0 { break }
                    continue
                }
                if remaining == 0 {           // CRLF after a chunk's data
                    guard buffer.count >= 2 else { break }
                    buffer.removeFirst(2)
                    remaining = nil
                }
                guard let lineEnd = find([13, 10], in: buffer) else { break }
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw BenchError("bad chunk size in the response")
                }
                buffer.removeFirst(lineEnd + 2)
                if size == 0 { finished = true; break }
                remaining = size
            }
        } else {
            body = buffer
            buffer = []
            if let left = remaining {
                remaining = left - body.count
                if remaining! <= 0 { finished = true }
            }
        }
        if let status, status != 200 { errorBody += body }
        return body
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}

/// Server-Sent Events: returns the `data:` payload of each complete event.
struct SSEParser {
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        pending += bytes
        var events: [String] = []
        while let newline = pending.firstIndex(of: 10) {
            var line = Array(pending[..<newline])
            pending.removeFirst(newline + 1)
            if line.last == 13 { line.removeLast() }
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("data:") {
                events.append(String(text.dropFirst(5)).trimmingCharacters(in: .whitespaces))
            }
        }
        return events
    }
}

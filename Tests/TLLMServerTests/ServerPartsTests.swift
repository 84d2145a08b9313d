// The server's pieces without a socket: JSON in and out, field checks, metrics text, admission.
import Foundation
import Testing
@testable import TLLMServer

@Suite("Server parts")
struct ServerPartsTests {
    @Test("JSON keeps key order, writes explicit nulls and escapes control characters")
    func jsonWriting() {
        let value: JSON = .object([("b", .int(1)), ("a", .null), ("s", .string("line\n\"q\"\u{1}é")), ("d", .double(2)), ("f", .double(-0.25))])
        #expect(value.serialized == #"{"b":1,"a":null,"s":"line\n\"q\"\u0001é","d":2.0,"f":-0.25}"#)
    }

    @Test("JSON parsing tells booleans, integers and floats apart")
    func jsonParsing() throws {
        let v = try JSON.parse(Array(#"{"t": true, "i": 3, "x": 3.5, "n": null, "a": ["s"]}"#.utf8))
        #expect(v["t"] == .bool(true))
        #expect(v["i"] == .int(3))
        #expect(v["x"] == .double(3.5))
        #expect(v["n"] == .null)
        #expect(v["a"] == .array([.string("s")]))
    }

    @Test("Malformed JSON is a 400 without a param")
    func badJSON() {
        for text in ["{bad", "", "[1,", "\u{FF}"] {
            #expect(throws: APIError.self) { try JSON.parse(Array(text.utf8)) }
        }
    }

    @Test("Field errors name the field and say what was expected")
    func fieldErrors() throws {
        let f = try FieldReader(.object([("max_tokens", .string("ten")), ("t", .double(2.5)), ("n", .double(3.0))]))
        #expect(throws: APIError.badRequest("max_tokens must be an integer, not a string", param: "max_tokens")) { try f.int("max_tokens") }
        #expect(try f.int("n") == 3)
        #expect(throws: APIError.self) { try f.double("t", in: 0...2) }
        #expect(try f.int("absent") == nil)
        #expect(throws: APIError.self) { try FieldReader(.array([])) }
    }

    @Test("Error bodies have OpenAI's four fields")
    func errorBody() {
        let body = APIError.modelNotFound("gpt-9").body.serialized
        #expect(body == #"{"error":{"message":"The model `gpt-9` does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#)
    }

    @Test("Histogram buckets are cumulative and end with +Inf, _sum and _count")
    func histogram() {
        var h = Histogram("x_seconds", help: "X.", bounds: [0.1, 1])
        for v in [0.05, 0.5, 5] { h.observe(v) }
        let text = h.render(labels: "m=\"a\"")
        #expect(text.contains("x_seconds_bucket{m=\"a\",le=\"0.1\"} 1\n"))
        #expect(text.contains("x_seconds_bucket{m=\"a\",le=\"1.0\"} 2\n"))
        #expect(text.contains("x_seconds_bucket{m=\"a\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("x_seconds_count{m=\"a\"} 3\n"))
    }

    @Test("Admission refuses past its limit and frees on release")
    func admission() {
        let a = AdmissionControl(limit: 3)
        #expect(a.tryAcquire(2))
        #expect(!a.tryAcquire(2))
        #expect(a.tryAcquire(1))
        a.release(3)
        #expect(a.current == 0)
        #expect(a.tryAcquire(3))
    }
}

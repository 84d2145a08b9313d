// Requests against the default model's limits and chat template, parsed without HTTP.
import Foundation
import MiniTRTLLM
import Testing
@testable import TLLMServer

/// The default model, served under the name "m" with a 4096-token cache.
enum ServedTestModel {
    static let model: Result<ServedModel, Error> = Result {
        let env = ProcessInfo.processInfo.environment
        let path = env["TLLM_MODEL"].flatMap { $0.isEmpty ? nil : $0 } ?? DefaultModel.path
        let gguf = try GGUFFile(path: path)
        let llm = try LLM(model: path, buildConfig: BuildConfig(maxSeqLen: 2048, maxNumTokens: 512), kvCacheConfig: KvCacheConfig(maxTokens: 4096))
        return ServedModel(name: "m", llm: llm, chatTemplateSource: gguf.metadata["tokenizer.chat_template"]?.stringValue, cacheTokens: 4096)
    }

    static var enabled: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true" || FileManager.default.fileExists(atPath: ProcessInfo.processInfo.environment["TLLM_MODEL"] ?? DefaultModel.path)
    }
}

func body(_ text: String) throws -> JSON { try JSON.parse(Array(text.utf8)) }

/// The `param` of the APIError `work` throws ("accepted" if it throws nothing, "other" for other errors).
func refusedParam(_ work: () throws -> Void) -> String? {
    do { try work(); return "accepted" } catch let error as APIError { return error.param } catch { return "other" }
}

@Suite("Request parsing on the default model", .enabled(if: ServedTestModel.enabled, "default model not available"))
struct RequestParsingTests {
    @Test("A completion request becomes token ids and sampling parameters")
    func completion() throws {
        let m = try ServedTestModel.model.get()
        let r = try CompletionRequestParser(model: m).parse(body(#"{"model": "m", "prompt": "The capital of France is", "max_tokens": 7, "temperature": 0, "stop": "."}"#))
        #expect(r.prompts == [[504, 3575, 282, 4649, 314]])
        #expect(r.params.maxTokens == 7 && r.params.temperature == 0 && r.params.stop == ["."])
        #expect(!r.stream && r.logprobs == .none)
    }

    @Test("Completions default to 16 tokens; chat defaults to the server's default, capped by the context")
    func defaults() throws {
        let m = try ServedTestModel.model.get()
        #expect(try CompletionRequestParser(model: m).parse(body(#"{"model": "m", "prompt": "Hi"}"#)).params.maxTokens == 16)
        let chat = try ChatRequestParser(model: m, defaultMaxTokens: 100_000).parse(body(#"{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}"#))
        #expect(chat.params.maxTokens == 2048 - chat.prompts[0].count)
    }

    @Test("max_tokens beyond the context or the cache is a 400 naming it, even at Int.max")
    func maxTokensLimits() throws {
        let m = try ServedTestModel.model.get()
        for n in ["0", "-3", "5000", "9223372036854775807"] {
            #expect(throws: APIError.self) {
                try CompletionRequestParser(model: m).parse(body(#"{"model": "m", "prompt": "Hi", "max_tokens": \#(n)}"#))
            }
        }
        #expect(refusedParam { _ = try CompletionRequestParser(model: m).parse(body(#"{"model": "m", "prompt": "Hi", "max_tokens": 9223372036854775807}"#)) } == "max_tokens")
    }

    @Test("Chat messages are rendered with the model's template, default system prompt included")
    func chatTemplate() throws {
        let m = try ServedTestModel.model.get()
        let r = try ChatRequestParser(model: m, defaultMaxTokens: 8).parse(body(#"{"model": "m", "messages": [{"role": "user", "content": "Hi"}], "logprobs": true, "top_logprobs": 2}"#))
        let text = m.llm.tokenizer.decode(r.prompts[0])
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(r.logprobs == .chat(top: 2) && r.params.logprobs == 2)
    }

    @Test("Unknown models get 404; n > 1 and bad messages get 400 naming the field")
    func refusals() throws {
        let m = try ServedTestModel.model.get()
        #expect(throws: APIError.modelNotFound("x")) { try CompletionRequestParser(model: m).parse(body(#"{"model": "x", "prompt": "Hi"}"#)) }
        let cases: [(String, String)] = [
            (#"{"model": "m", "prompt": "Hi", "n": 2}"#, "n"),
            (#"{"model": "m", "prompt": [1, 49152]}"#, "prompt"),
            (#"{"model": "m", "prompt": ""}"#, "prompt"),
        ]
        for (text, param) in cases {
            #expect(refusedParam { _ = try CompletionRequestParser(model: m).parse(body(text)) } == param, "\(text)")
        }
        #expect(refusedParam { _ = try ChatRequestParser(model: m, defaultMaxTokens: 8).parse(body(#"{"model": "m", "messages": [{"role": "user", "content": 3}]}"#)) } == "messages[0].content")
    }

    @Test("Stream chunks carry explicit nulls and the chat role first")
    func chunks() throws {
        let m = try ServedTestModel.model.get()
        let f = ResponseFormatter(kind: .chat, id: "chatcmpl-x", created: 1, model: m, logprobs: .none, includeUsage: true)
        #expect(f.roleChunk(index: 0).serialized == #"{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}"#)
        let usage = f.usageChunk(Usage(promptTokens: 3, completionTokens: 2)).serialized
        #expect(usage.hasSuffix(#""choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#))
    }
}

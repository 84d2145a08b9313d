// trtllm-serve's HTTP layer on Hummingbird: routes, request → engine → OpenAI response or SSE stream,
// errors as OpenAI error bodies, and graceful shutdown. Hummingbird is confined to this target.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Hummingbird
import Logging
import MiniTRTLLM
import NIOCore
import ServiceLifecycle

/// An OpenAI-compatible server for one model (TensorRT-LLM's `trtllm-serve`).
///
/// Endpoints: `POST /v1/completions`, `POST /v1/chat/completions`, `GET /v1/models`,
/// `GET /v1/models/{id}`, `GET /health`, `GET /metrics`.
public final class OpenAIServer: Sendable {
    public let model: ServedModel
    public let configuration: ServerConfiguration
    public let metrics: ServerMetrics
    private let logger: Logger
    private let admission: AdmissionControl
    private let shutdown: ShutdownCoordinator
    private let startTime = Int(Date().timeIntervalSince1970)

    /// - Parameters:
    ///   - model: The model to serve.
    ///   - configuration: Address and limits.
    ///   - logger: Where request and lifecycle logs go.
    public init(model: ServedModel, configuration: ServerConfiguration, logger: Logger) {
        self.model = model
        self.configuration = configuration
        self.logger = logger
        metrics = ServerMetrics(modelName: model.name)
        admission = AdmissionControl(limit: model.llm.engine.buildConfig.maxBatchSize + configuration.maxQueue)
        shutdown = ShutdownCoordinator(gracePeriod: configuration.shutdownGracePeriod)
    }

    /// Serves until SIGINT or SIGTERM, then drains: no new generations, in-flight ones get the grace
    /// period to finish, the rest are cancelled (their KV blocks freed), and the call returns.
    /// - Parameter onListening: Called with the bound host and port once the server accepts connections.
    /// - Throws: If the address cannot be bound.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        let host = configuration.host
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "trtllm-serve"),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        shutdown.cancelAll()
        logger.info("trtllm-serve stopped")
    }

    // MARK: Routes

    /// The router, for tests that drive the server without a socket.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { _, _ in
            await self.counted("/health") {
                if self.shutdown.isDraining || Task.isShuttingDownGracefully { throw APIError.shuttingDown }
                return Self.json(.object([("status", .string("ok"))]))
            }
        }
        router.get("/v1/models") { _, _ in
            await self.counted("/v1/models") { Self.json(.object([("object", .string("list")), ("data", .array([self.modelCard]))])) }
        }
        router.get("/v1/models/:id") { _, context in
            await self.counted("/v1/models/{id}") {
                let id = context.parameters.get("id") ?? ""
                guard id == self.model.name else { throw APIError.modelNotFound(id) }
                return Self.json(self.modelCard)
            }
        }
        router.get("/metrics") { _, _ in
            await self.counted("/metrics") {
                let text = self.metrics.render(await self.model.llm.snapshot())
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.post("/v1/completions") { request, _ in
            await self.counted("/v1/completions") {
                let body = try await self.body(request)
                return try await self.generate(CompletionRequestParser(model: self.model).parse(body), kind: .completion)
            }
        }
        router.post("/v1/chat/completions") { request, _ in
            await self.counted("/v1/chat/completions") {
                let body = try await self.body(request)
                let parser = ChatRequestParser(model: self.model, defaultMaxTokens: self.configuration.defaultMaxTokens)
                return try await self.generate(parser.parse(body), kind: .chat)
            }
        }
        return router
    }

    private var modelCard: JSON {
        .object([("id", .string(model.name)), ("object", .string("model")), ("created", .int(startTime)),
                 ("owned_by", .string("minitrtllm")), ("max_model_len", .int(model.limits.maxSeqLen))])
    }

    /// Runs a handler, turns any error into an OpenAI error response, and counts the status.
    private func counted(_ path: String, _ handler: () async throws -> Response) async -> Response {
        let response: Response
        do {
            response = try await handler()
        } catch let error as APIError {
            if error.status >= 500 { logger.error("\(path): \(error)") } else { logger.info("\(path): \(error)") }
            response = Self.json(error.body, status: error.status)
        } catch {
            logger.error("\(path): unexpected error: \(error)")
            response = Self.json(APIError.internalError("\(error)").body, status: 500)
        }
        metrics.recordHTTP(path: path, status: response.status.code)
        return response
    }

    private func body(_ request: Request) async throws(APIError) -> JSON {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: configuration.maxRequestBytes)
        } catch {
            throw APIError(status: 413, message: "the request body exceeds \(configuration.maxRequestBytes) bytes", type: "invalid_request_error")
        }
        return try JSON.parse(Array(buffer.readableBytesView))
    }

    static func json(_ value: JSON, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    // MARK: Generation

    private func generate(_ request: GenerationRequest, kind: ResponseFormatter.Kind) async throws(APIError) -> Response {
        if Task.isShuttingDownGracefully { throw APIError.shuttingDown }
        let job = try GenerationJob.start(request, model: model, admission: admission, shutdown: shutdown, metrics: metrics)
        let id = (kind == .completion ? "cmpl-" : "chatcmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let formatter = ResponseFormatter(kind: kind, id: id, created: Int(Date().timeIntervalSince1970), model: model,
                                          logprobs: request.logprobs, includeUsage: request.includeUsage)
        logger.debug("\(id): \(request.prompts.count) prompt(s), \(request.prompts.map(\.count)) tokens, max_tokens \(request.params.maxTokens), stream \(request.stream)\(request.user.map { ", user \($0)" } ?? "")")
        guard request.stream else { return Self.json(try await collect(job, request, formatter)) }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: .init { writer in
            try await self.stream(job, request, formatter, &writer)
        })
    }

    /// Waits for every choice and builds the whole response.
    /// - Throws: ``APIError`` (500) if the engine fails.
    private func collect(_ job: GenerationJob, _ request: GenerationRequest, _ formatter: ResponseFormatter) async throws(APIError) -> JSON {
        defer { job.cancel() }
        let n = request.prompts.count
        var texts = Array(repeating: "", count: n)
        var tokens = Array(repeating: [SampledToken](), count: n)
        var finish = Array(repeating: FinishReason?.none, count: n)
        var generated = 0
        do {
            try await withGracefulShutdownHandler {
                for try await (i, delta) in job.events {
                    texts[i] += delta.text
                    tokens[i] += delta.logprobs
                    generated += delta.tokenIDs.count
                    if let reason = delta.finishReason { finish[i] = reason }
                }
            } onGracefulShutdown: { self.shutdown.beginShutdown() }
        } catch {
            logger.error("\(formatter.id): generation failed: \(error)")
            throw APIError.internalError("generation failed: \(error)")
        }
        let choices = (0..<n).map { formatter.choice(index: $0, text: texts[$0], tokens: tokens[$0], finishReason: finish[$0]) }
        logger.info("\(formatter.id): done, \(generated) tokens")
        return formatter.response(choices: choices, usage: Usage(promptTokens: request.prompts.reduce(0) { $0 + $1.count }, completionTokens: generated))
    }

    /// Server-Sent Events: the role first (chat), text deltas, one finish chunk per choice, the usage
    /// chunk when asked, then `data: [DONE]`. A failed write (the client left) cancels the generation.
    private func stream(_ job: GenerationJob, _ request: GenerationRequest, _ formatter: ResponseFormatter,
                        _ writer: inout any ResponseBodyWriter) async throws {
        defer { job.cancel() }
        func send(_ json: JSON, _ writer: inout any ResponseBodyWriter) async throws {
            try await writer.write(ByteBuffer(string: "data: \(json.serialized)\n\n"))
        }
        let n = request.prompts.count
        var generated = 0
        var offsets = Array(repeating: 0, count: n)
        let wantsLogprobs = request.logprobs != .none
        try await withGracefulShutdownHandler {
            if formatter.kind == .chat { for i in 0..<n { try await send(formatter.roleChunk(index: i), &writer) } }
            do {
                for try await (i, delta) in job.events {
                    generated += delta.tokenIDs.count
                    guard delta.finishReason != nil || !delta.text.isEmpty || (wantsLogprobs && !delta.logprobs.isEmpty) else { continue }
                    try await send(formatter.deltaChunk(index: i, text: delta.text, tokens: delta.logprobs, textOffset: offsets[i],
                                                        finishReason: delta.finishReason), &writer)
                    offsets[i] += delta.text.utf16.count
                }
            } catch let error as LLMError {
                // The engine failed: the status line is already sent, so the error travels as an event.
                logger.error("\(formatter.id): generation failed: \(error)")
                try await send(APIError.internalError("generation failed: \(error)").body, &writer)
            }
            if request.includeUsage {
                try await send(formatter.usageChunk(Usage(promptTokens: request.prompts.reduce(0) { $0 + $1.count }, completionTokens: generated)), &writer)
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
        } onGracefulShutdown: { self.shutdown.beginShutdown() }
        try await writer.finish(nil)
        logger.info("\(formatter.id): streamed \(generated) tokens")
    }
}

// How the server listens and how much it takes on.

/// Settings of ``OpenAIServer``.
public struct ServerConfiguration: Sendable {
    /// Address to bind (`127.0.0.1` keeps the server local).
    public var host: String
    /// Port; 0 picks a free one (the listening callback reports it).
    public var port: Int
    /// Prompts that may be in flight at once: the engine's batch plus this many waiting; more get 429.
    public var maxQueue: Int
    /// `max_tokens` for chat requests that do not set it (capped to what fits the context).
    public var defaultMaxTokens: Int
    /// How long in-flight requests may run on after SIGINT/SIGTERM before they are cancelled.
    public var shutdownGracePeriod: Duration
    /// Largest request body accepted (bytes); larger bodies get 413.
    public var maxRequestBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8000, maxQueue: Int = 256, defaultMaxTokens: Int = 512,
                shutdownGracePeriod: Duration = .seconds(10), maxRequestBytes: Int = 8 << 20) {
        self.host = host
        self.port = port
        self.maxQueue = maxQueue
        self.defaultMaxTokens = defaultMaxTokens
        self.shutdownGracePeriod = shutdownGracePeriod
        self.maxRequestBytes = maxRequestBytes
    }
}

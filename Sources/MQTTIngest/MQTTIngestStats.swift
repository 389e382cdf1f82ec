/// A snapshot of `MQTTIngestService` counters, for a live summary or a status endpoint.
public struct MQTTIngestStats: Sendable, Hashable {
    /// Connected to the broker now.
    public var connected: Bool
    /// Successful connects (CONNACK) since start.
    public var connects: Int
    /// Established connections that ended.
    public var disconnects: Int
    /// Connection attempts that failed.
    public var connectFailures: Int
    /// Messages delivered by the broker.
    public var received: Int
    /// Messages accepted into the ingest queue.
    public var queued: Int
    /// Messages dropped because the ingest queue was full (or already closed at shutdown).
    public var dropped: Int
    /// Messages waiting in the queue now.
    public var queueDepth: Int
    /// Batches handed to the sink.
    public var decodedBatches: Int
    /// Messages decoded into those batches.
    public var decodedMessages: Int
    /// Samples in those batches.
    public var samples: Int
    /// Dead letters in those batches.
    public var deadLetters: Int
    /// The most recent connection error, if any.
    public var lastError: String?
}

/// A receiver upstream: takes one outbox batch at a time and says whether the receiver acknowledged it.
///
/// `send` returns only when the receiver has the batch (HTTP 2xx, MQTT PUBACK); only then does the runner move the
/// sink's cursor. Throwing means "not delivered, try again later" (the runner backs off and resends the same
/// rows with the same sequence number). `.rejected` means the receiver will never take these rows (HTTP 400):
/// they are skipped and counted so that one bad batch cannot block the sink forever.
public protocol UplinkSink: Sendable {
    /// The sink's name: its cursor key in the outbox and its metric label.
    var name: String { get }
    /// Delivers a batch.
    func send(_ batch: OutboxBatch) async throws -> SinkOutcome
    /// Does the CPU work for a batch (rendering, compression) ahead of its turn, so it overlaps the previous
    /// batch's round trip. The default does nothing.
    func prepare(_ batch: OutboxBatch) async throws -> PreparedBatch
    /// Delivers a prepared batch. The default sends `prepared.batch`.
    func send(_ prepared: PreparedBatch) async throws -> SinkOutcome
    /// Releases connections; called once when the forwarder stops.
    func shutdown() async
    /// True when the sink can only have one batch on the wire (its acknowledgement is not tied to a request):
    /// the runner then ignores `max_in_flight`. Default false.
    var sendsOneAtATime: Bool { get }
}

/// A batch with its request body already built.
public struct PreparedBatch: Sendable {
    /// The batch.
    public var batch: OutboxBatch
    /// The encoded body, if the sink prepared one.
    public var body: [UInt8]?
    /// Body bytes before compression.
    public var renderedBytes: Int
    /// Whether `body` is gzip.
    public var gzipped: Bool

    /// Creates a prepared batch.
    public init(batch: OutboxBatch, body: [UInt8]? = nil, renderedBytes: Int = 0, gzipped: Bool = false) {
        self.batch = batch
        self.body = body
        self.renderedBytes = renderedBytes
        self.gzipped = gzipped
    }
}

extension UplinkSink {
    /// Prepares nothing.
    public func prepare(_ batch: OutboxBatch) async throws -> PreparedBatch { PreparedBatch(batch: batch) }
    /// Sends the batch itself.
    public func send(_ prepared: PreparedBatch) async throws -> SinkOutcome { try await send(prepared.batch) }
    /// Several batches may be on the wire.
    public var sendsOneAtATime: Bool { false }
}

/// What the receiver said about a batch.
public enum SinkOutcome: Sendable, Hashable {
    /// Stored upstream.
    case acknowledged
    /// Refused for good (malformed for this receiver); the rows are skipped and counted.
    case rejected(String)
}

/// Why a send did not reach the receiver.
public enum UplinkSinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The receiver answered with a status that means "retry" (5xx, 429, 401/403 until fixed ...).
    case status(Int, String)
    /// Not connected (MQTT) or the connection failed.
    case notConnected(String)
    /// No acknowledgement within the timeout.
    case timeout
    /// The MQTT broker answered the PUBLISH with a PUBACK carrying an error reason code (0x80 or above).
    case refused(reasonCode: Int)
    /// The batch could not be encoded (a damaged outbox row).
    case encoding(String)

    /// The message.
    public var description: String {
        switch self {
        case .status(let code, let text): "HTTP \(code): \(text)"
        case .notConnected(let s): "not connected: \(s)"
        case .timeout: "no acknowledgement within the timeout"
        case .refused(let code): "the broker refused the publish (PUBACK reason code 0x\(String(code, radix: 16)))"
        case .encoding(let s): "encoding failed: \(s)"
        }
    }
}

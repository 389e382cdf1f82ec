/// The unit that crosses from a transport's decode task into the pipeline: many messages' worth of output.
public struct SampleBatch: Sendable {
    /// Decoded readings.
    public var samples: [Sample]
    /// Device status updates, at most one per message.
    public var statuses: [DeviceStatus]
    /// Messages that failed, to be stored as dead letters.
    public var deadLetters: [DeadLetter]
    /// How many raw messages produced this batch.
    public var messageCount: Int

    /// Creates an empty batch with room reserved.
    public init(reservingCapacity capacity: Int = 0) {
        samples = []
        samples.reserveCapacity(capacity)
        statuses = []
        deadLetters = []
        messageCount = 0
    }

    /// True when the batch carries nothing.
    public var isEmpty: Bool { samples.isEmpty && statuses.isEmpty && deadLetters.isEmpty && messageCount == 0 }
}

/// Something that takes decoded batches: the pipeline's fan-out point (store, alerts, rollups, registry).
///
/// Implementations must not block the caller for long: they copy what they need and return, applying
/// back-pressure by suspending only when their own bounded buffer is full.
public protocol SampleSink: Sendable {
    /// Accepts one batch. Throws only when the sink can no longer accept anything (disk full, closed).
    func accept(_ batch: SampleBatch) async throws
}

/// Something that turns a raw message into samples: the profile registry, seen from a transport.
public protocol MessageDecoder: Sendable {
    /// Decodes one message into `batch`, appending samples and a status on success, or a dead letter on failure.
    /// Never throws: bad input is data.
    func decode(_ message: RawMessage, into batch: inout SampleBatch)
}

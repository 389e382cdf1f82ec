/// Where a transport that acknowledges only after the data is durable (CoAP CON, carrier HTTP push) hands its
/// messages: they are decoded, pass the pipeline (registry, dead letters, store, alerts, rollups) and the call
/// returns once the write-ahead log holds them.
///
/// Transports call it once per batch of messages they have collected, never per message on a hot path, so the
/// wait for the WAL's group commit is shared by everything in flight.
public protocol DurableIngest: Sendable {
    /// Decodes and stores `messages`; returns one outcome per message, in order, after the stored samples are
    /// durable. Never throws: a failure is an outcome the transport turns into its own error reply.
    func ingest(_ messages: [RawMessage]) async -> [IngestOutcome]

    /// Keeps a message the transport itself could not make sense of (an envelope that does not parse, an unknown
    /// push type) as a dead letter, with the raw bytes, so nothing is lost. Returns false if it could not be stored.
    func deadLetter(_ letter: DeadLetter) async -> Bool
}

/// What became of one message handed to `DurableIngest`.
public enum IngestOutcome: Sendable, Hashable {
    /// Decoded into this many samples (0 for a status-only message), all durable.
    case stored(samples: Int)
    /// Refused and kept as a dead letter (durable too): the device or profile is unknown, the payload is malformed.
    case rejected(DeadLetter.Reason, String)
    /// The gateway cannot take data now (store refused the write, shutting down): the sender should retry.
    case unavailable(String)

    /// True when the sender may consider the message delivered (stored or dead-lettered).
    public var isAccepted: Bool {
        switch self {
        case .stored, .rejected: true
        case .unavailable: false
        }
    }
}

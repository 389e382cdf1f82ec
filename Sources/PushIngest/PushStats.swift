import Synchronization

/// A snapshot of a `PushReceiver`'s counters (both platforms together), for tests, a live summary or a status
/// endpoint. The metrics carry the same counts by platform.
public struct PushStats: Sendable, Hashable {
    /// Requests answered, of every kind.
    public var requests: Int
    /// Messages handed to the ingest and accepted (stored or dead-lettered by the decoder), online/offline events
    /// included.
    public var ingested: Int
    /// Items recognised as platform retries of something already delivered, and not stored again.
    public var duplicates: Int
    /// Bodies or messages the receiver itself kept as dead letters (malformed, unknown type, unsupported mode).
    public var deadLetters: Int
    /// Command responses counted and logged.
    public var commandResponses: Int
    /// Requests refused for a wrong or missing signature or token (nothing stored).
    public var authFailures: Int
    /// Requests answered 503 because the data could not be made durable (the platform retries).
    public var unavailable: Int
    /// Requests refused as larger than the body limit.
    public var tooLarge: Int
    /// OneNET URL verifications answered with the echo.
    public var verifications: Int
}

/// The live counters behind `PushStats`.
final class PushCounters: Sendable {
    let requests = Atomic<Int>(0)
    let ingested = Atomic<Int>(0)
    let duplicates = Atomic<Int>(0)
    let deadLetters = Atomic<Int>(0)
    let commandResponses = Atomic<Int>(0)
    let authFailures = Atomic<Int>(0)
    let unavailable = Atomic<Int>(0)
    let tooLarge = Atomic<Int>(0)
    let verifications = Atomic<Int>(0)

    func snapshot() -> PushStats {
        PushStats(
            requests: requests.load(ordering: .relaxed), ingested: ingested.load(ordering: .relaxed),
            duplicates: duplicates.load(ordering: .relaxed), deadLetters: deadLetters.load(ordering: .relaxed),
            commandResponses: commandResponses.load(ordering: .relaxed), authFailures: authFailures.load(ordering: .relaxed),
            unavailable: unavailable.load(ordering: .relaxed), tooLarge: tooLarge.load(ordering: .relaxed),
            verifications: verifications.load(ordering: .relaxed))
    }
}

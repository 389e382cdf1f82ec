/// A message that could not be turned into samples, kept whole so it can be replayed after a profile fix.
public struct DeadLetter: Sendable, Hashable {
    /// Why decoding stopped. A closed set: it is a metric label.
    public enum Reason: String, Sendable, Hashable, CaseIterable, Codable {
        /// No profile matches the topic or route.
        case noProfile = "no_profile"
        /// The payload is larger than the configured limit.
        case oversize
        /// The input stage failed: bad hex, bad base64, bad JSON, bad UTF-8.
        case malformed
        /// A checksum, CRC or framing check failed under a `reject` policy.
        case integrity
        /// The layout did not fit the bytes (truncated, unknown key under `dead-letter`, failed assertion).
        case decode
        /// The message decoded but carried no device identity.
        case unknownDevice = "unknown_device"
        /// The ingest queue was full; the message was accepted by the broker but dropped before decoding.
        case overflow
    }

    /// The original message.
    public var message: RawMessage
    /// Closed-set reason.
    public var reason: Reason
    /// Human-readable error, with the field or offset where it applies.
    public var error: String
    /// The profile that was tried, if any.
    public var profileID: String?
    /// Its version.
    public var profileVersion: Int?

    /// Creates a dead letter.
    public init(message: RawMessage, reason: Reason, error: String, profileID: String? = nil, profileVersion: Int? = nil) {
        self.message = message
        self.reason = reason
        self.error = error
        self.profileID = profileID
        self.profileVersion = profileVersion
    }
}

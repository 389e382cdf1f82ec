import GatewayCore

/// Where a dead letter is in its replay life.
public enum DeadLetterStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// Stored, not replayed yet.
    case new
    /// Replayed successfully (after a profile fix). Evicted first when the store is full.
    case replayed
    /// A replay was tried and failed again; `replayError` says why.
    case failed
}

/// A dead letter as stored: the letter plus its row id and replay state.
public struct StoredDeadLetter: Sendable, Hashable {
    /// Row id: increases with every append and is never reused, so it can be handed to operators.
    public var id: Int64
    /// The message, reason and error as appended.
    public var letter: DeadLetter
    /// Replay state.
    public var status: DeadLetterStatus
    /// Replays tried so far (successful or not).
    public var replayAttempts: Int
    /// When it was replayed successfully (Unix ms).
    public var replayedMs: Int64?
    /// Error from the latest failed replay.
    public var replayError: String?

    /// Creates a stored dead letter.
    public init(
        id: Int64, letter: DeadLetter, status: DeadLetterStatus, replayAttempts: Int = 0, replayedMs: Int64? = nil,
        replayError: String? = nil
    ) {
        self.id = id
        self.letter = letter
        self.status = status
        self.replayAttempts = replayAttempts
        self.replayedMs = replayedMs
        self.replayError = replayError
    }
}

/// What one `DeadLetterStore.append` did.
public struct DeadLetterAppendResult: Sendable, Hashable {
    /// Ids given to the appended letters, in order.
    public var ids: [Int64]
    /// Rows deleted to stay within `maxRows` (oldest replayed first, then oldest). Count it: this is data loss.
    public var evicted: Int

    /// Creates a result.
    public init(ids: [Int64], evicted: Int) {
        self.ids = ids
        self.evicted = evicted
    }
}

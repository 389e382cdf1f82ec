import Dispatch

/// A dedicated serial thread for the outbox's blocking SQLite work, so the cooperative pool never waits on the
/// disk. (A serial dispatch queue: its thread is not one of Swift concurrency's.)
public struct OutboxExecutor: Sendable {
    private let queue: DispatchQueue

    /// Creates an executor with its own queue.
    public init(label: String = "citygate.outbox") {
        queue = DispatchQueue(label: label, qos: .utility)
    }

    /// Runs `body` on the executor's thread and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

import Synchronization

/// A bounded multi-producer, single-consumer queue that hands elements over in batches.
///
/// Producers are C callback threads and NIO event loops: `offer` never blocks and never suspends; when the queue
/// is full the element is refused and counted, so loss is visible (`droppedCount`), never silent. The consumer is
/// one task that takes everything waiting at once (`next(maxCount:)`), so the isolation hop happens once per
/// batch rather than once per message.
public final class IngestQueue<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state: Mutex<State>
    private let dropped = Atomic<Int>(0)
    private let offered = Atomic<Int>(0)
    /// Most elements held at once.
    public let capacity: Int

    /// Creates a queue that holds at most `capacity` elements.
    public init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
        self.state = Mutex(State())
    }

    /// Elements refused because the queue was full (or finished).
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }
    /// Elements accepted so far.
    public var acceptedCount: Int { offered.load(ordering: .relaxed) }
    /// Elements waiting now.
    public var depth: Int { state.withLock { $0.buffer.count } }

    /// Adds an element without blocking. Returns false, and counts a drop, when the queue is full or finished.
    @discardableResult
    public func offer(_ element: sending Element) -> Bool {
        let (accepted, waiter): (Bool, CheckedContinuation<Void, Never>?) = state.withLock { s in
            if s.finished || s.buffer.count >= capacity { return (false, nil) }
            s.buffer.append(element)
            let w = s.waiter
            s.waiter = nil
            return (true, w)
        }
        if accepted {
            offered.add(1, ordering: .relaxed)
        } else {
            dropped.add(1, ordering: .relaxed)
        }
        waiter?.resume()
        return accepted
    }

    /// Ends the queue: the consumer gets what is buffered, then `nil`.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Takes up to `maxCount` elements, waiting until at least one is there. Returns nil once finished and empty.
    /// Only one task may consume.
    public func next(maxCount: Int = .max) async -> [Element]? {
        while true {
            if let batch = takeNow(maxCount: maxCount) { return batch }
            if state.withLock({ $0.finished && $0.buffer.isEmpty }) { return nil }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.buffer.isEmpty || s.finished { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    /// Takes up to `maxCount` elements if any are there, without waiting.
    public func takeNow(maxCount: Int = .max) -> [Element]? {
        state.withLock { s -> [Element]? in
            if s.buffer.isEmpty { return nil }
            if s.buffer.count <= maxCount {
                // Hand the whole buffer over; the next producer starts a fresh array sized to this burst.
                var out: [Element] = []
                out.reserveCapacity(s.buffer.count)
                swap(&out, &s.buffer)
                return out
            }
            let out = Array(s.buffer.prefix(maxCount))
            s.buffer.removeFirst(maxCount)
            return out
        }
    }
}

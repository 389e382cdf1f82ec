import Synchronization

/// A thread-safe list that callbacks append to and tests read: messages from a network thread, batches from a
/// sink, events from a stream.
public final class Collector<Element: Sendable>: Sendable {
    private let storage = Mutex<[Element]>([])

    /// Creates an empty collector.
    public init() {}

    /// Appends one element.
    public func append(_ element: Element) {
        storage.withLock { $0.append(element) }
    }

    /// Appends several elements.
    public func append(contentsOf elements: [Element]) {
        storage.withLock { $0.append(contentsOf: elements) }
    }

    /// A copy of everything collected so far.
    public var items: [Element] { storage.withLock { $0 } }

    /// How many elements have been collected.
    public var count: Int { storage.withLock { $0.count } }

    /// Removes everything.
    public func removeAll() {
        storage.withLock { $0.removeAll() }
    }
}

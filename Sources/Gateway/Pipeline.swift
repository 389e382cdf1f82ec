import Catalog
import GatewayCore
import Logging
import Metrics
import Synchronization

/// Where every transport's decoded batches land: it feeds the device registry, stores dead letters, counts, and
/// fans samples out to the downstream stages (store, alerts, rollups) as they are added.
///
/// Transports call `accept` from their own decode task, once per batch. The registry update is in memory; the
/// dead-letter write is one SQLite transaction per batch, so a burst of bad payloads costs one insert per letter
/// in bulk and never holds good samples back by more than that batch.
public final class Pipeline: SampleSink, Sendable {
    private let registry: DeviceRegistry
    private let deadLetters: DeadLetterStore
    private let downstream: [any SampleSink]
    private let logger: Logger
    private let counters = PipelineCounters()
    private let sampleCounter = Counter(label: "gateway_pipeline_samples_total")
    private let messageCounter = Counter(label: "gateway_pipeline_messages_total")
    private let deadLetterCounters: [DeadLetter.Reason: Counter]
    private let deadLetterWriteFailures = Counter(label: "gateway_deadletter_write_failures_total")
    private let sinkFailures = Counter(label: "gateway_pipeline_stage_failures_total")
    private let onStateChanges: (@Sendable ([DeviceStateChange]) -> Void)?

    /// Creates a pipeline over a registry and dead-letter store, forwarding samples to `downstream`.
    /// `onStateChanges` hears devices coming back online (the uplink forwards them).
    public init(registry: DeviceRegistry, deadLetters: DeadLetterStore, downstream: [any SampleSink] = [], logger: Logger,
                onStateChanges: (@Sendable ([DeviceStateChange]) -> Void)? = nil) {
        self.onStateChanges = onStateChanges
        self.registry = registry
        self.deadLetters = deadLetters
        self.downstream = downstream
        self.logger = logger
        var c: [DeadLetter.Reason: Counter] = [:]
        for reason in DeadLetter.Reason.allCases {
            c[reason] = Counter(label: "gateway_decode_errors_total", dimensions: [("reason", reason.rawValue)])
        }
        self.deadLetterCounters = c
    }

    /// Totals since start, for the live summary and status commands.
    public var stats: PipelineStats { counters.snapshot() }

    /// Takes one batch: registry, dead letters, then downstream sinks.
    public func accept(_ batch: SampleBatch) async throws {
        _ = await process(batch)
    }

    /// Takes one batch like `accept`, and says which downstream stages refused it (by index in `downstream`), so a
    /// transport that acknowledges after storage can refuse in turn.
    @discardableResult
    public func process(_ batch: SampleBatch) async -> [Int] {
        var failed: [Int] = []
        counters.messages.add(batch.messageCount, ordering: .relaxed)
        counters.samples.add(batch.samples.count, ordering: .relaxed)
        messageCounter.increment(by: Int64(batch.messageCount))
        sampleCounter.increment(by: Int64(batch.samples.count))
        if !batch.statuses.isEmpty {
            let changes = registry.apply(batch.statuses)
            for change in changes {
                logger.debug("Device back online", metadata: ["device.id": "\(change.device)"])
            }
            if !changes.isEmpty { onStateChanges?(changes) }
        }
        if !batch.deadLetters.isEmpty { storeDeadLetters(batch.deadLetters) }
        if !downstream.isEmpty, !batch.samples.isEmpty {
            for (index, sink) in downstream.enumerated() {
                // A failing stage (the store's disk full) must not stop ingest or the other stages: count it, log it.
                do {
                    try await sink.accept(batch)
                } catch {
                    failed.append(index)
                    sinkFailures.increment(by: Int64(batch.samples.count))
                    counters.sinkFailures.add(batch.samples.count, ordering: .relaxed)
                    logger.error("A pipeline stage refused a batch", metadata: ["stage": "\(type(of: sink))", "samples": "\(batch.samples.count)", "error": "\(error)"])
                }
            }
        }
        return failed
    }
}

extension Pipeline {
    /// Counts and stores dead letters; false when the catalog could not take them (they are counted as write
    /// failures and logged).
    @discardableResult
    public func storeDeadLetters(_ letters: [DeadLetter]) -> Bool {
        for letter in letters {
            deadLetterCounters[letter.reason]?.increment()
            counters.count(reason: letter.reason)
            logger.trace("Payload rejected", metadata: ["mqtt.topic": "\(letter.message.topic)", "reason": "\(letter.reason.rawValue)", "error": "\(letter.error)"])
        }
        do {
            let result = try deadLetters.append(letters)
            if result.evicted > 0 { counters.deadLettersEvicted.add(result.evicted, ordering: .relaxed) }
            return true
        } catch {
            // The catalog is unwritable (disk full?): count it loudly; the samples still go on.
            deadLetterWriteFailures.increment(by: Int64(letters.count))
            counters.deadLetterWriteFailures.add(letters.count, ordering: .relaxed)
            logger.error("Dead letters could not be stored", metadata: ["count": "\(letters.count)", "error": "\(error)"])
            return false
        }
    }
}

/// A snapshot of the pipeline's totals.
public struct PipelineStats: Sendable, Hashable {
    /// Raw messages seen.
    public var messages: Int
    /// Samples produced.
    public var samples: Int
    /// Dead letters by reason.
    public var deadLetters: [DeadLetter.Reason: Int]
    /// Dead letters evicted by the retention bound.
    public var deadLettersEvicted: Int
    /// Dead letters that could not be written.
    public var deadLetterWriteFailures: Int
    /// Samples a downstream stage (store, alerts) refused.
    public var stageFailures: Int

    /// All dead letters.
    public var deadLetterTotal: Int { deadLetters.values.reduce(0, +) }
}

final class PipelineCounters: Sendable {
    let messages = Atomic<Int>(0)
    let samples = Atomic<Int>(0)
    let deadLettersEvicted = Atomic<Int>(0)
    let deadLetterWriteFailures = Atomic<Int>(0)
    let sinkFailures = Atomic<Int>(0)
    private let byReason = Mutex<[DeadLetter.Reason: Int]>([:])

    func count(reason: DeadLetter.Reason) {
        byReason.withLock { $0[reason, default: 0] += 1 }
    }

    func snapshot() -> PipelineStats {
        PipelineStats(
            messages: messages.load(ordering: .relaxed), samples: samples.load(ordering: .relaxed), deadLetters: byReason.withLock { $0 },
            deadLettersEvicted: deadLettersEvicted.load(ordering: .relaxed), deadLetterWriteFailures: deadLetterWriteFailures.load(ordering: .relaxed),
            stageFailures: sinkFailures.load(ordering: .relaxed))
    }
}

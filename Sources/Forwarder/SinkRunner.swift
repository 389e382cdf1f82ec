import GatewayCore
import Logging
import Metrics
import Synchronization

/// Drives one sink: takes the next batch from the outbox, sends it, and moves the cursor only after the receiver
/// acknowledged; backs off on failure. One per sink, each with its own cursor, so a dead receiver never holds up
/// another.
struct SinkRunner: Sendable {
    let sink: any UplinkSink
    let outbox: Outbox
    let executor: OutboxExecutor
    let batchPoints: Int
    let backoff: Backoff
    let idlePoll: Duration
    let counters: SinkCounters
    let logger: Logger

    /// Sends until the task is cancelled.
    ///
    /// While a batch is on the wire the next one is read and prepared (rendered, compressed) in a child task, so
    /// the CPU work overlaps the receiver's; it is sent only if it is still what the outbox would choose after the
    /// acknowledgement (`Outbox.claim`).
    func run() async {
        var attempt = 0
        let name = sink.name
        let limit = batchPoints
        let outbox = self.outbox
        let executor = self.executor
        let sink = self.sink
        var ahead: PreparedBatch?
        while !Task.isCancelled {
            let prepared: PreparedBatch
            do {
                if let next = ahead, try await executor.run({ try outbox.claim(next.batch) }) {
                    prepared = next
                } else if let batch = try await executor.run({ try outbox.nextBatch(sink: name, maxPoints: limit) }) {
                    prepared = try await sink.prepare(batch)
                } else {
                    ahead = nil
                    try? await Task.sleep(for: idlePoll)
                    continue
                }
            } catch {
                ahead = nil
                counters.failed()
                logger.info("Uplink batch could not be read or encoded", metadata: ["uplink.sink": "\(name)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.delay(attempt: attempt))
                attempt += 1
                continue
            }
            ahead = nil
            let batch = prepared.batch
            async let following: PreparedBatch? = {
                guard let next = try? await executor.run({ try outbox.peekBatch(after: batch, maxPoints: limit) }) else { return nil }
                return try? await sink.prepare(next)
            }()
            do {
                let outcome = try await sink.send(prepared)
                try await executor.run { try outbox.ack(batch) }
                switch outcome {
                case .acknowledged:
                    counters.sent(points: batch.points, bytes: batch.bytes)
                case .rejected(let reason):
                    counters.rejected(points: batch.points)
                    logger.info("Receiver rejected a batch", metadata: ["uplink.sink": "\(name)", "uplink.seq": "\(batch.seq)",
                                                                       "uplink.points": "\(batch.points)", "reason": "\(reason)"])
                }
                if attempt > 0 {
                    logger.info("Uplink delivering again", metadata: ["uplink.sink": "\(name)", "uplink.failures": "\(attempt)"])
                }
                attempt = 0
                ahead = await following
            } catch {
                _ = await following
                if Task.isCancelled { return }
                counters.failed()
                if attempt == 0 || attempt % 10 == 0 {
                    logger.info("Uplink send failed", metadata: ["uplink.sink": "\(name)", "uplink.seq": "\(batch.seq)", "error": "\(error)",
                                                                "uplink.attempt": "\(attempt)"])
                }
                try? await Task.sleep(for: backoff.delay(attempt: attempt))
                attempt += 1
            }
        }
    }
}

/// Counters of one sink: metrics plus an in-memory copy for status displays and rates.
final class SinkCounters: Sendable {
    let name: String
    private let sentPoints: Counter
    private let sentBatches: Counter
    private let sentBytes: Counter
    private let failures: Counter
    private let rejectedPoints: Counter
    let sentPointsTotal = Atomic<Int>(0)
    let failuresTotal = Atomic<Int>(0)
    let rejectedTotal = Atomic<Int>(0)
    let lastSuccessNs = Atomic<UInt64>(0)

    init(name: String) {
        self.name = name
        let d = [("sink", name)]
        sentPoints = Counter(label: "gateway_uplink_sent_points_total", dimensions: d)
        sentBatches = Counter(label: "gateway_uplink_sent_batches_total", dimensions: d)
        sentBytes = Counter(label: "gateway_uplink_sent_bytes_total", dimensions: d)
        failures = Counter(label: "gateway_uplink_send_failures_total", dimensions: d)
        rejectedPoints = Counter(label: "gateway_uplink_rejected_points_total", dimensions: d)
    }

    func sent(points: Int, bytes: Int) {
        sentPoints.increment(by: Int64(points))
        sentBatches.increment()
        sentBytes.increment(by: Int64(bytes))
        sentPointsTotal.add(points, ordering: .relaxed)
        lastSuccessNs.store(MonotonicClock.nowNs(), ordering: .relaxed)
    }

    func rejected(points: Int) {
        rejectedPoints.increment(by: Int64(points))
        rejectedTotal.add(points, ordering: .relaxed)
    }

    func failed() {
        failures.increment()
        failuresTotal.add(1, ordering: .relaxed)
    }
}

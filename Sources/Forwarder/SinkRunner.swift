import GatewayCore
import Logging
import Metrics
import Synchronization

/// Drives one sink: takes batches from the outbox, sends them, and moves the cursor only after the receiver
/// acknowledged; backs off on failure. One per sink, each with its own cursor, so a dead receiver never holds up
/// another.
///
/// Up to `maxInFlight` batches are on the wire at once, each prepared (rendered, compressed) in its own child task,
/// so the CPU work of one overlaps the others' round trips and the receiver always has a request to work on. The
/// outbox records each batch in flight before it is sent and moves the cursor only over a contiguous acknowledged
/// prefix of a stream (`Outbox.ack`), so an acknowledgement that overtakes an earlier batch never skips it.
struct SinkRunner: Sendable {
    let sink: any UplinkSink
    let outbox: Outbox
    let executor: OutboxExecutor
    let batchPoints: Int
    let maxInFlight: Int
    let backoff: Backoff
    let idlePoll: Duration
    let counters: SinkCounters
    let logger: Logger

    /// One request's end.
    private struct Completion: Sendable {
        var batch: OutboxBatch
        var result: Result<SinkOutcome, any Error>
    }

    /// Sends until the task is cancelled.
    ///
    /// On a failure no new batch goes out: the requests still on the wire finish (their acknowledgements count),
    /// the runner waits out the backoff, then sends the failed batch again (same rows, same sequence number) before
    /// anything new.
    func run() async {
        let name = sink.name
        let limit = batchPoints
        let outbox = self.outbox
        let executor = self.executor
        let sink = self.sink
        let window = max(1, maxInFlight)
        await withTaskGroup(of: Completion.self) { group in
            var onWire: Set<Int64> = []
            var attempt = 0
            while !Task.isCancelled {
                var readFailed = false
                while onWire.count < window {
                    let excluding = onWire
                    let batch: OutboxBatch?
                    do {
                        batch = try await executor.run { try outbox.nextBatch(sink: name, maxPoints: limit, excluding: excluding) }
                    } catch {
                        counters.failed()
                        logger.info("Uplink batch could not be read", metadata: ["uplink.sink": "\(name)", "error": "\(error)"])
                        readFailed = true
                        break
                    }
                    guard let batch else { break }
                    onWire.insert(batch.seq)
                    group.addTask {
                        do {
                            let prepared = try await sink.prepare(batch)
                            return Completion(batch: batch, result: .success(try await sink.send(prepared)))
                        } catch {
                            return Completion(batch: batch, result: .failure(error))
                        }
                    }
                }
                if onWire.isEmpty {
                    if readFailed {
                        try? await Task.sleep(for: backoff.delay(attempt: attempt))
                        attempt += 1
                    } else {
                        try? await Task.sleep(for: idlePoll)
                    }
                    continue
                }
                guard let done = await group.next() else { continue }
                onWire.remove(done.batch.seq)
                if await settle(done, attempt: attempt) {
                    if attempt > 0 {
                        logger.info("Uplink delivering again", metadata: ["uplink.sink": "\(name)", "uplink.failures": "\(attempt)"])
                    }
                    attempt = 0
                    continue
                }
                while let other = await group.next() {
                    onWire.remove(other.batch.seq)
                    _ = await settle(other, attempt: attempt)
                }
                if Task.isCancelled { break }
                try? await Task.sleep(for: backoff.delay(attempt: attempt))
                attempt += 1
            }
            group.cancelAll()
        }
    }

    /// Records one request's outcome: the acknowledgement in the outbox and the counters. False if the batch was
    /// not delivered (it stays in flight and is sent again).
    private func settle(_ done: Completion, attempt: Int) async -> Bool {
        let batch = done.batch
        let name = sink.name
        let outbox = self.outbox
        do {
            let outcome = try done.result.get()
            try await executor.run { try outbox.ack(batch) }
            switch outcome {
            case .acknowledged:
                counters.sent(points: batch.points, bytes: batch.bytes)
            case .rejected(let reason):
                counters.rejected(points: batch.points)
                logger.info("Receiver rejected a batch", metadata: ["uplink.sink": "\(name)", "uplink.seq": "\(batch.seq)",
                                                                   "uplink.points": "\(batch.points)", "reason": "\(reason)"])
            }
            return true
        } catch {
            if Task.isCancelled { return false }
            counters.failed()
            if attempt == 0 || attempt % 10 == 0 {
                logger.info("Uplink send failed", metadata: ["uplink.sink": "\(name)", "uplink.seq": "\(batch.seq)", "error": "\(error)",
                                                            "uplink.attempt": "\(attempt)"])
            }
            return false
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

import Foundation
import GatewayCore
import GatewayTesting
import Logging
import Synchronization
import Testing
@testable import Forwarder

/// A sink that fails on command and records what it was sent.
final class FakeSink: UplinkSink {
    let name: String
    let failuresLeft: Atomic<Int>
    let rejectSeq: Int64?
    let received = Mutex<[OutboxBatch]>([])

    init(name: String, failFirst: Int = 0, rejectSeq: Int64? = nil) {
        self.name = name
        self.failuresLeft = Atomic(failFirst)
        self.rejectSeq = rejectSeq
    }

    func send(_ batch: OutboxBatch) async throws -> SinkOutcome {
        received.withLock { $0.append(batch) }
        if failuresLeft.load(ordering: .relaxed) > 0 {
            failuresLeft.subtract(1, ordering: .relaxed)
            throw UplinkSinkError.status(503, "down")
        }
        return batch.seq == rejectSeq ? .rejected("bad") : .acknowledged
    }

    func shutdown() async {}

    var batches: [OutboxBatch] { received.withLock { $0 } }
}

func quietLogger() -> Logger {
    var l = Logger(label: "forwarder.test")
    l.logLevel = .critical
    return l
}

/// Retries with backoff, cursors only after acknowledgement, several sinks each on their own.
struct SinkRunnerTests {
    @Test func backoffDoublesToItsCapWithJitterBelowTheBase() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 0.5)
        #expect(b.delay(attempt: 0, unitRandom: 0) == .milliseconds(100))
        #expect(b.delay(attempt: 3, unitRandom: 0) == .milliseconds(800))
        #expect(b.delay(attempt: 4, unitRandom: 0) == .seconds(1))
        #expect(b.delay(attempt: 50, unitRandom: 0) == .seconds(1))
        #expect(b.delay(attempt: 4, unitRandom: 0.999_999) > .milliseconds(499))
        #expect(b.delay(attempt: 4, unitRandom: 0.999_999) <= .milliseconds(501))
        for attempt in 0..<10 {
            let d = b.delay(attempt: attempt)
            #expect(d >= .milliseconds(50) && d <= .seconds(1))
        }
    }

    @Test func failingSinkGetsEveryBatchAgainInOrderAndTheOtherSinkIsNotHeldUp() async throws {
        let dir = try TemporaryDirectory(prefix: "runner")
        let config = ForwarderConfiguration(
            gatewayID: "g", outboxPath: dir.file("o.db"), windows: [RollupWindow(sizeMs: 1_000, latenessMs: 0)], rowPoints: 5, flushInterval: .milliseconds(20),
            backlogAlertAgeMs: nil, statusInterval: .milliseconds(50),
            sinks: [.init(kind: .http(.init(name: "flaky", url: "http://127.0.0.1:1/write", gateway: "g")), batchPoints: 7,
                          backoff: Backoff(initial: .milliseconds(1), maximum: .milliseconds(5))),
                    .init(kind: .http(.init(name: "steady", url: "http://127.0.0.1:1/write", gateway: "g")), batchPoints: 100)])
        let flaky = FakeSink(name: "flaky", failFirst: 4, rejectSeq: 2)
        let steady = FakeSink(name: "steady")
        let service = try ForwarderService(configuration: config, sinks: [flaky, steady], logger: quietLogger())
        let base: Int64 = 1_767_225_600_000
        // 20 devices × 10 closed one-second windows (the 11th stays open: a monotonic mark in the future keeps idle
        // time from closing it while the test runs).
        for second in 0...10 {
            service.stage.add((0..<20).map { Sample(device: "d\($0)", metric: "m", deviceTimeMs: base + Int64(second) * 1_000, receiveTimeMs: base + Int64(second) * 1_000,
                                                   value: Double(second)) }, monotonicNs: .max)
        }
        service.enqueue(.alert(alertID: "a", rule: "r", device: "d0", severity: "critical", state: "firing", value: 1, timeMs: base))
        try await service.flush()
        let task = Task { try await service.run() }
        let done = await waitUntil(timeout: .seconds(20)) {
            !flaky.batches.isEmpty && (try? service.outbox.status(nowMs: 0).sinks.allSatisfy { $0.backlogPoints == 0 }) == true
        }
        #expect(done)
        task.cancel()
        _ = try? await task.value

        // Every attempt of the flaky sink is the same batch until it goes through; sequence numbers never skip.
        let seqs = flaky.batches.map(\.seq)
        #expect(seqs.prefix(5) == [1, 1, 1, 1, 1])
        #expect(Array(Set(seqs)).sorted() == Array(1...Int64(Set(seqs).count)))
        #expect(flaky.batches.first?.stream == .alerts)
        let delivered = Set(flaky.batches.filter { $0.stream.isRollup }.flatMap { b in
            b.rows.flatMap { OutboxCodec.decodeRollups($0.body, windowMs: 1_000)!.map { "\($0.device)@\($0.startMs)" } }
        })
        #expect(delivered.count == 200)
        let steadyPoints = steady.batches.filter { $0.stream.isRollup }.reduce(0) { $0 + $1.points }
        #expect(steadyPoints == 200, "the steady sink got everything once")
        let counters = Dictionary(uniqueKeysWithValues: service.sinkCounters.map { ($0.sink, $0) })
        #expect(counters["flaky"]?.failures == 4)
        #expect(counters["flaky"]?.rejectedPoints ?? 0 > 0, "the rejected batch is counted and skipped")
        #expect(counters["steady"]?.failures == 0)
    }
}

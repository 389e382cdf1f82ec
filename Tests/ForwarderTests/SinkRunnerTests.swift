import Foundation
import GatewayCore
import GatewayTesting
import Logging
import Mosquitto
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
                          backoff: Backoff(initial: .milliseconds(1), maximum: .milliseconds(5)), maxInFlight: 1),
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
        let done = await waitUntil(timeout: .seconds(180)) {  // a failure bound: the suite's start loads both cores
            !flaky.batches.isEmpty && (try? service.outbox.status(nowMs: 0).sinks.allSatisfy { $0.backlogPoints == 0 }) == true
        }
        #expect(done)
        task.cancel()
        _ = try? await task.value

        // One batch in flight: every attempt of the flaky sink is the same batch until it goes through; sequence
        // numbers never skip.
        let seqs = flaky.batches.map(\.seq)
        #expect(seqs.prefix(5) == [1, 1, 1, 1, 1])
        #expect(Array(Set(seqs)).sorted() == Array(stride(from: Int64(1), through: Int64(Set(seqs).count), by: 1)))
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

/// A receiver whose answer to each attempt the test scripts; it sees the outbox, so a script can hold an answer
/// until the runner has done something else.
final class ScriptedSink: UplinkSink {
    let name: String
    let outboxBox = Mutex<Outbox?>(nil)
    let attempts = Mutex<[Int64: Int]>([:])
    let received = Mutex<[OutboxBatch]>([])
    let script: @Sendable (_ sink: ScriptedSink, _ batch: OutboxBatch, _ attempt: Int) async throws -> SinkOutcome

    init(name: String, script: @escaping @Sendable (_ sink: ScriptedSink, _ batch: OutboxBatch, _ attempt: Int) async throws -> SinkOutcome) {
        self.name = name
        self.script = script
    }

    var outbox: Outbox { outboxBox.withLock { $0! } }

    func send(_ batch: OutboxBatch) async throws -> SinkOutcome {
        let attempt = attempts.withLock { a -> Int in
            a[batch.seq, default: 0] += 1
            return a[batch.seq]!
        }
        received.withLock { $0.append(batch) }
        return try await script(self, batch, attempt)
    }

    func shutdown() async {}

    var batches: [OutboxBatch] { received.withLock { $0 } }

    /// True once the outbox holds `seq` as acknowledged while an earlier batch is still out.
    func acknowledgedAhead(_ seq: Int64) -> Bool {
        outbox.inFlight(sink: name).contains { $0.seq == seq && $0.acknowledged }
    }

    func cursor() throws -> Int64? {
        try outbox.status(nowMs: 0).sinks.first { $0.name == name }?.cursors[.rollups(windowMs: 60_000)]
    }
}

/// Several requests on the wire: acknowledgements out of order, a failure between two successes.
struct InFlightRunnerTests {
    static let points = (0..<40).map { point("d\($0)", start: 0) }

    func service(_ sink: ScriptedSink, maxInFlight: Int, dir: TemporaryDirectory) throws -> ForwarderService {
        let config = ForwarderConfiguration(
            gatewayID: "g", outboxPath: dir.file("o.db"), windows: [RollupWindow(sizeMs: 60_000, latenessMs: 0)], rowPoints: 5,
            flushInterval: .milliseconds(20), backlogAlertAgeMs: nil, statusInterval: .milliseconds(50),
            sinks: [.init(kind: .http(.init(name: sink.name, url: "http://127.0.0.1:1/write", gateway: "g")), batchPoints: 5,
                          backoff: Backoff(initial: .milliseconds(1), maximum: .milliseconds(5)), maxInFlight: maxInFlight)])
        let service = try ForwarderService(configuration: config, sinks: [sink], logger: quietLogger())
        sink.outboxBox.withLock { $0 = service.outbox }
        _ = try service.outbox.commit(points: Self.points, nowMs: 1)
        return service
    }

    func drain(_ service: ForwarderService) async throws -> Bool {
        let task = Task { try await service.run() }
        let done = await waitUntil(timeout: .seconds(180)) {
            (try? service.outbox.status(nowMs: 0).sinks.allSatisfy { $0.backlogPoints == 0 && $0.inFlight.isEmpty }) == true
        }
        task.cancel()
        _ = try? await task.value
        return done
    }

    @Test func anAcknowledgementThatOvertakesAnEarlierBatchDoesNotMoveTheCursorPastIt() async throws {
        let dir = try TemporaryDirectory(prefix: "inflight")
        let observed = Mutex<(overtaken: Bool, cursor: Int64?)?>(nil)
        let sink = ScriptedSink(name: "vm") { sink, batch, attempt in
            if batch.seq == 1 {
                // Answer the first request only after the second was acknowledged.
                let overtaken = await waitUntil(timeout: .seconds(20)) { sink.acknowledgedAhead(2) }
                let cursor = try sink.cursor()
                observed.withLock { $0 = (overtaken, cursor) }
            }
            return .acknowledged
        }
        let service = try service(sink, maxInFlight: 2, dir: dir)
        #expect(try await drain(service))

        let seen = try #require(observed.withLock { $0 })
        #expect(seen.overtaken, "the second request was acknowledged while the first was on the wire")
        #expect(seen.cursor == nil, "and the cursor stayed before the first")
        let batches = sink.batches
        #expect(batches.map(\.seq).sorted() == Array(1...8), "every batch once, none resent")
        let status = try service.outbox.status(nowMs: 0).sinks[0]
        #expect(status.cursors[.rollups(windowMs: 60_000)] == batches.flatMap(\.rows).map(\.id).max())
        #expect(status.sentPoints == 40)
        #expect(status.sentBatches == 8)
    }

    @Test func theSecondOfTwoFailsIsResentAndTheCursorWaitsForIt() async throws {
        let dir = try TemporaryDirectory(prefix: "inflight")
        let atRetry = Mutex<(cursor: Int64?, thirdAhead: Bool)?>(nil)
        let sink = ScriptedSink(name: "vm") { sink, batch, attempt in
            guard batch.seq == 2 else { return .acknowledged }
            if attempt == 1 {
                // Fail only once the third (sent when the first came back) was acknowledged ahead of this one.
                _ = await waitUntil(timeout: .seconds(20)) { sink.acknowledgedAhead(3) }
                throw UplinkSinkError.status(503, "busy")
            }
            let snapshot = (try sink.cursor(), sink.acknowledgedAhead(3))
            atRetry.withLock { $0 = snapshot }
            return .acknowledged
        }
        let service = try service(sink, maxInFlight: 2, dir: dir)
        #expect(try await drain(service))

        let batches = sink.batches
        let first = try #require(batches.first { $0.seq == 1 })
        let retry = try #require(atRetry.withLock { $0 })
        #expect(retry.cursor == first.rows.last!.id, "the cursor stopped at the gap the failed request left")
        #expect(retry.thirdAhead, "the third was acknowledged, held until the second is")
        #expect(sink.attempts.withLock { $0[2] } == 2)
        let seconds = batches.filter { $0.seq == 2 }
        #expect(seconds.count == 2 && seconds[0] == seconds[1], "the resend carries the same rows and number")
        let delivered = Set(batches.flatMap { b in b.rows.flatMap { OutboxCodec.decodeRollups($0.body, windowMs: 60_000)!.map(\.device) } })
        #expect(delivered.count == 40)
        let status = try service.outbox.status(nowMs: 0).sinks[0]
        #expect(status.cursors[.rollups(windowMs: 60_000)] == batches.flatMap(\.rows).map(\.id).max())
        #expect(status.sentBatches == 8)
        #expect(service.sinkCounters[0].failures == 1)
    }

    @Test func anMQTTSinkKeepsOneBatchOnTheWire() throws {
        let mqtt = ForwarderConfiguration.Sink(kind: .mqtt(.init(name: "m", gateway: "g", client: MQTTClientConfiguration(clientID: "x"))), maxInFlight: 4)
        #expect(mqtt.maxInFlight == 1)
        let http = ForwarderConfiguration.Sink(kind: .http(.init(name: "h", url: "http://127.0.0.1:1/write", gateway: "g")), maxInFlight: 4)
        #expect(http.maxInFlight == 4)
        #expect(MQTTUplinkSink(configuration: .init(name: "m", gateway: "g", client: MQTTClientConfiguration(clientID: "x"))).sendsOneAtATime)
    }
}

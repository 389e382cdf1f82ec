import Foundation
import GatewayCore
import GatewayTesting
import SQLite
import Testing
@testable import Forwarder

func point(_ device: String, windowMs: Int64 = 60_000, start: Int64, value: Double = 1) -> RollupPoint {
    RollupPoint(device: device, metric: "level", unit: "m", windowMs: windowMs, startMs: start, count: 1, min: value, max: value, sum: value, last: value)
}

/// Ordering, cursors across reopen, the batch in flight, garbage collection and the overflow policy.
struct OutboxTests {
    @Test func sendsByPriorityThenInOrderAndKeepsCursorsAcrossReopen() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let path = dir.file("outbox.db")
        do {
            let outbox = try Outbox(configuration: .init(path: path, rowPoints: 2), sinks: ["a", "b"])
            _ = try outbox.commit(points: (0..<5).map { point("d", start: Int64($0) * 60_000) }, nowMs: 1)
            _ = try outbox.commit(points: [point("d", windowMs: 3_600_000, start: 0)], nowMs: 2)
            _ = try outbox.commit(points: [point("d", windowMs: 300_000, start: 0)], nowMs: 3)
            _ = try outbox.commit(points: [], events: [.alert(alertID: "r1:d", rule: "r1", device: "d", severity: "critical", state: "firing", value: 9, timeMs: 5)], nowMs: 4)
            _ = try outbox.commit(points: [], events: [.status(DeviceStateChange(device: "d", from: .online, to: .offline, atMs: 6))], nowMs: 5)

            var order: [(UplinkStream, [Int64])] = []
            while let batch = try outbox.nextBatch(sink: "a", maxPoints: 3) {
                let starts = batch.rows.flatMap { row in
                    batch.stream.isRollup ? OutboxCodec.decodeRollups(row.body, windowMs: batch.stream.rawValue)!.map(\.startMs) : [Int64(-1)]
                }
                order.append((batch.stream, starts))
                try outbox.ack(batch)
                if order.count == 3 { break }
            }
            #expect(order.map(\.0) == [.alerts, .status, .rollups(windowMs: 3_600_000)])
        }
        // Reopen: sink a continues after what it acknowledged; b (which sent nothing) starts from the beginning.
        let outbox = try Outbox(configuration: .init(path: path, rowPoints: 2), sinks: ["a", "b"])
        var a: [(UplinkStream, [Int64])] = []
        var seqs: [Int64] = []
        while let batch = try outbox.nextBatch(sink: "a", maxPoints: 3) {
            a.append((batch.stream, batch.rows.flatMap { OutboxCodec.decodeRollups($0.body, windowMs: batch.stream.rawValue)!.map(\.startMs) }))
            seqs.append(batch.seq)
            try outbox.ack(batch)
        }
        #expect(a.map(\.0) == [.rollups(windowMs: 300_000), .rollups(windowMs: 60_000), .rollups(windowMs: 60_000)])
        // Rows of 2 points; a batch takes rows until it has at least 3 points (at least one row).
        #expect(a.map(\.1) == [[0], [0, 60_000, 120_000, 180_000], [240_000]])
        #expect(seqs == [4, 5, 6], "sequence numbers continue across the reopen")
        let b = try #require(try outbox.nextBatch(sink: "b", maxPoints: 100))
        #expect(b.stream == .alerts)
        #expect(b.seq == 1)
        let status = try outbox.status(nowMs: 10)
        #expect(status.sinks.first { $0.name == "a" }?.backlogPoints == 0)
        #expect(status.sinks.first { $0.name == "b" }?.backlogPoints == 9)
    }

    @Test func aBatchInFlightIsResentWithTheSameSequenceNumberAfterACrash() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let path = dir.file("outbox.db")
        let first: OutboxBatch
        do {
            let outbox = try Outbox(configuration: .init(path: path, rowPoints: 10), sinks: ["a"])
            _ = try outbox.commit(points: (0..<30).map { point("d\($0)", start: 0) }, nowMs: 1)
            first = try #require(try outbox.nextBatch(sink: "a", maxPoints: 10))
            // No ack: the process dies with the batch on the wire.
        }
        let outbox = try Outbox(configuration: .init(path: path, rowPoints: 10), sinks: ["a"])
        // New rows arrive before the resend; the batch in flight keeps its rows and number.
        _ = try outbox.commit(points: [], events: [.alert(alertID: "x", rule: "r", device: "d", severity: "s", state: "firing", value: 1, timeMs: 1)], nowMs: 2)
        let again = try #require(try outbox.nextBatch(sink: "a", maxPoints: 1_000))
        #expect(again == first)
        try outbox.ack(again)
        let next = try #require(try outbox.nextBatch(sink: "a", maxPoints: 1_000))
        #expect(next.stream == .alerts, "after the resend, priority applies again")
        #expect(next.seq == first.seq + 1)
        let status = try outbox.status(nowMs: 3)
        #expect(status.sinks[0].inFlight.map(\.stream) == [.alerts])
    }

    @Test func rowsEverySinkAcknowledgedAreDeletedUnlessKept() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let outbox = try Outbox(configuration: .init(path: dir.file("o.db"), rowPoints: 1), sinks: ["a", "b"])
        _ = try outbox.commit(points: (0..<4).map { point("d", start: Int64($0) * 60_000) }, nowMs: 1)
        while let batch = try outbox.nextBatch(sink: "a", maxPoints: 1) { try outbox.ack(batch) }
        #expect(try outbox.status(nowMs: 1).rows == 4, "b has not acknowledged anything yet")
        let b = try #require(try outbox.nextBatch(sink: "b", maxPoints: 2))
        try outbox.ack(b)
        #expect(try outbox.status(nowMs: 1).rows == 2)
        #expect(outbox.totalBytes == Int64(try outbox.allRows().reduce(0) { $0 + $1.body.count }))

        // A sink removed from the configuration no longer holds rows back.
        let reopened = try Outbox(configuration: .init(path: dir.file("o.db"), rowPoints: 1), sinks: ["a"])
        _ = try reopened.commit(points: [point("d", start: 999_960_000)], nowMs: 2)
        let a = try #require(try reopened.nextBatch(sink: "a", maxPoints: 10))
        try reopened.ack(a)
        #expect(try reopened.status(nowMs: 2).rows == 0, "what only the removed sink still wanted is gone with it")

        let kept = try TemporaryDirectory(prefix: "outbox")
        let audit = try Outbox(configuration: .init(path: kept.file("o.db"), rowPoints: 1, keepSent: true), sinks: ["a"])
        _ = try audit.commit(points: (0..<3).map { point("d", start: Int64($0) * 60_000) }, nowMs: 1)
        while let batch = try audit.nextBatch(sink: "a", maxPoints: 1) { try audit.ack(batch) }
        #expect(try audit.status(nowMs: 1).rows == 3)
        #expect(try audit.status(nowMs: 1).sinks[0].backlogRows == 0)
    }

    @Test func overflowDropsTheFinestRollupsOldestFirstAndNeverAlerts() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let rowBytes = OutboxCodec.encode([point("device-0000", start: 0)]).count
        // Room for about 14 one-point rows (the alert row counts for two or three).
        let bound = Int64(rowBytes * 14)
        let outbox = try Outbox(configuration: .init(path: dir.file("o.db"), maxBytes: bound, rowPoints: 1), sinks: ["a"])
        _ = try outbox.commit(points: (0..<4).map { point("device-0000", windowMs: 3_600_000, start: Int64($0) * 3_600_000) }, nowMs: 1)
        _ = try outbox.commit(points: (0..<4).map { point("device-0000", windowMs: 300_000, start: Int64($0) * 300_000) }, nowMs: 1)
        let alerts = (0..<3).map { UplinkEvent.alert(alertID: "a\($0)", rule: "r", device: "d", severity: "critical", state: "firing", value: 1, timeMs: Int64($0)) }
        _ = try outbox.commit(points: [], events: alerts, nowMs: 1)
        // 1m rollups beyond the bound: the oldest 1m go first.
        var dropped: [UplinkStream: Int] = [:]
        for i in 0..<6 {
            let r = try outbox.commit(points: [point("device-0000", start: Int64(i) * 60_000)], nowMs: 2)
            for (k, v) in r.dropped { dropped[k, default: 0] += v }
        }
        #expect(outbox.totalBytes <= bound)
        #expect(dropped[.rollups(windowMs: 60_000)] ?? 0 > 0)
        #expect(dropped[.rollups(windowMs: 300_000)] == nil, "5m rollups stay while 1m ones can go")
        var remaining: [UplinkStream: [Int64]] = [:]
        for row in try outbox.allRows() where row.stream.isRollup {
            remaining[row.stream, default: []] += OutboxCodec.decodeRollups(row.body, windowMs: row.stream.rawValue)!.map(\.startMs)
        }
        let ones = remaining[.rollups(windowMs: 60_000)] ?? []
        #expect(ones == ones.sorted())
        #expect(ones.last == 300_000 && (ones.first ?? 0) > 0, "the oldest 1m rollups went, the newest survive")

        // Far over: every rollup and status row can go, alerts never.
        let big = (0..<50).map { UplinkEvent.alert(alertID: "b\($0)", rule: "r", device: "d", severity: "critical", state: "firing", value: 1, timeMs: Int64($0)) }
        let r = try outbox.commit(points: [], events: big, nowMs: 3)
        #expect(r.dropped[.alerts] == nil)
        #expect(r.dropped[.rollups(windowMs: 3_600_000)] == 4, "coarser rollups go only once the finer ones are gone")
        let rows = try outbox.allRows()
        #expect(rows.allSatisfy { $0.stream == .alerts })
        #expect(rows.reduce(0) { $0 + OutboxCodec.decodeEvents($1.body)!.count } == 53)
        let status = try outbox.status(nowMs: 4)
        #expect(status.dropped[.rollups(windowMs: 60_000)] == 6)
        #expect(status.dropped[.rollups(windowMs: 300_000)] == 4)
        #expect(status.dropped[.rollups(windowMs: 3_600_000)] == 4)
    }

    @Test func overflowNeverDropsTheBatchInFlight() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let rowBytes = OutboxCodec.encode([point("device-0000", start: 0)]).count
        let outbox = try Outbox(configuration: .init(path: dir.file("o.db"), maxBytes: Int64(rowBytes * 3), rowPoints: 1), sinks: ["a"])
        _ = try outbox.commit(points: (0..<3).map { point("device-0000", start: Int64($0) * 60_000) }, nowMs: 1)
        let batch = try #require(try outbox.nextBatch(sink: "a", maxPoints: 2))
        _ = try outbox.commit(points: (3..<6).map { point("device-0000", start: Int64($0) * 60_000) }, nowMs: 2)
        let ids = Set(try outbox.allRows().map(\.id))
        #expect(batch.rows.allSatisfy { ids.contains($0.id) })
        try outbox.ack(batch)
    }

    @Test func batchesInFlightMoveTheCursorOnlyOverAContiguousAcknowledgedPrefix() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let path = dir.file("o.db")
        let stream = UplinkStream.rollups(windowMs: 60_000)
        var batches: [OutboxBatch] = []
        do {
            let outbox = try Outbox(configuration: .init(path: path, rowPoints: 10), sinks: ["a"])
            _ = try outbox.commit(points: (0..<40).map { point("d\($0)", start: 0) }, nowMs: 1)
            var onWire: Set<Int64> = []
            for _ in 0..<3 {
                let b = try #require(try outbox.nextBatch(sink: "a", maxPoints: 10, excluding: onWire))
                onWire.insert(b.seq)
                batches.append(b)
            }
            #expect(batches.map(\.seq) == [1, 2, 3])
            #expect(batches[1].rows.first!.id == batches[0].rows.last!.id + 1, "each new batch starts after everything in flight")
            #expect(batches[2].rows.first!.id == batches[1].rows.last!.id + 1)
            #expect(try outbox.nextBatch(sink: "a", maxPoints: 10, excluding: onWire)?.seq == 4, "a fourth when asked")

            // The second and third are acknowledged before the first: the cursor must not pass the gap.
            try outbox.ack(batches[1])
            try outbox.ack(batches[2])
            let status = try outbox.status(nowMs: 2)
            #expect(status.sinks[0].cursors[stream] == nil)
            #expect(status.sinks[0].sentBatches == 0)
            #expect(status.sinks[0].backlogPoints == 40)
            #expect(outbox.inFlight(sink: "a").map(\.acknowledged) == [false, true, true, false])
            #expect(status.sinks[0].inFlight.map(\.seq) == [1, 2, 3, 4], "acknowledged out of order is not yet persisted")
            // A resend after a failure: the first unacknowledged batch not on the wire, same rows, same number.
            #expect(try outbox.nextBatch(sink: "a", maxPoints: 10, excluding: [4]) == batches[0])
            #expect(try outbox.status(nowMs: 2).sinks[0].nextSeq == 5)
            // The process dies here.
        }
        let outbox = try Outbox(configuration: .init(path: path, rowPoints: 10), sinks: ["a"])
        // Everything in flight goes out again, in order, with its number, also what was acknowledged out of order
        // (the receiver overwrites it).
        var replay: [OutboxBatch] = []
        var onWire: Set<Int64> = []
        while let b = try outbox.nextBatch(sink: "a", maxPoints: 10, excluding: onWire), b.seq <= 3 {
            replay.append(b)
            onWire.insert(b.seq)
        }
        #expect(replay == batches)
        try outbox.ack(replay[0])
        #expect(try outbox.status(nowMs: 3).sinks[0].cursors[stream] == batches[0].rows.last!.id)
        try outbox.ack(replay[2])
        #expect(try outbox.status(nowMs: 3).sinks[0].cursors[stream] == batches[0].rows.last!.id, "the second is still out")
        try outbox.ack(replay[1])
        let status = try outbox.status(nowMs: 3)
        #expect(status.sinks[0].cursors[stream] == batches[2].rows.last!.id, "the gap closed: the cursor jumps over all three")
        #expect(status.sinks[0].sentBatches == 3)
        #expect(status.sinks[0].sentPoints == 30)
        #expect(status.sinks[0].inFlight.map(\.seq) == [4])
        #expect(status.rows == 1, "acknowledged rows are deleted")
    }

    @Test func aStreamOfEventsHasOneBatchInFlightAtATime() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let outbox = try Outbox(configuration: .init(path: dir.file("o.db"), rowPoints: 10), sinks: ["a"])
        for i in 0..<2 {
            _ = try outbox.commit(points: [], events: [.alert(alertID: "x\(i)", rule: "r", device: "d", severity: "s", state: "firing", value: 1, timeMs: Int64(i))],
                                  nowMs: 1)
        }
        _ = try outbox.commit(points: [point("d", start: 0)], nowMs: 1)
        let first = try #require(try outbox.nextBatch(sink: "a", maxPoints: 1))
        #expect(first.stream == .alerts)
        let second = try #require(try outbox.nextBatch(sink: "a", maxPoints: 1, excluding: [first.seq]))
        #expect(second.stream == .rollups(windowMs: 60_000), "the second alert row waits for the first")
        #expect(try outbox.nextBatch(sink: "a", maxPoints: 1, excluding: [first.seq, second.seq]) == nil)
        try outbox.ack(first)
        let third = try #require(try outbox.nextBatch(sink: "a", maxPoints: 1, excluding: [second.seq]))
        #expect(third.stream == .alerts)
        #expect(third.rows.first!.id > first.rows.last!.id)
    }

    @Test func aBatchInFlightRecordedByAnOlderOutboxIsResentWithItsNumber() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        let path = dir.file("o.db")
        var ids: [Int64] = []
        do {
            let outbox = try Outbox(configuration: .init(path: path, rowPoints: 1), sinks: ["a"])
            _ = try outbox.commit(points: (0..<4).map { point("d", start: Int64($0) * 60_000) }, nowMs: 1)
            ids = try outbox.allRows().map(\.id)
        }
        // The layout before several batches could be in flight: one batch in `sinks`, numbered `next_seq`.
        let db = try SQLiteConnection(.path(path))
        try db.execute("UPDATE sinks SET next_seq = 7, inflight_stream = 60000, inflight_from = \(ids[0]), inflight_to = \(ids[1]) WHERE sink = 'a'")
        let outbox = try Outbox(configuration: .init(path: path, rowPoints: 1), sinks: ["a"])
        let again = try #require(try outbox.nextBatch(sink: "a", maxPoints: 100))
        #expect(again.seq == 7)
        #expect(again.rows.map(\.id) == Array(ids[0...1]))
        let next = try #require(try outbox.nextBatch(sink: "a", maxPoints: 100, excluding: [7]))
        #expect(next.seq == 8)
        #expect(next.rows.map(\.id) == Array(ids[2...3]))
    }

    @Test func checkpointAndClockSurviveAReopen() throws {
        let dir = try TemporaryDirectory(prefix: "outbox")
        do {
            let outbox = try Outbox(configuration: .init(path: dir.file("o.db")), sinks: ["a"])
            _ = try outbox.commit(points: [], checkpoint: [("d\u{0}m", [1, 2, 3]), ("e\u{0}m", [4])], clockMs: 42, nowMs: 1)
            _ = try outbox.commit(points: [], checkpoint: [("e\u{0}m", nil)], clockMs: 43, nowMs: 1)
        }
        let outbox = try Outbox(configuration: .init(path: dir.file("o.db")), sinks: ["a"])
        let cp = try outbox.loadCheckpoint()
        #expect(cp.clockMs == 43)
        #expect(cp.series == [[1, 2, 3]])
        let status = try Outbox.readStatus(path: dir.file("o.db"), sinks: ["a"], nowMs: 1)
        #expect(status.openSeries == 1)
        #expect(status.clockMs == 43)
    }
}

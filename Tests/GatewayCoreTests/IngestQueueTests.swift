import Foundation
import GatewayCore
import Testing

@Suite struct IngestQueueTests {
    @Test func refusesAndCountsBeyondCapacity() {
        let q = IngestQueue<Int>(capacity: 3)
        #expect((0..<5).map { q.offer($0) } == [true, true, true, false, false])
        #expect(q.depth == 3)
        #expect(q.acceptedCount == 3)
        #expect(q.droppedCount == 2)
    }

    @Test func takesEverythingWaitingInOneBatchUpToTheLimit() async {
        let q = IngestQueue<Int>(capacity: 100)
        for i in 0..<10 { q.offer(i) }
        #expect(await q.next(maxCount: 4) == [0, 1, 2, 3])
        #expect(await q.next() == [4, 5, 6, 7, 8, 9])
        #expect(q.takeNow() == nil)
        #expect(q.offer(10), "capacity frees up once taken")
    }

    @Test func consumerWakesForAProducerOnAnotherThread() async {
        let q = IngestQueue<Int>(capacity: 10_000)
        let total = 5_000
        Thread.detachNewThread {
            for i in 0..<total { q.offer(i) }
            q.finish()
        }
        var received: [Int] = []
        while let batch = await q.next(maxCount: 256) {
            #expect(batch.count <= 256)
            received += batch
        }
        #expect(received == Array(0..<total), "every element, in order, then nil after finish")
    }

    @Test func finishDrainsThenEnds() async {
        let q = IngestQueue<String>(capacity: 4)
        q.offer("a")
        q.finish()
        #expect(!q.offer("b"), "nothing is accepted after finish")
        #expect(q.droppedCount == 1)
        #expect(await q.next() == ["a"])
        #expect(await q.next() == nil)
    }
}

@Suite struct CoreTypesTests {
    @Test func jsonQuotingEscapesWhatRFC8259Requires() {
        #expect(JSONText.quoted("plain") == "\"plain\"")
        #expect(JSONText.quoted("a\"b\\c\nd\u{01}中") == "\"a\\\"b\\\\c\\nd\\u0001中\"")
    }

    @Test func qualityOrdersFromGoodToBad() {
        #expect(max(SampleQuality.good, .uncertain) == .uncertain)
        #expect(max(SampleQuality.bad, .uncertain) == .bad)
        #expect(SampleQuality.uncertain.description == "uncertain")
    }

    @Test func sampleTimeIsDeviceTimeWhenKnown() {
        var s = Sample(device: "d", metric: "m", receiveTimeMs: 2_000, value: 1)
        #expect(s.timeMs == 2_000)
        s.deviceTimeMs = 1_000
        #expect(s.timeMs == 1_000)
    }

    @Test func clocksMove() async throws {
        let m0 = MonotonicClock.nowNs()
        let w0 = WallClock.nowMs()
        try await Task.sleep(for: .milliseconds(20))
        #expect(MonotonicClock.nowNs() - m0 >= 15_000_000)
        #expect(WallClock.nowMs() > 1_700_000_000_000 && w0 > 1_700_000_000_000)
    }
}

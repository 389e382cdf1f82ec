import Testing
@testable import PushIngest

@Suite struct PushDeduplicatorTests {
    let clock = ManualClock()
    func key(_ n: Int) -> PushKey { PushKey(Array("k\(n)".utf8)) }

    @Test func claimCommitDuplicateUntilTheWindowEnds() {
        let d = PushDeduplicator(window: .seconds(600), maxEntries: 10, now: { [clock] in clock.now })
        #expect(d.claim([key(1)]) == [.claimed])
        #expect(d.claim([key(1)]) == [.inFlight])
        d.commit([key(1)])
        #expect(d.claim([key(1)]) == [.duplicate])
        clock.advance(seconds: 599)
        #expect(d.claim([key(1)]) == [.duplicate])
        clock.advance(seconds: 2)
        #expect(d.claim([key(1)]) == [.claimed], "forgotten after the window")
    }

    @Test func releasedKeysCanBeClaimedAgain() {
        let d = PushDeduplicator(window: .seconds(600), maxEntries: 10, now: { [clock] in clock.now })
        #expect(d.claim([key(1), key(2)]) == [.claimed, .claimed])
        d.release([key(1)])
        d.commit([key(2)])
        #expect(d.claim([key(2)]) == [.duplicate])
        clock.advance(seconds: 300)
        #expect(d.claim([key(1)]) == [.claimed], "a failed delivery is forgotten, so the retry is stored")
        d.commit([key(1)])
        // Past the window of the first claim: key 1's stale first position must not evict its newer entry.
        clock.advance(seconds: 301)
        #expect(d.claim([key(3)]) == [.claimed])
        #expect(d.claim([key(1), key(2)]) == [.duplicate, .claimed])
    }

    @Test func capacityBoundsTheEntries() {
        let d = PushDeduplicator(window: .seconds(600), maxEntries: 100, now: { [clock] in clock.now })
        for n in 0..<1_000 {
            _ = d.claim([key(n)])
            d.commit([key(n)])
        }
        #expect(d.count == 100)
        #expect(d.claim([key(999)]) == [.duplicate])
        #expect(d.claim([key(0)]) == [.claimed], "the oldest were evicted")
    }

    @Test func aKeyRepeatedInOneClaimIsInFlight() {
        let d = PushDeduplicator(window: .seconds(1), maxEntries: 10, now: { [clock] in clock.now })
        #expect(d.claim([key(1), key(1)]) == [.claimed, .inFlight])
    }
}

@testable import CoAPIngest
import Testing

/// The per-endpoint state a handler keeps: dedup table, Block1 assembler, rate limiter.
@Suite struct ExchangeStateTests {
    static let a = EndpointKey(low: 0x0A00_0001, port: 1000)
    static let b = EndpointKey(low: 0x0A00_0002, port: 1000)

    @Test func entriesExpireAfterTheirLifetime() {
        var t = ExchangeTable<Int>(capacity: 100, lifetime: .seconds(247))
        let k = ExchangeKey(endpoint: Self.a, messageID: 1)
        t.insert(k, 1, nowNs: 0)
        #expect(t.lookup(k, nowNs: 246_000_000_000) == 1)
        #expect(t.lookup(ExchangeKey(endpoint: Self.b, messageID: 1), nowNs: 0) == nil)
        #expect(t.lookup(k, nowNs: 247_000_000_000) == nil)
        t.expire(nowNs: 248_000_000_000)
        #expect(t.count == 0)
    }

    @Test func aFullTableForgetsTheOldestFirstAndCountsIt() {
        var t = ExchangeTable<Int>(capacity: 3, lifetime: .seconds(100))
        for id in 0..<5 { t.insert(ExchangeKey(endpoint: Self.a, messageID: UInt16(id)), id, nowNs: UInt64(id)) }
        #expect(t.count == 3)
        #expect(t.lookup(ExchangeKey(endpoint: Self.a, messageID: 0), nowNs: 10) == nil)
        #expect(t.lookup(ExchangeKey(endpoint: Self.a, messageID: 4), nowNs: 10) == 4)
        #expect(t.evictedEarly == 2)
        let updated = t.update(ExchangeKey(endpoint: Self.a, messageID: 4), 40)
        #expect(updated)
        #expect(t.lookup(ExchangeKey(endpoint: Self.a, messageID: 4), nowNs: 10) == 40)
    }

    @Test func idleBlockTransfersExpireAndTheTransferCapHolds() {
        var asm = BlockAssembler(maxBodyBytes: 1024, maxTransfers: 1, timeout: .seconds(60))
        let first = BlockAssembler.Key(endpoint: Self.a, request: "x")
        let second = BlockAssembler.Key(endpoint: Self.b, request: "x")
        let block = BlockOption(number: 0, more: true, szx: 0)
        let r1 = asm.add(first, block: block, payload: Array(repeating: 1, count: 16), nowNs: 0)
        #expect(r1 == .needMore)
        let r2 = asm.add(second, block: block, payload: Array(repeating: 1, count: 16), nowNs: 0)
        #expect(r2 == .busy)
        asm.expire(nowNs: 61_000_000_000)
        #expect(asm.openTransfers == 0)
        #expect(asm.expired == 1)
        let r3 = asm.add(second, block: block, payload: Array(repeating: 1, count: 16), nowNs: 61_000_000_000)
        #expect(r3 == .needMore)
    }

    @Test func aDeclaredOffsetBeyondTheCapAllocatesNothing() {
        var asm = BlockAssembler(maxBodyBytes: 1024, maxTransfers: 4, timeout: .seconds(60))
        let far = BlockOption(number: 0xFFFFF, more: true, szx: 6)  // offset ~1 GiB
        let r4 = asm.add(.init(endpoint: Self.a, request: "x"), block: far, payload: Array(repeating: 0, count: 1024), nowNs: 0)
        #expect(r4 == .tooLarge)
        #expect(asm.openTransfers == 0)
    }

    @Test func aRestartedUploadBeginsAgain() {
        var asm = BlockAssembler(maxBodyBytes: 1024, maxTransfers: 4, timeout: .seconds(60))
        let k = BlockAssembler.Key(endpoint: Self.a, request: "x")
        let r5 = asm.add(k, block: .init(number: 0, more: true, szx: 0), payload: Array(repeating: 1, count: 16), nowNs: 0)
        #expect(r5 == .needMore)
        let r6 = asm.add(k, block: .init(number: 0, more: true, szx: 0), payload: Array(repeating: 2, count: 16), nowNs: 0)
        #expect(r6 == .needMore)
        let r7 = asm.add(k, block: .init(number: 1, more: false, szx: 0), payload: [3], nowNs: 0)
        #expect(r7 == .complete(Array(repeating: 2, count: 16) + [3]))
    }

    @Test func theRateLimiterRefillsAndIsOffAtZero() {
        var limiter = EndpointRateLimiter(ratePerSecond: 2, burst: 2)
        let answers = [limiter.allow(Self.a, nowNs: 0), limiter.allow(Self.a, nowNs: 0), limiter.allow(Self.a, nowNs: 0), limiter.allow(Self.b, nowNs: 0),
                       limiter.allow(Self.a, nowNs: 500_000_000)]
        #expect(answers == [true, true, false, true, true])
        limiter.sweep(nowNs: 10_000_000_000)
        #expect(limiter.trackedEndpoints == 0)
        var off = EndpointRateLimiter(ratePerSecond: 0, burst: 1)
        var allowed = 0
        for _ in 0..<1000 where off.allow(Self.a, nowNs: 0) { allowed += 1 }
        #expect(allowed == 1000)
    }
}

import Catalog
import GatewayCore
import Testing

private let t0: Int64 = 1_750_000_000_000

private func letter(
    _ index: Int, reason: DeadLetter.Reason = .decode, transport: Transport = .mqtt, profile: String? = "dragino-ndds75",
    payload: [UInt8]? = nil, attributes: [String: String] = [:]
) -> DeadLetter {
    DeadLetter(
        message: RawMessage(
            transport: transport, topic: "city/nb/dragino/\(index)/up", payload: payload ?? [UInt8(index & 0xFF), 0xFF],
            receiveTimeMs: t0 + Int64(index), attributes: attributes
        ),
        reason: reason, error: "offset \(index): truncated", profileID: profile, profileVersion: profile == nil ? nil : 3
    )
}

@Suite struct DeadLetterStoreTests {
    @Test func appendsTenThousandInOneCall() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        let store = try DeadLetterStore(path: temp.path, logger: testLogger)
        let letters = (0..<10_000).map { letter($0, reason: $0 % 2 == 0 ? .decode : .malformed) }
        let result = try store.append(letters)
        #expect(result.ids.count == 10_000)
        #expect(result.evicted == 0)
        #expect(zip(result.ids, result.ids.dropFirst()).allSatisfy { $0 < $1 })
        #expect(try store.count() == 10_000)
        #expect(try store.count(status: .new) == 10_000)
        #expect(try store.countsByReason() == [.decode: 5_000, .malformed: 5_000])
        let newest = try #require(try store.list(limit: 1).first)
        #expect(newest.id == result.ids.last)
        #expect(newest.letter == letters.last)
    }

    @Test func payloadBytesAndAttributesRoundTripExactly() throws {
        let store = try DeadLetterStore(path: ":memory:", logger: testLogger)
        let payloads: [[UInt8]] = [
            [0xFF, 0xFE, 0x00, 0xC3, 0x28, 0xED, 0xA0, 0x80],  // invalid UTF-8, NUL, lone surrogate encoding
            [],
            Array(0...255),
            [UInt8](repeating: 0, count: 70_000),
        ]
        let attributes = ["qos": "1", "quote\"key": "line\nbreak\ttab\\", "ctl": "\u{1}\u{1F}", "emoji": "🚦", "": ""]
        let letters = payloads.enumerated().map { letter($0.offset, payload: $0.element, attributes: $0.offset == 0 ? attributes : [:]) }
        let ids = try store.append(letters).ids
        let stored = try store.letters(ids: ids)
        #expect(stored.map(\.letter) == letters)
        #expect(stored[0].letter.message.payload == payloads[0])
        #expect(stored[1].letter.message.payload == [])
        #expect(stored[0].letter.message.attributes == attributes)
        #expect(stored.allSatisfy { $0.status == .new && $0.replayAttempts == 0 && $0.replayedMs == nil && $0.replayError == nil })
    }

    @Test func listFiltersNewestFirst() throws {
        let store = try DeadLetterStore(path: ":memory:", logger: testLogger)
        try store.append([
            letter(0, reason: .noProfile, transport: .mqtt, profile: nil),
            letter(1, reason: .decode, transport: .coap, profile: "a"),
            letter(2, reason: .decode, transport: .mqtt, profile: "b"),
            letter(3, reason: .oversize, transport: .http, profile: "a"),
            letter(4, reason: .decode, transport: .mqtt, profile: "a"),
        ])
        func topics(_ letters: [StoredDeadLetter]) -> [Int64] { letters.map { $0.letter.message.receiveTimeMs - t0 } }
        #expect(topics(try store.list()) == [4, 3, 2, 1, 0])
        #expect(topics(try store.list(reason: .decode)) == [4, 2, 1])
        #expect(topics(try store.list(profileID: "a")) == [4, 3, 1])
        #expect(topics(try store.list(transport: .mqtt)) == [4, 2, 0])
        #expect(topics(try store.list(sinceMs: t0 + 2)) == [4, 3, 2])
        #expect(topics(try store.list(reason: .decode, profileID: "a", transport: .mqtt, sinceMs: t0)) == [4])
        #expect(topics(try store.list(limit: 2)) == [4, 3])
        #expect(topics(try store.list(limit: 2, offset: 2)) == [2, 1])
        #expect(try store.list(reason: .integrity).isEmpty)
        let ids = try store.list().map(\.id)
        try store.markReplayed(id: ids[1], atMs: t0 + 100)
        #expect(topics(try store.list(status: .replayed)) == [3])
        #expect(topics(try store.list(transport: .mqtt, status: .new)) == [4, 2, 0])
    }

    @Test func lettersByIDsKeepOrderAndSkipMissing() throws {
        let store = try DeadLetterStore(path: ":memory:", logger: testLogger)
        let ids = try store.append((0..<5).map { letter($0) }).ids
        let picked = try store.letters(ids: [ids[3], 999_999, ids[0]])
        #expect(picked.map(\.id) == [ids[3], ids[0]])
        #expect(try store.letters(ids: []).isEmpty)
    }

    @Test func markReplayedAndReplayFailedKeepTheRow() throws {
        let store = try DeadLetterStore(path: ":memory:", logger: testLogger)
        let ids = try store.append((0..<3).map { letter($0) }).ids
        #expect(try store.markReplayFailed(id: ids[0], error: "still truncated at 7"))
        #expect(try store.markReplayed(id: ids[1], atMs: t0 + 5_000))
        #expect(try store.markReplayFailed(id: ids[2], error: "first"))
        #expect(try store.markReplayed(id: ids[2], atMs: t0 + 6_000))
        #expect(try store.markReplayed(id: 424_242, atMs: t0) == false)
        #expect(try store.markReplayFailed(id: 424_242, error: "x") == false)

        let rows = try store.letters(ids: ids)
        #expect(rows[0].status == .failed)
        #expect(rows[0].replayError == "still truncated at 7")
        #expect(rows[0].replayAttempts == 1)
        #expect(rows[1].status == .replayed)
        #expect(rows[1].replayedMs == t0 + 5_000)
        #expect(rows[2].status == .replayed)
        #expect(rows[2].replayAttempts == 2)
        #expect(rows[2].replayError == nil)
        #expect(try store.count() == 3)
        #expect(try store.count(status: .new) == 0)
        #expect(try store.count(status: .replayed) == 2)
        #expect(try store.count(status: .failed) == 1)
        #expect(try store.countsByReason(status: .replayed) == [.decode: 2])
    }

    @Test func retentionEvictsOldestReplayedFirstThenOldest() throws {
        let store = try DeadLetterStore(path: ":memory:", maxRows: 10, logger: testLogger)
        let ids = try store.append((0..<10).map { letter($0) }).ids
        try store.markReplayed(id: ids[3], atMs: t0)
        try store.markReplayed(id: ids[5], atMs: t0)
        let result = try store.append((10..<13).map { letter($0) })
        #expect(result.evicted == 3)
        #expect(store.evictedTotal == 3)
        #expect(try store.count() == 10)
        let remaining = Set(try store.list(limit: 100).map(\.id))
        #expect(!remaining.contains(ids[3]) && !remaining.contains(ids[5]))  // replayed went first
        #expect(!remaining.contains(ids[0]))  // then the oldest
        #expect(remaining.contains(ids[1]) && remaining.contains(ids[2]) && remaining.contains(ids[4]))
        #expect(remaining.isSuperset(of: result.ids))
    }

    @Test func appendLargerThanMaxRowsKeepsTheNewest() throws {
        let store = try DeadLetterStore(path: ":memory:", maxRows: 5, logger: testLogger)
        let result = try store.append((0..<12).map { letter($0) })
        #expect(result.evicted == 7)
        #expect(try store.count() == 5)
        #expect(try store.list().map(\.id) == Array(result.ids.suffix(5).reversed()))
        #expect(try store.append([letter(99)]).evicted == 1)
        #expect(store.evictedTotal == 8)
    }

    @Test func reopenPersistsRowsStatusAndNeverReusesIDs() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        let firstIDs: [Int64]
        let before: [StoredDeadLetter]
        do {
            let store = try DeadLetterStore(path: temp.path, maxRows: 4, logger: testLogger)
            firstIDs = try store.append((0..<6).map { letter($0) }).ids
            try store.markReplayFailed(id: firstIDs[5], error: "nope")
            before = try store.list()
        }
        let reopened = try DeadLetterStore(path: temp.path, maxRows: 4, logger: testLogger)
        #expect(try reopened.list() == before)
        #expect(try reopened.count() == 4)
        #expect(try reopened.count(status: .failed) == 1)
        let next = try reopened.append([letter(6)]).ids
        #expect(next[0] > firstIDs.max()!)
    }

    @Test func loweringMaxRowsEvictsAtOpenAndCountsIt() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        do {
            let store = try DeadLetterStore(path: temp.path, logger: testLogger)
            try store.append((0..<20).map { letter($0) })
        }
        let smaller = try DeadLetterStore(path: temp.path, maxRows: 15, logger: testLogger)
        #expect(smaller.evictedTotal == 5)
        #expect(try smaller.count() == 15)
    }
}

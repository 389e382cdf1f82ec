@testable import CoAPIngest
import GatewayCore
import NIOCore
import NIOEmbedded
import Testing

/// The server handler with no sockets: answers only after storage, deduplication, Block1, limits, bad input.
@Suite struct CoAPServerHandlerTests {
    @Test func aConfirmableUplinkIsAcknowledgedOnlyOnceStored() throws {
        let rig = try HandlerRig()
        try rig.send(HandlerRig.post(0x1234, options: [CoAPOption(number: CoAPOption.contentFormat, uint: 0)]))
        #expect(try rig.answers().isEmpty, "no ACK before the data is durable")
        let stored = rig.store()
        #expect(stored.map(\.topic) == ["nb/dev1/up"])
        #expect(stored.first?.transport == .coap)
        #expect(stored.first?.payload == Array("0102".utf8))
        #expect(stored.first?.attributes == ["content_format": "0"])
        let bytes = try rig.answerBytes()
        #expect(bytes == [[0x62, 0x44, 0x12, 0x34, 0xBE, 0xEF]], "piggybacked ACK 2.04, same MID and token")
        #expect(try rig.channel.finish().isClean)
    }

    @Test func aRetransmittedConfirmableIsStoredOnceAndAnsweredAgain() throws {
        let rig = try HandlerRig()
        let request = HandlerRig.post(7)
        try rig.send(request)
        try rig.send(request)  // retransmitted while in progress: ignored
        #expect(rig.store().count == 1)
        let first = try rig.answerBytes()
        try rig.send(request)  // retransmitted after the ACK was lost: the same ACK again, nothing stored
        #expect(rig.store().isEmpty)
        #expect(try rig.answerBytes() == first)
        #expect(rig.counters.snapshot.duplicates == 2)
        #expect(rig.counters.snapshot.uplinks == 1)
        // The same message ID from another endpoint is another exchange.
        try rig.send(request, from: try SocketAddress(ipAddress: "10.0.0.8", port: 40_000))
        #expect(rig.store().count == 1)
    }

    @Test func nonConfirmableUplinksAreDeduplicatedAndAnsweredWithNON() throws {
        let rig = try HandlerRig()
        try rig.send(HandlerRig.post(9, type: .nonConfirmable))
        try rig.send(HandlerRig.post(9, type: .nonConfirmable))
        try rig.send(HandlerRig.post(10, type: .nonConfirmable, options: [CoAPOption(number: CoAPOption.noResponse, uint: 2)]))
        #expect(rig.store().count == 2)
        let answers = try rig.answers()
        #expect(answers.count == 1, "No-Response 2 suppresses the 2.04 of the second")
        #expect(answers.first?.type == .nonConfirmable)
        #expect(answers.first?.code == .changed)
        #expect(answers.first?.token == [0xBE, 0xEF])
    }

    @Test func outcomesMapToResponseCodes() throws {
        let rig = try HandlerRig()
        let outcomes: [UInt16: IngestOutcome] = [
            1: .stored(samples: 3), 2: .rejected(.noProfile, "no profile matches CoAP path 'x'"), 3: .rejected(.unknownDevice, "no device id"),
            4: .rejected(.malformed, "not hex"), 5: .rejected(.oversize, "too big"), 6: .unavailable("the store refused the write"),
        ]
        for id in outcomes.keys.sorted() { try rig.send(HandlerRig.post(id, payload: [UInt8(id)])) }
        rig.store { outcomes[UInt16($0.payload[0])]! }
        let answers = try rig.answers().sorted { $0.messageID < $1.messageID }
        #expect(answers.map(\.code) == [.changed, .notFound, .notFound, .badRequest, .requestEntityTooLarge, .serviceUnavailable])
        #expect(answers[1].payload == Array("no profile matches CoAP path 'x'".utf8), "a short diagnostic payload")
        #expect(answers[5].option(CoAPOption.maxAge)?.uintValue == 3)
        #expect(answers.allSatisfy { $0.type == .acknowledgement })
    }

    @Test func queryValuesBecomeAttributesAndRadioValuesSignalAttributes() throws {
        let rig = try HandlerRig()
        let q = ["imei=868508064807350", "rsrp=-95", "ecl=1", "flag"].map { CoAPOption(number: CoAPOption.uriQuery, string: $0) }
        try rig.send(HandlerRig.post(1, options: q))
        let m = try #require(rig.store().first)
        #expect(m.attributes == ["imei": "868508064807350", "signal.rsrp": "-95", "signal.ecl": "1", "flag": ""])
    }

    @Test func block1UploadsAreReassembledInAnyOrder() throws {
        let rig = try HandlerRig()
        let body = (0..<200).map { UInt8($0) }
        func block(_ n: UInt32, more: Bool, id: UInt16) -> CoAPMessage {
            let start = Int(n) * 64
            return HandlerRig.post(id, options: [BlockOption(number: n, more: more, szx: 2).option(CoAPOption.block1)],
                                   payload: Array(body[start..<min(start + 64, body.count)]))
        }
        try rig.send(block(0, more: true, id: 1))
        try rig.send(block(2, more: true, id: 2))
        try rig.send(block(1, more: true, id: 3))
        let continues = try rig.answers()
        #expect(continues.map(\.code) == [.continue, .continue, .continue])
        #expect(continues.map { $0.option(CoAPOption.block1).flatMap { BlockOption($0.value) } } == [
            BlockOption(number: 0, more: true, szx: 2), BlockOption(number: 2, more: true, szx: 2), BlockOption(number: 1, more: true, szx: 2),
        ])
        try rig.send(block(3, more: false, id: 4))
        #expect(try rig.answers().isEmpty, "the last block is answered after storage")
        let stored = rig.store()
        #expect(stored.map(\.payload) == [body])
        let final = try rig.answers()
        #expect(final.map(\.code) == [.changed])
        #expect(final.first?.option(CoAPOption.block1).flatMap { BlockOption($0.value) } == BlockOption(number: 3, more: false, szx: 2))
    }

    @Test func aBlock1UploadWithAMissingBlockIsRefused() throws {
        let rig = try HandlerRig()
        let b = BlockOption.self
        try rig.send(HandlerRig.post(1, options: [b.init(number: 0, more: true, szx: 0).option(27)], payload: Array(repeating: 1, count: 16)))
        try rig.send(HandlerRig.post(2, options: [b.init(number: 2, more: false, szx: 0).option(27)], payload: [9]))
        #expect(try rig.answers().map(\.code) == [.continue, .requestEntityIncomplete])
        #expect(rig.store().isEmpty)
    }

    @Test func bodiesOverTheCapGet413WithSize1() throws {
        let rig = try HandlerRig(HandlerRig.settings(maxBodyBytes: 100))
        try rig.send(HandlerRig.post(1, payload: Array(repeating: 0x30, count: 101)))
        for n in 0..<2 {
            try rig.send(HandlerRig.post(UInt16(10 + n), options: [BlockOption(number: UInt32(n), more: true, szx: 2).option(27)], payload: Array(repeating: 0x31, count: 64)))
        }
        try rig.send(HandlerRig.post(20, options: [CoAPOption(number: CoAPOption.size1, uint: 5000)]))
        let answers = try rig.answers()
        #expect(answers.map(\.code) == [.requestEntityTooLarge, .continue, .requestEntityTooLarge, .requestEntityTooLarge])
        #expect(answers.first?.option(CoAPOption.size1)?.uintValue == 100)
        #expect(rig.store().isEmpty)
    }

    @Test func overloadDegradesWith503() throws {
        let rig = try HandlerRig(HandlerRig.settings(maxExchanges: 2))
        for id in 1...3 { try rig.send(HandlerRig.post(UInt16(id))) }
        let refused = try rig.answers()
        #expect(refused.map(\.code) == [.serviceUnavailable])
        #expect(refused.first?.messageID == 3)
        #expect(refused.first?.option(CoAPOption.maxAge)?.uintValue == 3)
        #expect(rig.store().count == 2)
        #expect(try rig.answers().map(\.code) == [.changed, .changed])
        try rig.send(HandlerRig.post(4))
        #expect(rig.store().count == 1, "capacity is back once answered")
        #expect(rig.counters.snapshot.overloaded == 1)
    }

    @Test func aFastEndpointIsRateLimitedOthersAreNot() throws {
        let rig = try HandlerRig(HandlerRig.settings(rate: 1, burst: 2))
        for id in 1...3 { try rig.send(HandlerRig.post(UInt16(id))) }
        try rig.send(HandlerRig.post(4), from: try SocketAddress(ipAddress: "10.0.0.9", port: 1))
        #expect(try rig.answers().map(\.code) == [.serviceUnavailable])
        #expect(rig.store().count == 3)
        rig.clock.advance(seconds: 1.5)
        try rig.send(HandlerRig.post(5))
        #expect(rig.store().count == 1, "the bucket refills")
        #expect(rig.counters.snapshot.rateLimited == 1)
    }

    @Test func aClosedQueueAnswers503() throws {
        let rig = try HandlerRig()
        rig.offered.refuseFromNowOn()
        try rig.send(HandlerRig.post(1))
        rig.channel.embeddedEventLoop.run()
        #expect(try rig.answers().map(\.code) == [.serviceUnavailable])
    }

    @Test func whatTheServerCannotHandleIsResetOrIgnored() throws {
        let rig = try HandlerRig()
        try rig.send([0x40, 0x02, 0x00, 0x21, 0xF1])  // CON with a reserved option nibble: RST
        try rig.send([0x50, 0x02, 0x00, 0x22, 0xF1])  // NON, same: ignored
        try rig.send([0x40, 0x00, 0x00, 0x23])  // CON ping: RST
        try rig.send([0x60, 0x00, 0x00, 0x24])  // empty ACK: ignored
        try rig.send([0x40, 0x45, 0x00, 0x25])  // a CON response nobody asked for: RST
        try rig.send([0x01, 0x02])  // not CoAP: ignored
        try rig.send(HandlerRig.post(0x26, code: .get))  // GET: 4.05
        try rig.send(HandlerRig.post(0x27, options: [CoAPOption(number: 9, value: [1])]))  // unknown critical option: 4.02
        try rig.send(HandlerRig.post(0x28, options: [CoAPOption(number: 27, value: [0x07])]))  // Block1 SZX 7: 4.00
        let answers = try rig.answers()
        #expect(answers.map(\.type) == [.reset, .reset, .reset, .acknowledgement, .acknowledgement, .acknowledgement])
        #expect(answers.map(\.messageID) == [0x21, 0x23, 0x25, 0x26, 0x27, 0x28])
        #expect(answers.suffix(3).map(\.code) == [.methodNotAllowed, .badOption, .badRequest])
        #expect(rig.store().isEmpty)
        #expect(rig.counters.snapshot.malformed == 4)
    }

    @Test func randomAndMutatedDatagramsNeverCrashTheHandler() throws {
        let rig = try HandlerRig(HandlerRig.settings(maxExchanges: 1_000_000))
        var rng = SplitMix(state: 0xC0A9)
        let seeds = CoAPMessageTests.roundTrips.map { $0.serialized() } + [HandlerRig.post(1).serialized()]
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if i % 4 == 0, !bytes.isEmpty { bytes[0] = 0x40 | (bytes[0] & 0x3F) }  // mostly version 1, to reach the options
            } else {
                bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                    case 1: bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
                    default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                    }
                }
            }
            try rig.send(bytes, from: try SocketAddress(ipAddress: "10.1.\(i % 200).\(i % 250)", port: 1000 + i % 5000))
            if i % 500 == 0 { rig.store { _ in .rejected(.malformed, "fuzz") } }
        }
        rig.store()
        for answer in try rig.answerBytes() { #expect(throws: Never.self) { try CoAPMessage.parse(answer) } }
        // Still serving.
        try rig.send(HandlerRig.post(0x4242, token: [1]), from: try SocketAddress(ipAddress: "10.9.9.9", port: 9))
        rig.store()
        #expect(try rig.answers().last?.code == .changed)
    }

    @Test func randomBytesNeverCrashTheParser() {
        var rng = SplitMix(state: 7)
        var parsed = 0
        for _ in 0..<30_000 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if (try? CoAPMessage.parse(bytes)) != nil { parsed += 1 }
        }
        #expect(parsed > 0, "some random inputs are valid CoAP, so the fuzzer reaches the option parser")
    }
}

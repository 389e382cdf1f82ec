@testable import CoAPIngest
import Testing

/// The codec: RFC 7252 examples, round trips over every option encoding, and every malformation named.
@Suite struct CoAPMessageTests {
    /// RFC 7252 Appendix A / Figure 16 style: CON GET /temperature, MID 0x7d34, no token.
    @Test func parsesTheRFCExampleRequest() throws {
        let bytes: [UInt8] = [0x40, 0x01, 0x7D, 0x34, 0xBB] + Array("temperature".utf8)
        let m = try CoAPMessage.parse(bytes)
        #expect(m.type == .confirmable)
        #expect(m.code == .get)
        #expect(m.messageID == 0x7D34)
        #expect(m.token.isEmpty)
        #expect(m.options == [CoAPOption(number: CoAPOption.uriPath, string: "temperature")])
        #expect(m.uriPath == "temperature")
        #expect(m.serialized() == bytes)
    }

    /// The piggybacked response of the same example: ACK 2.05 with payload "22.3 C".
    @Test func parsesTheRFCExampleResponse() throws {
        let bytes: [UInt8] = [0x60, 0x45, 0x7D, 0x34, 0xFF] + Array("22.3 C".utf8)
        let m = try CoAPMessage.parse(bytes)
        #expect(m.type == .acknowledgement)
        #expect(m.code == CoAPCode(2, 5))
        #expect(m.code.description == "2.05")
        #expect(m.payload == Array("22.3 C".utf8))
        #expect(m.serialized() == bytes)
    }

    static let roundTrips: [CoAPMessage] = [
        CoAPMessage(type: .reset, code: .empty, messageID: 0),
        CoAPMessage(type: .acknowledgement, code: .empty, messageID: 0xFFFF),
        CoAPMessage(type: .confirmable, code: .post, messageID: 1, token: [1, 2, 3, 4, 5, 6, 7, 8], payload: [0xFF, 0x00]),
        CoAPMessage(type: .nonConfirmable, code: .put, messageID: 2, token: [9],
                    options: [.init(number: 11, string: "nb"), .init(number: 11, string: "x"), .init(number: 12, uint: 42), .init(number: 15, string: "imei=1")],
                    payload: Array("hello".utf8)),
        // Delta 13..268 (one extension byte), 269+ (two), lengths likewise.
        CoAPMessage(type: .confirmable, code: .post, messageID: 3, options: [.init(number: 27, uint: 0x1E), .init(number: 60, uint: 4096)]),
        CoAPMessage(type: .confirmable, code: .post, messageID: 4, options: [.init(number: 292, value: [1]), .init(number: 2048, value: Array(repeating: 7, count: 13))]),
        CoAPMessage(type: .confirmable, code: .post, messageID: 5, options: [.init(number: 11, value: Array(repeating: 0x61, count: 268))]),
        CoAPMessage(type: .confirmable, code: .post, messageID: 6, options: [.init(number: 11, value: Array(repeating: 0x62, count: 269))]),
        CoAPMessage(type: .confirmable, code: .post, messageID: 7, options: [.init(number: 65_535, value: Array(repeating: 0x63, count: 1000))], payload: [1]),
        CoAPMessage(type: .confirmable, code: .post, messageID: 8, options: [.init(number: 11, value: [])]),
    ]

    @Test(arguments: roundTrips)
    func roundTrip(_ message: CoAPMessage) throws {
        let bytes = message.serialized()
        #expect(try CoAPMessage.parse(bytes) == message)
    }

    @Test func optionsAreWrittenInNumberOrderKeepingRepeats() throws {
        let m = CoAPMessage(type: .confirmable, code: .post, messageID: 9,
                            options: [.init(number: 15, string: "a=1"), .init(number: 11, string: "p1"), .init(number: 11, string: "p2"), .init(number: 12, uint: 0)])
        let parsed = try CoAPMessage.parse(m.serialized())
        #expect(parsed.options.map(\.number) == [11, 11, 12, 15])
        #expect(parsed.uriPath == "p1/p2")
        #expect(parsed.option(12)?.value == [], "uint 0 is zero bytes")
    }

    @Test func aSlashInsideAPathSegmentCannotFakeALevel() throws {
        let m = CoAPMessage(type: .confirmable, code: .post, messageID: 1, options: [.init(number: 11, string: "a/b"), .init(number: 11, string: "c")])
        #expect(try CoAPMessage.parse(m.serialized()).uriPath == "a%2Fb/c")
    }

    static let malformed: [([UInt8], CoAPParseError)] = [
        ([], .truncatedHeader),
        ([0x40, 0x01, 0x00], .truncatedHeader),
        ([0x80, 0x01, 0x00, 0x01], .unsupportedVersion(2)),
        ([0x49, 0x01, 0x00, 0x01] + Array(repeating: 0, count: 9), .reservedTokenLength(9)),
        ([0x44, 0x01, 0x00, 0x01, 0xAA], .truncatedToken),
        ([0x40, 0x02, 0x00, 0x01, 0xF1, 0x00], .reservedOptionNibble),
        ([0x40, 0x02, 0x00, 0x01, 0x1F], .reservedOptionNibble),
        ([0x40, 0x02, 0x00, 0x01, 0xD1], .truncatedOption),
        ([0x40, 0x02, 0x00, 0x01, 0xE1, 0x00], .truncatedOption),
        ([0x40, 0x02, 0x00, 0x01, 0x1D], .truncatedOption),
        ([0x40, 0x02, 0x00, 0x01, 0xB5, 0x61, 0x62], .truncatedOption),
        ([0x40, 0x02, 0x00, 0x01, 0xE0, 0xFF, 0xFF, 0xE0, 0xFF, 0xFF], .optionNumberOverflow),
        ([0x40, 0x02, 0x00, 0x01, 0xFF], .emptyPayloadAfterMarker),
        ([0x41, 0x00, 0x00, 0x01, 0x01], .nonEmptyEmptyMessage),
        ([0x40, 0x00, 0x00, 0x01, 0xFF, 0x01], .nonEmptyEmptyMessage),
    ]

    @Test(arguments: malformed)
    func malformedDatagramsAreNamed(_ bytes: [UInt8], _ error: CoAPParseError) {
        #expect(throws: error) { try CoAPMessage.parse(bytes) }
    }

    @Test func everyTruncationOfAValidMessageFailsCleanly() throws {
        let full = Self.roundTrips[3].serialized()
        for n in 0..<full.count {
            // A prefix either parses (the cut fell between options) or throws: never a crash or an over-read.
            _ = try? CoAPMessage.parse(Array(full.prefix(n)))
        }
        #expect(try CoAPMessage.parse(full) == Self.roundTrips[3])
    }

    @Test func blockOptionValues() throws {
        let b = try #require(BlockOption([0x1E]))  // NUM 1, M 1, SZX 6 (1024)
        #expect(b == BlockOption(number: 1, more: true, szx: 6))
        #expect(b.size == 1024 && b.offset == 1024)
        #expect(b.option(27).value == [0x1E])
        #expect(BlockOption([]) == BlockOption(number: 0, more: false, szx: 0))
        #expect(BlockOption([0x07]) == nil, "SZX 7 is reserved")
        #expect(BlockOption([1, 2, 3, 4]) == nil, "at most 3 bytes")
        let big = BlockOption(number: 0xFFFFF, more: false, szx: 2)
        #expect(BlockOption(big.option(27).value) == big)
        #expect(BlockOption.szx(forSize: 64) == 2)
        #expect(BlockOption.szx(forSize: 1024) == 6)
        #expect(BlockOption.szx(forSize: 5000) == 6)
    }

    @Test func codesPrintAsClassDotDetail() {
        #expect(CoAPCode.changed.description == "2.04")
        #expect(CoAPCode.requestEntityTooLarge.description == "4.13")
        #expect(CoAPCode.serviceUnavailable.rawValue == 0xA3)
        #expect(CoAPCode.continue.rawValue == 0x5F)
    }
}

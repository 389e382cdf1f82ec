// Fuzz target `coap`: the CoAP message parser (Sources/CoAPIngest/Codec, docs/formats/coap.md) and the Block1
// reassembly the server runs on what it parsed.
//
// Input: one or more datagrams, each a 2-byte big-endian length and that many bytes (a short last one is taken as
// it is). Each datagram is parsed; a message that parses must serialise back to exactly the same bytes (the wire
// format has one encoding per message: extended nibbles are only used where the short form cannot hold the value)
// and parse again to the same message. A message with a Block1 option is fed to one `BlockAssembler` per input,
// which must never return a body larger than its cap.

import CoAPIngest
import Foundation

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzCoAP.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzCoAP.seeds)
    return 0
}
#endif

public enum FuzzCoAP {
    static let maxBodyBytes = 16 * 1024

    /// The datagrams of an input (see the file header).
    static func datagrams(_ input: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var i = 0
        while i < input.count {
            guard i + 2 <= input.count else {
                out.append(input[i...])
                break
            }
            let length = Int(input[i]) << 8 | Int(input[i + 1])
            let end = min(input.count, i + 2 + length)
            out.append(input[(i + 2)..<end])
            i = end
        }
        return out
    }

    /// Runs every datagram of `input`; accepted when at least one parsed.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        var assembler = BlockAssembler(maxBodyBytes: maxBodyBytes, maxTransfers: 4, timeout: .seconds(60))
        var parsed = 0
        for (n, datagram) in datagrams(input).enumerated() {
            let bytes = Array(datagram)
            let header = bytes.withUnsafeBytes { CoAPMessage.header($0) }
            let message: CoAPMessage
            do {
                message = try CoAPMessage.parse(bytes)
            } catch {
                precondition(!"\(error)".isEmpty, "a parse error without a description")
                continue
            }
            parsed += 1
            precondition(header != nil && header!.type == message.type && header!.code == message.code && header!.messageID == message.messageID,
                         "the header reader disagrees with the parser")
            let wire = message.serialized()
            precondition(wire == bytes, "serialize(parse(x)) != x: \(hex(bytes)) became \(hex(wire))")
            precondition((try? CoAPMessage.parse(wire)) == message, "parse(serialize(m)) != m")
            _ = message.uriPath
            for option in message.options { _ = option.uintValue }
            if let option = message.option(CoAPOption.block1), let block = BlockOption(option.value) {
                precondition(block.szx <= 6 && block.number < 1 << 20, "a Block1 value out of range")
                precondition(BlockOption(block.option(CoAPOption.block1).value) == block, "a Block1 value does not round-trip")
                let key = BlockAssembler.Key(endpoint: EndpointKey(low: 0x7F00_0001, port: 5683), request: message.uriPath)
                if case .complete(let body) = assembler.add(key, block: block, payload: message.payload, nowNs: UInt64(n) * 1_000_000) {
                    precondition(body.count <= maxBodyBytes, "a reassembled body of \(body.count) bytes over the cap of \(maxBodyBytes)")
                }
                precondition(assembler.openTransfers <= assembler.maxTransfers, "more transfers open than allowed")
            }
        }
        return parsed > 0 ? .accepted : .rejected
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// One datagram as an input (length-prefixed).
    static func framed(_ messages: [CoAPMessage]) -> [UInt8] {
        var out: [UInt8] = []
        for m in messages {
            let bytes = m.serialized()
            out += [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
        }
        return out
    }

    /// Uplinks on the shipped profiles' CoAP paths (CON and NON, with token, Uri-Query radio values and
    /// Content-Format), a Block1 upload in three blocks, an empty ACK, a RST, a ping, and long options that need the
    /// extended delta and length forms.
    public static func seeds() -> [FuzzSeed] {
        let path: [CoAPOption] = ["dragino", "ndds75", "up"].map { CoAPOption(number: CoAPOption.uriPath, string: $0) }
        let nbPath: [CoAPOption] = ["nb", "milesight", "em400-mud", "860374051096202"].map { CoAPOption(number: CoAPOption.uriPath, string: $0) }
        let query: [CoAPOption] = ["rsrp=-95", "sinr=7", "ecl=1", "csq=18", "imei=860374051096202"].map { CoAPOption(number: CoAPOption.uriQuery, string: $0) }
        let ndds75 = Array("41105675647100640cd1070a1600".utf8)
        var out: [FuzzSeed] = []
        out.append(FuzzSeed("con-post", framed([CoAPMessage(type: .confirmable, code: .post, messageID: 0x1234, token: [1, 2, 3, 4],
                                                            options: path + [CoAPOption(number: CoAPOption.contentFormat, uint: 0)], payload: ndds75)])))
        out.append(FuzzSeed("non-post-query", framed([CoAPMessage(type: .nonConfirmable, code: .post, messageID: 7, token: [9],
                                                                  options: nbPath + query, payload: [0x01, 0x75, 0x64, 0x03, 0x67, 0x10, 0x01])])))
        let body = (0..<80).map { UInt8($0) }
        let blocks = (0..<3).map { n -> CoAPMessage in
            let chunk = Array(body[(n * 32)..<min(body.count, n * 32 + 32)])
            let block = BlockOption(number: UInt32(n), more: n < 2, szx: 1)
            return CoAPMessage(type: .confirmable, code: .put, messageID: UInt16(100 + n), token: [0xAB],
                               options: path + [block.option(CoAPOption.block1), CoAPOption(number: CoAPOption.size1, uint: 80)], payload: chunk)
        }
        out.append(FuzzSeed("block1-upload", framed(blocks)))
        out.append(FuzzSeed("ack-rst-ping", framed([CoAPMessage(type: .acknowledgement, code: .empty, messageID: 1),
                                                    CoAPMessage(type: .reset, code: .empty, messageID: 2),
                                                    CoAPMessage(type: .confirmable, code: .empty, messageID: 3)])))
        out.append(FuzzSeed("long-options", framed([CoAPMessage(type: .confirmable, code: .get, messageID: 9, token: Array(repeating: 7, count: 8),
                                                                options: [CoAPOption(number: CoAPOption.uriPath, value: Array(repeating: 0x61, count: 300)),
                                                                          CoAPOption(number: CoAPOption.requestTag, value: [1, 2]),
                                                                          CoAPOption(number: 2000, value: Array(repeating: 0x62, count: 20))],
                                                                payload: [0xFF])])))
        out.append(FuzzSeed("response", framed([CoAPMessage(type: .acknowledgement, code: .changed, messageID: 0x1234, token: [1, 2, 3, 4],
                                                            options: [BlockOption(number: 2, more: false, szx: 6).option(CoAPOption.block1)])])))
        return out
    }
}

@testable import DeviceProfiles
import Foundation
import GatewayCore
import Testing

/// Decodes one payload with a profile made of the given steps (YAML), for testing primitives in isolation.
func decodeWith(_ decode: String, input: String = "raw", endian: String = "big", payload: [UInt8], topic captures: [String: String] = ["deviceId": "d1"],
                receiveTimeMs: Int64 = 1_767_225_600_000) throws -> DecodeResult {
    let yaml = """
        id: primitive-test
        version: 1
        match: { mqtt: "t/{deviceId}" }
        input: \(input)
        endian: \(endian)
        decode:
        \(decode.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        """
    let profile = try #require(try ProfileLoader.load(yaml: yaml).first)
    return try profile.decode(payload: payload, captures: captures, receiveTimeMs: receiveTimeMs)
}

func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }

func value(_ r: DecodeResult, _ metric: String, _ index: Int = 0) -> Double? {
    let all = r.samples.filter { $0.metric == metric }
    return index < all.count ? all[index].value : nil
}

@Suite struct PrimitiveTests {
    @Test(arguments: [
        ("u8", [0xFE], 254.0), ("i8", [0xFE], -2), ("u16", [0x12, 0x34], 0x1234), ("u16le", [0x12, 0x34], 0x3412),
        ("i16", [0xFF, 0x7E], -130), ("i16le", [0x7E, 0xFF], -130), ("u24", [0x01, 0x02, 0x03], 0x010203),
        ("i24le", [0xFF, 0xFF, 0xFF], -1), ("u32", [0xDE, 0xAD, 0xBE, 0xEF], 3_735_928_559), ("i32le", [0xFE, 0xFF, 0xFF, 0xFF], -2),
        ("u64", [0, 0, 0, 1, 0, 0, 0, 0], 4_294_967_296), ("i64le", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], -1),
    ] as [(String, [UInt8], Double)])
    func integersInBothByteOrders(type: String, bytes: [UInt8], expected: Double) throws {
        let r = try decodeWith("- { name: v, type: \(type) }", payload: bytes)
        #expect(value(r, "v") == expected)
    }

    @Test func floatsAreIEEE754() throws {
        let r = try decodeWith("- { name: a, type: f32le }\n- { name: b, type: f32 }\n- { name: c, type: f64 }",
                               payload: [0xCD, 0x03, 0xE9, 0x42, 0x42, 0xE9, 0x03, 0xCD, 0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18])
        #expect(value(r, "a") == Double(Float(bitPattern: 0x42E9_03CD)))
        #expect(value(r, "b") == Double(Float(bitPattern: 0x42E9_03CD)))
        #expect(value(r, "c") == Double.pi)
    }

    @Test func bitFieldsFlagsAndSignedShift() throws {
        let r = try decodeWith("""
            - { name: bat, type: u16, bits: 0-13, emit: true }
            - { name: flag, type: u16, at: 0, bits: 15 }
            - { name: angle, type: i16le, expr: "(x >> 1) * 0.01" }
            - { name: state, type: u8, flags: { 0: one, 3: four } }
            """, payload: [0xCE, 0x29, 0x98, 0xFD, 0b0000_1001])
        #expect(value(r, "bat") == 0x0E29)
        #expect(value(r, "flag") == 1)
        #expect(value(r, "angle") == -3.08)
        #expect(value(r, "one") == 1)
        #expect(value(r, "four") == 1)
        #expect(value(r, "state") == nil, "a flags field is not emitted itself")
    }

    @Test func scaleOffsetExpressionUnitsAndRounding() throws {
        let r = try decodeWith("""
            - { name: t, type: u8, offset: -50, unit: degC }
            - { name: v, type: u16, unit: mV }
            - { name: csq_dbm, type: u8, expr: "-113 + 2 * x", unit: dBm }
            - { name: kelvin, type: u16, scale: 0.1, unit: K, round: 2 }
            """, payload: [75, 0x0C, 0xD1, 7, 0x0B, 0xB8])
        #expect(value(r, "t") == 25)
        #expect(r.samples.first { $0.metric == "v" }?.unit == "V")
        #expect(value(r, "v") == 3.281)
        #expect(value(r, "csq_dbm") == -99)
        #expect(value(r, "kelvin") == 26.85)
    }

    @Test func sentinelsOmitOrFlag() throws {
        let r = try decodeWith("- { name: csq, type: u8, sentinel: { 99: null } }\n- { name: ec, type: u16, unit: mm, sentinel: { 0xFFFF: bad } }",
                               payload: [99, 0xFF, 0xFF])
        #expect(value(r, "csq") == nil)
        let ec = try #require(r.samples.first { $0.metric == "ec" })
        #expect(ec.quality == .bad)
        #expect(ec.value == 65535, "a bad reading keeps its raw value, unconverted")
    }

    @Test func enumsCarryLabels() throws {
        let r = try decodeWith("- { name: e, type: u8, enum: smoke_event }\n- { name: p, type: u8, enum: { 0: normal, 1: tilt } }", payload: [1, 7])
        #expect(r.labels[0] == "alarm")
        #expect(r.labels[1] == nil)
        #expect(r.samples[1].quality == .uncertain, "a code outside the enum is kept but flagged")
    }

    @Test func stringsBCDAndHex() throws {
        let r = try decodeWith("""
            - { name: id, type: bcd, length: 3, role: device-id }
            - { name: fw, type: ascii, length: 5, role: attribute }
            - { name: raw, type: hex, length: 2, role: attribute }
            """, payload: [0x12, 0x34, 0x56, 0x76, 0x31, 0x2E, 0x30, 0x00, 0xAB, 0xCD])
        let status = try #require(r.statuses.first)
        #expect(status.device == "123456")
        #expect(status.attributes["fw"] == "v1.0")
        #expect(status.attributes["raw"] == "abcd")
    }

    @Test func checksumsMatchKnownCheckValues() {
        let check = Array("123456789".utf8)
        #expect(Checksum.crc16Modbus.compute(check) == 0x4B37)
        #expect(Checksum.crc16Kermit.compute(check) == 0x2189)
        #expect(Checksum.crc16CCITT.compute(check) == 0x29B1)
        #expect(Checksum.sum8.compute(check) == 0xDD)
        #expect(Checksum.xor8.compute(check) == 0x31)
    }

    @Test func checksumRejectOrWarn() throws {
        let body: [UInt8] = [0x01, 0x02, 0x03]
        let crc = Checksum.crc16Kermit.compute(body)
        let good = body + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        let steps = "- checksum: { algorithm: crc16-kermit, from: 0, to: -2, at: -2, endian: little }\n- { name: a, type: u8 }"
        #expect(value(try decodeWith(steps, payload: good), "a") == 1)
        var bad = good
        bad[1] ^= 0x10
        #expect(throws: DecodeError(.integrity, "crc16-kermit mismatch: computed \(String(Checksum.crc16Kermit.compute(bad[0..<3]), radix: 16)), frame says \(String(crc, radix: 16))")) {
            try decodeWith(steps, payload: bad)
        }
        let warned = try decodeWith(steps.replacingOccurrences(of: "little }", with: "little, on_fail: warn }"), payload: bad)
        #expect(warned.samples.first?.quality == .uncertain)
        #expect(warned.warnings.count == 1)
    }

    @Test func tlvRepeatedKeysAndHistoryRecords() throws {
        let r = try decodeWith("""
            - tlv:
                key: 2
                entries:
                  "01 75": { name: battery, type: u8 }
                  "20 CE":
                    size: 7
                    decode:
                      - { name: time, type: u32le, role: time, format: unix-s }
                      - { name: temperature, type: i16le, scale: 0.1 }
                      - { name: moisture, type: u8 }
            """, payload: [0x01, 0x75, 0x64, 0x20, 0xCE] + le32(1_717_243_200) + [0x19, 0x01, 0x30, 0x20, 0xCE] + le32(1_717_243_260) + [0x1A, 0x01, 0x31])
        #expect(value(r, "battery") == 100)
        let temps = r.samples.filter { $0.metric == "temperature" }
        #expect(temps.count == 2)
        #expect(abs(temps[0].value - 28.1) < 1e-9 && abs(temps[1].value - 28.2) < 1e-9)
        #expect(temps.map(\.deviceTimeMs) == [1_717_243_200_000, 1_717_243_260_000])
        #expect(r.samples.first { $0.metric == "battery" }?.deviceTimeMs == nil, "records' times do not leak to the message")
    }

    @Test func repeatCountAndTruncatedRecord() throws {
        let steps = "- { name: n, type: u8, emit: false }\n- repeat: { count: n, decode: [ { name: v, type: u16 } ] }"
        let r = try decodeWith(steps, payload: [2, 0, 1, 0, 2])
        #expect(r.samples.map(\.value) == [1, 2])
        #expect(throws: DecodeError.self) { try decodeWith(steps, payload: [3, 0, 1, 0, 2]) }
        #expect(throws: DecodeError.self) { try decodeWith("- repeat: { size: 2, decode: [ { name: v, type: u16 } ] }", payload: [0, 1, 0]) }
    }

    @Test func switchOnLengthTopicAndJSON() throws {
        let steps = """
            - switch:
                on: "size == 1 ? topic.kind : 'long'"
                cases:
                  short: [ { name: a, type: u8 } ]
                  long: [ { name: b, type: u16 } ]
            """
        #expect(value(try decodeWith(steps, payload: [7], topic: ["deviceId": "d", "kind": "short"]), "a") == 7)
        #expect(value(try decodeWith(steps, payload: [0, 9]), "b") == 9)
        #expect(throws: DecodeError.self) { try decodeWith(steps, payload: [7], topic: ["deviceId": "d", "kind": "other"]) }
    }

    @Test func chainedEnvelopeUnwrapsHexInsideJSON() throws {
        let json = #"{"reports":[{"serialNumber":"IMEI:1","value":"0102"},{"serialNumber":"IMEI:2","value":"0304"}]}"#
        let r = try decodeWith("""
            - each:
                path: "$.reports"
                decode:
                  - { name: imei, path: "$.serialNumber", role: device-id }
                  - inner:
                      path: "$.value"
                      input: ascii-hex
                      decode: [ { name: level, type: u16 } ]
            """, input: "json", payload: Array(json.utf8))
        #expect(r.samples.map(\.device) == ["IMEI:1", "IMEI:2"])
        #expect(r.samples.map(\.value) == [0x0102, 0x0304])
        #expect(Set(r.statuses.map(\.device)) == ["IMEI:1", "IMEI:2"])
    }

    @Test func base64Input() throws {
        let r = try decodeWith("- { name: a, type: u16 }", input: "base64", payload: Array("AQI=".utf8))
        #expect(value(r, "a") == 0x0102)
        #expect(throws: DecodeError.self) { try decodeWith("- { name: a, type: u16 }", input: "base64", payload: Array("A*I=".utf8)) }
    }

    @Test func absurdDeviceTimesFallBackToReceiveTime() throws {
        let steps = "- { name: time, type: u32, role: time, format: unix-s }\n- { name: v, type: u8 }"
        let zero = try decodeWith(steps, payload: [0, 0, 0, 0, 5])
        #expect(zero.samples[0].deviceTimeMs == nil)
        #expect(zero.samples[0].quality == .uncertain)
        let future = try decodeWith(steps, payload: [0xF0, 0, 0, 0, 5])
        #expect(future.samples[0].deviceTimeMs == nil, "a time decades ahead is quarantined")
        let fine = try decodeWith(steps, payload: [0x69, 0x55, 0x00, 0x00, 5])
        #expect(fine.samples[0].deviceTimeMs == Int64(0x6955_0000) * 1000)
        #expect(fine.samples[0].quality == .good)
    }

    @Test func timeFormats() {
        #expect(TimeFormat.parseISO8601("2025-04-23T16:49:54.206Z", defaultOffset: 0) == 1_745_426_994_206)
        #expect(TimeFormat.parseISO8601("2024-08-28T22:49:41+08:00", defaultOffset: 0) == 1_724_856_581_000)
        #expect(TimeFormat.parseISO8601("2024-08-28 22:49:41", defaultOffset: 3600) == 1_724_881_781_000)
        #expect(TimeFormat.parseISO8601("2024-13-28T22:49:41Z", defaultOffset: 0) == nil)
        #expect(TimeFormat.named("yyyyMMddHHmmss")!.fromText("20180301211805", zoneOffsetSeconds: 8 * 3600) == 1_519_910_285_000)
        // CP56Time2a: 2024-06-01 12:34:56.789 local (+08:00): ms=56789, min 34, hour 12, day 1, month 6, year 24.
        let cp: [UInt8] = [0xD5, 0xDD, 34, 12, 1, 6, 24]
        #expect(TimeFormat.cp56time2a.fromBytes(cp[...], zoneOffsetSeconds: 8 * 3600) == 1_717_216_496_789)
        #expect(TimeFormat.named("yyMMddHHmmss")!.fromBytes([0x24, 0x06, 0x01, 0x12, 0x00, 0x00][...], zoneOffsetSeconds: 0) == 1_717_243_200_000)
        #expect(TimeFormat.parseZone("+08:00") == 28800)
        #expect(TimeFormat.parseZone("-0530") == -19800)
        #expect(TimeFormat.parseZone("8") == nil)
    }

    @Test func deviceIDFromTopicTemplateOrPayload() throws {
        let r = try decodeWith("- { name: v, type: u8 }", payload: [1], topic: ["deviceId": "from-topic"])
        #expect(r.samples[0].device == "from-topic")
        let p = try decodeWith("- { name: id, type: hex, length: 2, role: device-id }\n- { name: v, type: u8 }", payload: [0xAB, 0xCD, 1], topic: ["deviceId": "from-topic"])
        #expect(p.samples[0].device == "abcd", "a payload device id wins over the topic")
        #expect(throws: DecodeError.self) { try decodeWith("- { name: v, type: u8 }", payload: [1], topic: [:]) }
    }
}

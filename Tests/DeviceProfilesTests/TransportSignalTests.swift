import DeviceProfiles
import GatewayCore
import Testing

/// Radio values carried by the transport's envelope fill the registry's status where the payload had none.
@Suite struct TransportSignalTests {
    static let set: ProfileSet = {
        let yaml = """
            id: sig
            version: 1
            match: { coap: "s/{deviceId}" }
            decode:
              - { name: v, type: u8 }
              - { name: csq, type: u8, when: "size > 1", role: signal.csq }
            """
        return try! ProfileSet(try! ProfileLoader.load(yaml: yaml))
    }()

    static func status(payload: [UInt8], _ attributes: [String: String]) -> DeviceStatus? {
        var batch = SampleBatch()
        set.decode(RawMessage(transport: .coap, topic: "s/d", payload: payload, receiveTimeMs: 0, attributes: attributes), into: &batch)
        return batch.statuses.first
    }

    @Test func envelopeValuesAreNormalised() throws {
        let s = try #require(Self.status(payload: [1], ["signal.rsrp": "114", "signal.sinr": "-3.5", "signal.ecl": "1", "signal.csq": "20"]))
        #expect(s.rsrpDbm == -114, "a positive magnitude is a negative dBm")
        #expect(s.sinrDb == -3.5)
        #expect(s.ecl == 1)
        #expect(s.csqDbm == -73, "CSQ 20 is -113 + 2·20 dBm")
    }

    @Test func thePayloadWins() throws {
        let s = try #require(Self.status(payload: [1, 10], ["signal.csq": "20", "signal.rsrp": "-90"]))
        #expect(s.csqDbm == -93, "CSQ 10 from the payload, not 20 from the envelope")
        #expect(s.rsrpDbm == -90)
    }

    @Test(arguments: [
        ["signal.csq": "99"], ["signal.csq": "-1"], ["signal.rsrp": "-822"], ["signal.rsrp": "abc"], ["signal.ecl": "3"],
        ["signal.sinr": "nan"], ["signal.sinr": "400"], ["other": "1"],
    ])
    func implausibleValuesAreIgnored(attributes: [String: String]) throws {
        let s = try #require(Self.status(payload: [1], attributes))
        #expect(s.rsrpDbm == nil && s.sinrDb == nil && s.ecl == nil && s.csqDbm == nil)
    }

    @Test func csqConversionIsTheRegistrys() {
        #expect(DeviceStatus.dbm(fromCSQ: 0) == -113)
        #expect(DeviceStatus.dbm(fromCSQ: 31) == -51)
        #expect(DeviceStatus.dbm(fromCSQ: 99) == nil)
    }
}

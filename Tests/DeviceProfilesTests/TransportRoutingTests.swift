import DeviceProfiles
import GatewayCore
import Testing

/// `match:` per transport: MQTT topics, CoAP Uri-Paths, CTWing and OneNET push routes, and UDP listeners.
@Suite struct TransportRoutingTests {
    static let now: Int64 = 1_767_225_600_000

    static func profile(_ yaml: String) throws -> [Profile] { try ProfileLoader.load(yaml: yaml) }

    static let multi = """
        id: multi
        version: 1
        match:
          mqtt: "m/{deviceId}/up"
          coap: ["nb/{deviceId}/up", "nb/q"]
          ctwing: "15014772/{deviceId}"
          onenet: "+/{deviceId}/3200_0_5750"
        device_id: "{deviceId}"
        decode: [ { name: v, type: u8 } ]
        """

    @Test func eachTransportMatchesOnlyItsOwnTemplates() throws {
        let set = try ProfileSet(try Self.profile(Self.multi))
        #expect(set.route(transport: .mqtt, topic: "m/d1/up")?.captures == ["deviceId": "d1"])
        #expect(set.route(transport: .coap, topic: "nb/d2/up")?.captures == ["deviceId": "d2"])
        #expect(set.route(transport: .ctwing, topic: "15014772/d3")?.captures == ["deviceId": "d3"])
        #expect(set.route(transport: .onenet, topic: "_/d4/3200_0_5750")?.captures == ["deviceId": "d4"])
        // The same strings on another transport route nowhere.
        #expect(set.route(transport: .coap, topic: "m/d1/up") == nil)
        #expect(set.route(transport: .mqtt, topic: "nb/d2/up") == nil)
        #expect(set.route(transport: .onenet, topic: "15014772/d3") == nil)
        #expect(set.route(transport: .ctwing, topic: "_/d4/3200_0_5750") == nil)
        #expect(set.route(transport: .http, topic: "m/d1/up") == nil)
        #expect(set.route(topic: "m/d1/up")?.profile.id == "multi", "route(topic:) is MQTT")
        #expect(set.subscriptionFilters == ["m/+/up"], "only MQTT templates become subscriptions")
    }

    @Test func queryValuesReachTheDeviceIDTemplateThroughAttributes() throws {
        let set = try ProfileSet(try Self.profile("""
            id: q
            version: 1
            match: { coap: "nb/q" }
            device_id: "imei-{attr.imei}"
            decode: [ { name: v, type: u8 } ]
            """))
        var batch = SampleBatch()
        set.decode(RawMessage(transport: .coap, topic: "nb/q", payload: [7], receiveTimeMs: Self.now, attributes: ["imei": "8685"]), into: &batch)
        set.decode(RawMessage(transport: .coap, topic: "nb/q", payload: [7], receiveTimeMs: Self.now), into: &batch)
        #expect(batch.samples.map(\.device) == ["imei-8685"])
        #expect(batch.deadLetters.map(\.reason) == [.unknownDevice])
    }

    @Test func udpRoutesByTheProfileIDOfTheListener() throws {
        let set = try ProfileSet(try Self.profile("""
            id: bare
            version: 1
            match: { udp: true }
            decode:
              - { name: id, type: u8, role: device-id }
              - { name: v, type: u8 }
            """) + Self.profile(Self.multi))
        #expect(set.udpProfileIDs == ["bare"])
        var batch = SampleBatch()
        set.decode(RawMessage(transport: .udp, topic: "bare", payload: [42, 9], receiveTimeMs: Self.now), into: &batch)
        set.decode(RawMessage(transport: .udp, topic: "multi", payload: [42, 9], receiveTimeMs: Self.now), into: &batch)
        #expect(batch.samples.map(\.device) == ["42"])
        #expect(batch.samples.map(\.value) == [9])
        #expect(batch.deadLetters.map(\.reason) == [.noProfile], "a profile without match.udp is not reachable over UDP")
        #expect(batch.deadLetters.first?.error.contains("udp") == true)
    }

    @Test func udpNeedsAnIdentityFromThePayload() {
        #expect {
            _ = try Self.profile("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}', udp: true }\ndecode: [ { name: v, type: u8 } ]")
        } throws: { error in
            "\(error)".contains("match.udp")
        }
    }

    @Test func sameTemplateOnTwoTransportsIsFineButNotTwiceOnOne() throws {
        let a = try Self.profile("id: a\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        let b = try Self.profile("id: b\nversion: 1\nmatch: { coap: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        let c = try Self.profile("id: c\nversion: 1\nmatch: { coap: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        let set = try ProfileSet(a + b)
        #expect(set.route(transport: .mqtt, topic: "t/1")?.profile.id == "a")
        #expect(set.route(transport: .coap, topic: "t/1")?.profile.id == "b")
        #expect {
            _ = try ProfileSet(b + c)
        } throws: { error in
            "\(error)".contains("coap template 't/{deviceId}' is already claimed by profile 'b'")
        }
    }

    @Test func unknownMatchKeysNameTheSupportedOnes() {
        #expect {
            _ = try Self.profile("id: x\nversion: 1\nmatch: { lorawan: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        } throws: { error in
            "\(error)".contains("supported: mqtt, coap, udp, ctwing, onenet")
        }
    }

    @Test func mostSpecificCoAPTemplateWins() throws {
        let set = try ProfileSet(try Self.profile("""
            id: wide
            version: 1
            match: { coap: "nb/#" }
            device_id: "{attr.ep}"
            decode: [ { name: v, type: u8 } ]
            """) + Self.profile("""
            id: narrow
            version: 1
            match: { coap: "nb/{deviceId}/up" }
            decode: [ { name: v, type: u8 } ]
            """))
        #expect(set.route(transport: .coap, topic: "nb/7/up")?.profile.id == "narrow")
        #expect(set.route(transport: .coap, topic: "nb/7/down")?.profile.id == "wide")
    }

    @Test func shippedNBIoTProfilesAreReachableOverCoAPAndUDP() throws {
        let set = try ProfileSet.load(directory: Repository.profilesDirectory)
        #expect(set.udpProfileIDs.contains("dragino-ndds75"))
        #expect(set.udpProfileIDs.contains("milesight-em400-mud-nb"))
        var batch = SampleBatch()
        let frame = Array("41105675647100640cd1070a1600".utf8)
        set.decode(RawMessage(transport: .coap, topic: "dragino/ndds75", payload: frame, receiveTimeMs: Self.now), into: &batch)
        set.decode(RawMessage(transport: .udp, topic: "dragino-ndds75", payload: frame, receiveTimeMs: Self.now), into: &batch)
        #expect(batch.deadLetters.isEmpty)
        #expect(batch.statuses.map(\.device) == ["411056756471", "411056756471"])
        #expect(batch.statuses.map(\.csqDbm) == [-99, -99])
        #expect(set.route(transport: .coap, topic: "nb/milesight/em400-mud/x")?.profile.id == "milesight-em400-mud-nb")
    }
}

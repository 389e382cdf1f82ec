import Foundation
import GatewayCore
import Testing
@testable import PushIngest

@Suite struct CTWingParserTests {
    func message(_ entry: PushEntry) throws -> RawMessage {
        guard case .ingest(let m) = entry.action else {
            Issue.record("expected a message to ingest, found \(entry.action)")
            throw PushParseError("not a message")
        }
        return m
    }

    @Test func transparentUplinkBecomesTheDecodedAPPdataBytes() throws {
        let entry = try CTWingParser.parse(bytes(Fixtures.ctwingTransparent), receiveTimeMs: 42)
        #expect(entry.kind == .data)
        let m = try message(entry)
        #expect(m.transport == .ctwing)
        #expect(m.topic == "10053421/44d0b9e48d404094bbbcf889e4e64ece")
        #expect(hex(m.payload) == Fixtures.ctwingTransparentBytesHex)
        #expect(m.receiveTimeMs == 42)
        #expect(m.attributes["platform.time_ms"] == "1589444235861")
        #expect(m.attributes["imei"] == "860803030676429")
        #expect(m.attributes["imsi"] == nil, "the literal 'undefined' is not an IMSI")
        #expect(m.attributes["ctwing.payload"] == "appdata")
        #expect(m.attributes["ctwing.message_type"] == "dataReport")
        #expect(m.attributes["ctwing.tenant_id"] == "10461180")
        #expect(m.attributes["ctwing.protocol"] == "lwm2m")
        #expect(m.attributes["ctwing.topic"] == "v1/up/ad")
        #expect(m.attributes["platform.device_id"] == "44d0b9e48d404094bbbcf889e4e64ece")
    }

    @Test func decodedPayloadIsItsJSONTextAsSent() throws {
        let m = try message(try CTWingParser.parse(bytes(Fixtures.ctwingDecoded), receiveTimeMs: 1))
        #expect(m.topic == "15034864/87f4b2814f434992a94a4871b32c6b75")
        #expect(String(decoding: m.payload, as: UTF8.self) == Fixtures.ctwingDecodedPayload)
        #expect(m.attributes["ctwing.payload"] == "json")
        #expect(m.attributes["signal.rsrp"] == "-90", "Signal_Power is lifted for the registry")
        #expect(m.attributes["ctwing.service_id"] == "1")
    }

    @Test func lianServiceDataSignalsAreLifted() throws {
        let m = try message(try CTWingParser.parse(bytes(Fixtures.ctwingLian), receiveTimeMs: 1))
        #expect(m.topic == "15014772/acf7baaee65e431eadfb8f5fe50e8b81")
        #expect(m.attributes["signal.rsrp"] == "114", "copied as the platform wrote it; the profile/decoder fixes the sign")
        #expect(m.attributes["signal.sinr"] == "1")
        #expect(m.attributes["signal.csq"] == "5")
        #expect(m.attributes["signal.ecl"] == nil)
        #expect(m.attributes["imei"] == "860374051096202")
    }

    @Test func tcpVariantAPPdataHoldsJSON() throws {
        let m = try message(try CTWingParser.parse(bytes(Fixtures.ctwingTCP), receiveTimeMs: 1))
        #expect(String(decoding: m.payload, as: UTF8.self) == #"{"temp":21.5,"hum":40}"#)
        #expect(m.attributes["ctwing.protocol"] == "tcp")
    }

    @Test func onlineReportIsAnEventMessage() throws {
        let entry = try CTWingParser.parse(bytes(Fixtures.ctwingOnline), receiveTimeMs: 1)
        #expect(entry.kind == .online)
        let m = try message(entry)
        #expect(m.payload.isEmpty)
        #expect(m.attributes["event.online"] == "1")
        #expect(m.attributes["iccid"] == nil)
        #expect(m.topic == "10053421/44d0b9e48d404094bbbcf889e4e64ece")
        let offline = try CTWingParser.parse(bytes(Fixtures.ctwingOnline.replacingOccurrences(of: #""eventType":1"#, with: #""eventType":0"#)), receiveTimeMs: 1)
        #expect(offline.kind == .offline)
        #expect(try message(offline).attributes["event.online"] == "0")
    }

    @Test func commandResponseIsANotice() throws {
        let entry = try CTWingParser.parse(bytes(Fixtures.ctwingCommandResponse), receiveTimeMs: 1)
        #expect(entry.kind == .commandResponse)
        guard case .notice(let n) = entry.action else { Issue.record("not a notice"); return }
        #expect(n["ctwing.task_id"] == "1")
        #expect(n["ctwing.result_code"] == "DELIVERED")
    }

    @Test(arguments: [
        ("", "invalid JSON"),
        ("[1,2]", "not a JSON object"),
        (#"{"messageType":"dataReport","deviceId":"d"#, "invalid JSON"),
        (#"{"deviceId":"d","productId":"1"}"#, "messageType"),
        (#"{"messageType":"dataReport","productId":"1"}"#, "deviceId"),
        (#"{"messageType":"dataReport","deviceId":"a/b","productId":"1","payload":{}}"#, "identifier"),
        (#"{"messageType":"dataReport","deviceId":"d","productId":"1"}"#, "payload"),
        (#"{"messageType":"dataReport","deviceId":"d","productId":"1","payload":{"APPdata":"%%%"}}"#, "base64"),
        (#"{"messageType":"dataReport","deviceId":"d","productId":"1","timestamp":"soon","payload":{}}"#, "timestamp"),
        (#"{"messageType":"deviceOnlineOfflineReport","deviceId":"d","productId":"1","eventType":7}"#, "eventType"),
        (#"{"messageType":"deviceDeleted","deviceId":"d","productId":"1"}"#, "unsupported CTWing messageType"),
    ])
    func malformedOrUnknownBodiesThrowWithTheReason(body: String, reason: String) {
        #expect {
            _ = try CTWingParser.parse(bytes(body), receiveTimeMs: 1)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func unknownTypeKeepsTheTopicForItsDeadLetter() {
        do {
            _ = try CTWingParser.parse(bytes(#"{"messageType":"eventReport","deviceId":"d","productId":"7"}"#), receiveTimeMs: 1)
            Issue.record("expected an error")
        } catch {
            #expect(error.topic == "7/d")
        }
    }

    @Test func aRetryHasTheSameKeyAndAnotherUplinkDoesNot() throws {
        let a = try CTWingParser.parse(bytes(Fixtures.ctwingTransparent), receiveTimeMs: 1)
        let retry = try CTWingParser.parse(bytes(Fixtures.ctwingTransparent), receiveTimeMs: 9_999)
        let later = try CTWingParser.parse(bytes(Fixtures.ctwingTransparent.replacingOccurrences(of: "1589444235861", with: "1589444235862")), receiveTimeMs: 1)
        #expect(a.key == retry.key)
        #expect(a.key != later.key)
    }
}

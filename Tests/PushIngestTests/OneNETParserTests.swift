import Foundation
import GatewayCore
import Testing
@testable import PushIngest

@Suite struct OneNETParserTests {
    func entries(_ body: String) throws -> [PushEntry] {
        OneNETParser.entries(try OneNETParser.envelope(bytes(body)), receiveTimeMs: 7)
    }

    func message(_ entry: PushEntry?) throws -> RawMessage {
        guard case .ingest(let m)? = entry?.action else {
            Issue.record("expected a message to ingest, found \(String(describing: entry?.action))")
            throw PushParseError("not a message")
        }
        return m
    }

    @Test func specDataExampleDecodesTheHexValue() throws {
        let list = try entries(Fixtures.onenetSpecData)
        #expect(list.count == 1)
        #expect(list.first?.kind == .data)
        let m = try message(list.first)
        #expect(m.transport == .onenet)
        #expect(m.topic == "_/520156945/3200_0_5750")
        #expect(hex(m.payload) == "800464000000000000FF2C70063400120103191005010000000020030100003102272241036300005002000080020000810200008201000F16".lowercased())
        #expect(m.attributes["onenet.value"] == "hex")
        #expect(m.attributes["platform.time_ms"] == "1553224758882")
        #expect(m.attributes["imei"] == "866971030389733")
        #expect(m.attributes["onenet.ds_id"] == "3200_0_5750")
        #expect(m.receiveTimeMs == 7)
    }

    @Test func specOnlineExampleIsAnEvent() throws {
        let list = try entries(Fixtures.onenetSpecOnline)
        #expect(list.first?.kind == .online)
        let m = try message(list.first)
        #expect(m.topic == "_/520156945")
        #expect(m.payload.isEmpty)
        #expect(m.attributes["event.online"] == "1")
        #expect(m.attributes["onenet.login_type"] == "10")
    }

    @Test(arguments: [
        (#""value":"hello""#, "text", Array("hello".utf8)),
        (#""value":"abc""#, "text", Array("abc".utf8)),
        (#""value":42.50"#, "json", Array("42.50".utf8)),
        (#""value":{"t":1,"h":[2,3]}"#, "json", Array(#"{"t":1,"h":[2,3]}"#.utf8)),
        (#""value":"0aFF""#, "hex", [0x0A, 0xFF]),
    ])
    func valueEncodings(value: String, format: String, payload: [UInt8]) throws {
        let body = #"{"msg":{"type":1,"dev_id":9,"ds_id":"temp","at":1,\#(value)},"nonce":"n","msg_signature":"s"}"#
        let m = try message(try entries(body).first)
        #expect(m.attributes["onenet.value"] == format)
        #expect(m.payload == payload)
    }

    @Test func batchedPushKeepsGoodMessagesAndDeadLettersBadOnes() throws {
        let body = #"{"msg":[\#(Fixtures.onenetDataMsg),{"type":99,"dev_id":5},{"type":1,"dev_id":5},\#(Fixtures.onenetOnlineMsg),{"type":7,"dev_id":5,"cmd_id":"c-1","cmd_type":1}],"nonce":"n","msg_signature":"s"}"#
        let list = try entries(body)
        #expect(list.map(\.kind) == [.data, .deadLetter, .deadLetter, .online, .commandResponse])
        guard case .deadLetter(let unknown) = list[1].action, case .deadLetter(let missing) = list[2].action else {
            Issue.record("expected dead letters"); return
        }
        #expect(unknown.reason == .malformed)
        #expect(unknown.error.contains("unsupported OneNET message type 99"))
        #expect(unknown.message.topic == "_/5")
        #expect(String(decoding: unknown.message.payload, as: UTF8.self) == #"{"type":99,"dev_id":5}"#)
        #expect(missing.error.contains("ds_id"))
        guard case .notice(let n) = list[4].action else { Issue.record("expected a notice"); return }
        #expect(n["onenet.cmd_id"] == "c-1")
    }

    @Test func signatureIsBase64MD5OfTokenNonceAndMsgText() throws {
        let envelope = try OneNETParser.envelope(bytes(Fixtures.onenetData))
        #expect(envelope.signedText == bytes(Fixtures.onenetDataMsg))
        let computed = OneNETParser.signature(token: Fixtures.onenetToken, nonce: "a1b2c3d4", text: envelope.signedText)
        #expect(computed == Fixtures.onenetDataSignature)
        #expect(OneNETParser.signatureMatches(Fixtures.onenetDataSignature, expected: computed))
        #expect(!OneNETParser.signatureMatches("zsVkT6JLtrTUawX9CJYLdA==", expected: computed))
        #expect(!OneNETParser.signatureMatches("", expected: computed))
        let url = OneNETParser.signature(token: Fixtures.onenetToken, nonce: Fixtures.verifyNonce, text: bytes(Fixtures.verifyMsg))
        #expect(url == Fixtures.verifySignature)
        #expect(OneNETParser.signatureMatches(Fixtures.verifySignature.replacingOccurrences(of: "+", with: " "), expected: url),
                "a '+' a form decoder turned into a space still matches")
    }

    @Test func msgAsAJSONStringIsSignedOverItsContent() throws {
        let inner = #"{"type":1,"dev_id":3,"ds_id":"x","at":5,"value":"01"}"#
        let escaped = inner.replacingOccurrences(of: "\"", with: "\\\"")
        let envelope = try OneNETParser.envelope(bytes(#"{"msg":"\#(escaped)","nonce":"n","msg_signature":"s"}"#))
        #expect(envelope.signedText == bytes(inner))
        #expect(OneNETParser.entries(envelope, receiveTimeMs: 1).first?.kind == .data)
    }

    @Test(arguments: [
        ("{}", "missing 'msg'"),
        (#"{"msg":5}"#, "neither an object nor an array"),
        (#"{"msg":"not json"}"#, "does not hold JSON"),
        ("<xml/>", "invalid JSON"),
    ])
    func bodiesThatAreNotAOneNETPush(body: String, reason: String) {
        #expect {
            _ = try OneNETParser.envelope(bytes(body))
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func encryptedPushIsSignedButUnsupported() throws {
        let envelope = try OneNETParser.envelope(bytes(#"{"enc_msg":"U2FsdGVkX1abc","msg_signature":"s","nonce":"n"}"#))
        #expect(envelope.messages.isEmpty)
        #expect(envelope.signedText == bytes("U2FsdGVkX1abc"))
        #expect(envelope.unsupported?.contains("enc_msg") == true)
    }

    @Test func retriesWithANewNonceKeepTheMessageKey() throws {
        let a = try entries(Fixtures.onenetData)
        let b = try entries(Fixtures.onenetData.replacingOccurrences(of: "a1b2c3d4", with: "99999999"))
        #expect(a.map(\.key) == b.map(\.key))
        #expect(a.map(\.key) != (try entries(Fixtures.onenetOnline)).map(\.key))
    }
}

import Foundation
import GatewayCore
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
@testable import PushIngest

/// The routes end to end without sockets (`app.test(.router)`), over a fake `DurableIngest`.
@Suite struct PushControllerTests {
    func app(_ receiver: PushReceiver) -> some ApplicationProtocol {
        let router = Router()
        PushController<BasicRequestContext>(receiver: receiver).addRoutes(to: router.group("push"))
        return Application(router: router)
    }

    func post(_ client: some TestClientProtocol, _ path: String, _ body: String, headers: HTTPFields = [:]) async throws -> PushReply {
        try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { r in
            PushReply(status: r.status.code, body: String(buffer: r.body))
        }
    }

    func get(_ client: some TestClientProtocol, _ uri: String) async throws -> PushReply {
        try await client.execute(uri: uri, method: .get) { r in PushReply(status: r.status.code, body: String(buffer: r.body)) }
    }

    func reply(_ status: Int, _ body: String) -> PushReply { PushReply(status: status, body: body) }

    // MARK: CTWing

    @Test func ctwingExamplesAreStoredThenAnswered200() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            for body in [Fixtures.ctwingTransparent, Fixtures.ctwingDecoded, Fixtures.ctwingTCP, Fixtures.ctwingLian, Fixtures.ctwingOnline] {
                #expect(try await post(client, "/push/ctwing", body) == reply(200, "ok"))
            }
        }
        #expect(ingest.messages.map(\.topic) == [
            "10053421/44d0b9e48d404094bbbcf889e4e64ece", "15034864/87f4b2814f434992a94a4871b32c6b75",
            "10053421/44d0b9e48d404094bbbcf889e4e64ece", "15014772/acf7baaee65e431eadfb8f5fe50e8b81",
            "10053421/44d0b9e48d404094bbbcf889e4e64ece",
        ])
        #expect(ingest.messages.allSatisfy { $0.transport == .ctwing && $0.receiveTimeMs == 1_700_000_000_000 })
        #expect(ingest.messages.last?.attributes["event.online"] == "1")
        #expect(receiver.stats.ingested == 5)
        #expect(ingest.letters.isEmpty)
    }

    @Test func aRetriedPushIsAnswered200WithoutStoringItTwice() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent) == reply(200, "ok"))
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent) == reply(200, "duplicate"))
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent) == reply(200, "duplicate"))
        }
        #expect(ingest.messages.count == 1)
        #expect(ingest.ingestCalls == 1)
        #expect(receiver.stats.duplicates == 2)
    }

    @Test func unavailableIngestIs503AndTheRetryIsStored() async throws {
        let ingest = FakeDurableIngest(.unavailable)
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent).status == 503)
            #expect(ingest.messages.isEmpty)
            ingest.mode.withLock { $0 = .store }
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent) == reply(200, "ok"), "the failed push was not remembered")
        }
        #expect(ingest.messages.count == 1)
        #expect(receiver.stats.unavailable == 1)
    }

    @Test(arguments: [
        "this is not json",
        #"{"messageType":"dataReport","deviceId":"d","productId":"1","payload":{"APPdata":"!!"}}"#,
        #"{"messageType":"deviceAdded","deviceId":"d","productId":"1"}"#,
    ])
    func malformedOrUnknownBodiesAreDeadLetteredThenAnswered200(body: String) async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", body) == reply(200, "dead-lettered"))
            #expect(try await post(client, "/push/ctwing", body) == reply(200, "duplicate"), "a retry is not dead-lettered twice")
        }
        #expect(ingest.messages.isEmpty)
        #expect(ingest.letters.count == 1)
        let letter = try #require(ingest.letters.first)
        #expect(letter.reason == .malformed)
        #expect(letter.message.payload == bytes(body), "the raw body is kept for replay")
        #expect(letter.message.transport == .ctwing)
        #expect(receiver.stats.deadLetters == 1)
    }

    @Test func aDeadLetterThatCannotBeWrittenIs503() async throws {
        let ingest = FakeDurableIngest(.deadLetterFails)
        try await app(makeReceiver(ingest)).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", "garbage").status == 503)
        }
    }

    @Test func commandResponsesAreCountedNotStored() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingCommandResponse) == reply(200, "ok"))
        }
        #expect(ingest.ingestCalls == 0)
        #expect(ingest.letters.isEmpty)
        #expect(receiver.stats.commandResponses == 1)
    }

    @Test func ctwingTokenWhenConfigured() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest, configuration: PushConfiguration(ctwing: .init(token: "s3cret")))
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent).status == 403)
            #expect(try await post(client, "/push/ctwing?token=wrong", Fixtures.ctwingTransparent).status == 403)
            #expect(try await post(client, "/push/ctwing?token=s3cret", Fixtures.ctwingTransparent) == reply(200, "ok"))
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingOnline, headers: [HTTPField.Name("X-CityGate-Token")!: "s3cret"]) == reply(200, "ok"))
        }
        #expect(ingest.messages.count == 2)
        #expect(receiver.stats.authFailures == 2)
    }

    @Test func bodiesOverTheLimitAre413AndNotRead() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest, configuration: PushConfiguration(maxBodyBytes: 1_024, onenet: .init(token: Fixtures.onenetToken)))
        let big = #"{"messageType":"dataReport","pad":""# + String(repeating: "x", count: 2_000) + #""}"#
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", big).status == 413)
            #expect(try await post(client, "/push/onenet", big).status == 413)
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent).status == 200, "a body under the limit still passes")
        }
        #expect(ingest.messages.count == 1)
        #expect(ingest.letters.isEmpty)
        #expect(receiver.stats.tooLarge == 2)
    }

    // MARK: OneNET

    @Test func onenetURLVerificationEchoesMsgWhenTheSignatureVerifies() async throws {
        let receiver = makeReceiver(FakeDurableIngest())
        let encoded = Fixtures.verifySignature.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await get(client, "/push/onenet?msg=\(Fixtures.verifyMsg)&nonce=\(Fixtures.verifyNonce)&signature=\(encoded)")
                == reply(200, Fixtures.verifyMsg))
            // Sent unencoded, '+' stays '+' (Hummingbird does not form-decode it).
            #expect(try await get(client, "/push/onenet?msg=\(Fixtures.verifyMsg)&nonce=\(Fixtures.verifyNonce)&signature=\(Fixtures.verifySignature)")
                == reply(200, Fixtures.verifyMsg))
            #expect(try await get(client, "/push/onenet?msg=\(Fixtures.verifyMsg)&nonce=\(Fixtures.verifyNonce)&signature=AAAA\(encoded.dropFirst(4))").status == 403)
            #expect(try await get(client, "/push/onenet?msg=\(Fixtures.verifyMsg)&nonce=other&signature=\(encoded)").status == 403)
            #expect(try await get(client, "/push/onenet?msg=\(Fixtures.verifyMsg)").status == 403)
            #expect(try await get(client, "/push/onenet?nonce=x").status == 400)
        }
        #expect(receiver.stats.verifications == 2)
        #expect(receiver.stats.authFailures == 3)
    }

    @Test func onenetURLVerificationWithoutSignatureCheck() async throws {
        let receiver = makeReceiver(FakeDurableIngest(), configuration: PushConfiguration(onenet: .init(verifySignature: false)))
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await get(client, "/push/onenet?msg=hello&nonce=x&signature=y") == reply(200, "hello"))
        }
    }

    @Test func onenetSignedPushesAreStored() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/onenet", Fixtures.onenetData) == reply(200, "ok"))
            #expect(try await post(client, "/push/onenet", Fixtures.onenetOnline) == reply(200, "ok"))
            // The platform retries with a fresh nonce and signature: still the same message.
            let retried = Fixtures.onenetData.replacingOccurrences(of: "a1b2c3d4", with: "e5f6a7b8")
                .replacingOccurrences(of: Fixtures.onenetDataSignature, with: OneNETParser.signature(
                    token: Fixtures.onenetToken, nonce: "e5f6a7b8", text: bytes(Fixtures.onenetDataMsg)))
            #expect(try await post(client, "/push/onenet", retried) == reply(200, "duplicate"))
        }
        #expect(ingest.messages.map(\.topic) == ["_/520156945/3200_0_5750", "_/520156945"])
        #expect(ingest.messages.first?.payload.count == 57)
        #expect(ingest.messages.last?.attributes["event.online"] == "1")
    }

    @Test(arguments: [
        Fixtures.onenetData.replacingOccurrences(of: Fixtures.onenetDataSignature, with: Fixtures.onenetOnlineSignature),
        Fixtures.onenetData.replacingOccurrences(of: "3200_0_5750", with: "3200_0_5751"),
        Fixtures.onenetData.replacingOccurrences(of: #","msg_signature":"\#(Fixtures.onenetDataSignature)""#, with: ""),
        Fixtures.onenetSpecData,
        "not json at all",
        #"{"enc_msg":"U2FsdGVkX1abc","msg_signature":"bad","nonce":"n"}"#,
    ])
    func onenetWrongOrMissingSignaturesAreRefusedAndCounted(body: String) async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest)
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/onenet", body) == reply(403, "forbidden"))
        }
        #expect(ingest.messages.isEmpty)
        #expect(ingest.letters.isEmpty, "nothing unauthenticated is stored")
        #expect(receiver.stats.authFailures == 1)
    }

    @Test func onenetSpecExamplesWithoutSignatureCheck() async throws {
        let ingest = FakeDurableIngest()
        let receiver = makeReceiver(ingest, configuration: PushConfiguration(onenet: .init(verifySignature: false)))
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/onenet", Fixtures.onenetSpecData) == reply(200, "ok"))
            #expect(try await post(client, "/push/onenet", Fixtures.onenetSpecOnline) == reply(200, "ok"))
            #expect(try await post(client, "/push/onenet", "{oops") == reply(200, "dead-lettered"))
        }
        #expect(ingest.messages.count == 2)
        #expect(ingest.letters.count == 1)
    }

    @Test func onenetEncryptedPushIsDeadLetteredWithAClearError() async throws {
        let ingest = FakeDurableIngest()
        let nonce = "n0n0n0n0"
        let signature = OneNETParser.signature(token: Fixtures.onenetToken, nonce: nonce, text: bytes("U2FsdGVkX1abc"))
        let body = #"{"enc_msg":"U2FsdGVkX1abc","msg_signature":"\#(signature)","nonce":"\#(nonce)"}"#
        try await app(makeReceiver(ingest)).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/onenet", body) == reply(200, "dead-lettered"))
        }
        #expect(ingest.letters.first?.error.contains("enc_msg") == true)
        #expect(ingest.letters.first?.message.payload == bytes(body))
    }

    @Test func disabledPlatformsHaveNoRoute() async throws {
        let receiver = makeReceiver(FakeDurableIngest(), configuration: PushConfiguration(ctwing: .init(enabled: false), onenet: .init(enabled: false)))
        try await app(receiver).test(.router) { (client) async throws in
            #expect(try await post(client, "/push/ctwing", Fixtures.ctwingTransparent).status == 404)
            #expect(try await post(client, "/push/onenet", Fixtures.onenetData).status == 404)
        }
    }
}

@testable import Mosquitto
import Testing

@Suite struct MosquittoErrorTests {
    @Test func successDoesNotThrow() throws {
        try MosquittoError.check(0)
    }

    @Test func codesMapToKindsAndLibraryText() {
        // MOSQ_ERR_NO_CONN = 4, MOSQ_ERR_CONN_REFUSED = 5, MOSQ_ERR_INVAL = 3, MOSQ_ERR_TLS = 8 (mosquitto.h).
        #expect(throws: MosquittoError.self) { try MosquittoError.check(4) }
        let noConnection = MosquittoError(code: 4)
        #expect(noConnection.kind == .noConnection)
        #expect(noConnection.description == "The client is not currently connected.")
        #expect(MosquittoError(code: 3).kind == .invalid)
        #expect(MosquittoError(code: 8).kind == .tls)
        #expect(MosquittoError(code: 5).kind == .connectionRefused)
    }

    @Test func refusalsUseConnackAndReasonStrings() {
        let v311 = MosquittoError.connectionRefused(reasonCode: 5, protocolVersion: .v311)
        #expect(v311.kind == .connectionRefused)
        #expect(v311.reasonCode == 5)
        #expect(v311.description.contains("not authorised"))
        let v5 = MosquittoError.connectionRefused(reasonCode: 0x87, protocolVersion: .v5)
        #expect(v5.reasonCode == 0x87)
        #expect(v5.description.contains("Not authorized"))
    }

    @Test func brokerDisconnectReasonIsNamed() {
        let takenOver = MosquittoError.disconnect(rc: 0x8E)
        #expect(takenOver.reasonCode == 0x8E)
        #expect(takenOver.description.lowercased().contains("session taken over"))
    }

    @Test func libraryVersionIsReported() {
        #expect(MosquittoLibrary.version.hasPrefix("2."))
    }
}

@Suite struct MosquittoClientConfigurationTests {
    private func make(_ configure: (inout MQTTClientConfiguration) -> Void) throws(MosquittoError) -> MosquittoClient {
        var configuration = MQTTClientConfiguration(clientID: "config-test")
        configure(&configuration)
        return try MosquittoClient(configuration: configuration) { _ in }
    }

    @Test func keepAliveBelowFiveSecondsIsRejected() {
        #expect(throws: MosquittoError.self) { try make { $0.keepAliveSeconds = 2 } }
    }

    @Test func persistentSessionNeedsAClientID() {
        #expect(throws: MosquittoError.self) {
            try make {
                $0.clientID = ""
                $0.cleanSession = false
            }
        }
        #expect(throws: Never.self) { try make { $0.clientID = "" } }
    }

    @Test func missingCAFileIsRejected() {
        let error = #expect(throws: MosquittoError.self) {
            try make { $0.tls = .init(caFile: "/nonexistent/ca.crt") }
        }
        #expect(error?.kind == .invalid)
    }

    @Test func publishWithoutConnectionFailsAndStopIsIdempotent() throws {
        let client = try make { _ in }
        let error = #expect(throws: MosquittoError.self) { try client.publish(topic: "t", payload: [1]) }
        #expect(error?.kind == .noConnection)
        client.stop()
        client.stop()
        #expect(throws: MosquittoError.self) { try client.start() }
        #expect(!client.isConnected)
    }
}

import CMosquitto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libmosquitto, or a connection the broker refused.
///
/// `code` is libmosquitto's `MOSQ_ERR_*` value; `description` comes from `mosquitto_strerror`, or for a refused
/// connection from `mosquitto_connack_string` (MQTT 3.1.1) / `mosquitto_reason_string` (MQTT 5).
public struct MosquittoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libmosquitto error code (`MOSQ_ERR_*` in mosquitto.h).
    public let code: Int
    /// For a refused connection or a broker-sent DISCONNECT: the CONNACK return code (MQTT 3.1.1) or the MQTT 5
    /// reason code. Nil otherwise.
    public let reasonCode: Int?
    /// Human-readable text.
    public let description: String

    /// A broad classification, for callers that react differently (retry, alert, give up).
    public enum Kind: Sendable, Hashable {
        /// Not connected (`MOSQ_ERR_NO_CONN`), e.g. publishing while a connection attempt is in progress.
        case noConnection
        /// The broker refused the connection (`MOSQ_ERR_CONN_REFUSED`), e.g. bad username or password.
        case connectionRefused
        /// The connection dropped (`MOSQ_ERR_CONN_LOST`, `MOSQ_ERR_KEEPALIVE`, socket errors).
        case connectionLost
        /// TLS setup or handshake failed (`MOSQ_ERR_TLS`), e.g. the server certificate does not verify.
        case tls
        /// Bad arguments or configuration (`MOSQ_ERR_INVAL`, `MOSQ_ERR_NOT_SUPPORTED`, oversize payload).
        case invalid
        /// Anything else.
        case other
    }

    /// The classification of `code`.
    public var kind: Kind {
        switch Int32(truncatingIfNeeded: code) {
        case MOSQ_ERR_NO_CONN.rawValue: .noConnection
        case MOSQ_ERR_CONN_REFUSED.rawValue: .connectionRefused
        case MOSQ_ERR_CONN_LOST.rawValue, MOSQ_ERR_KEEPALIVE.rawValue, MOSQ_ERR_ERRNO.rawValue: .connectionLost
        case MOSQ_ERR_TLS.rawValue, MOSQ_ERR_TLS_HANDSHAKE.rawValue: .tls
        case MOSQ_ERR_INVAL.rawValue, MOSQ_ERR_NOT_SUPPORTED.rawValue, MOSQ_ERR_PAYLOAD_SIZE.rawValue,
            MOSQ_ERR_OVERSIZE_PACKET.rawValue, MOSQ_ERR_MALFORMED_UTF8.rawValue, MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue:
            .invalid
        default: .other
        }
    }

    /// Creates an error for a libmosquitto return code. For `MOSQ_ERR_ERRNO` the text includes `strerror(errno)`,
    /// which libmosquitto leaves set.
    init(code: Int32) {
        self.code = Int(code)
        self.reasonCode = nil
        var text = String(cString: mosquitto_strerror(code))
        if code == MOSQ_ERR_ERRNO.rawValue {
            text += " (errno \(errno))"
        }
        self.description = text
    }

    /// Creates an error with the given code, reason and text.
    init(code: Int32, reasonCode: Int?, description: String) {
        self.code = Int(code)
        self.reasonCode = reasonCode
        self.description = description
    }

    /// A CONNACK refusal. MQTT 3.1.1 return codes (1–5) read through `mosquitto_connack_string`; MQTT 5 reason
    /// codes (0x80 and above) through `mosquitto_reason_string`.
    static func connectionRefused(reasonCode: Int32, protocolVersion: MQTTClientConfiguration.ProtocolVersion) -> MosquittoError {
        let text: String =
            switch protocolVersion {
            case .v311: String(cString: mosquitto_connack_string(reasonCode))
            case .v5: String(cString: mosquitto_reason_string(reasonCode))
            }
        return MosquittoError(
            code: MOSQ_ERR_CONN_REFUSED.rawValue, reasonCode: Int(reasonCode),
            description: "Connection refused by broker: \(text) (reason \(reasonCode))"
        )
    }

    /// The reason an established connection ended, from `on_disconnect`'s `rc`: a `MOSQ_ERR_*` code when
    /// libmosquitto noticed the loss, or an MQTT 5 reason code (0x80 and above) when the broker sent DISCONNECT.
    static func disconnect(rc: Int32) -> MosquittoError {
        if rc >= 0x80 {
            let text = String(cString: mosquitto_reason_string(rc))
            return MosquittoError(
                code: MOSQ_ERR_CONN_LOST.rawValue, reasonCode: Int(rc), description: "Disconnected by broker: \(text) (reason \(rc))"
            )
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue {
            return MosquittoError(code: MOSQ_ERR_CONN_LOST.rawValue)
        }
        return MosquittoError(code: rc)
    }

    /// Throws unless `rc` is `MOSQ_ERR_SUCCESS`. The one place C return codes become Swift errors.
    static func check(_ rc: Int32) throws(MosquittoError) {
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            throw MosquittoError(code: rc)
        }
    }
}

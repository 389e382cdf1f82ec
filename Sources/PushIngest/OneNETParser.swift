import Crypto
import Foundation
import GatewayCore

/// Reads a OneNET HTTP push body (the legacy multi-protocol / NB-IoT suite) into push entries, and computes its
/// signatures.
///
/// ## Envelope
/// `{"msg": ..., "msg_signature": "...", "nonce": "..."}`. `msg` is one message object or an array of them (batched
/// push). The signature is Base64(MD5(token + nonce + msg)), where msg is the text of the `msg` value exactly as it
/// appears in the body (for a JSON string, its content); the same formula as the URL verification. The encrypted
/// mode (`enc_msg`, AES with a platform-issued key) is not supported: such a body is refused with a clear error and
/// the push should be set to plaintext mode.
///
/// ## Mapping (docs/profiles.md)
/// - type 1 (data point) → a `RawMessage`, transport `.onenet`, topic `{productId}/{dev_id}/{ds_id}` (productId
///   `_` when the push carries none, which the legacy platform never does). Payload: a string `value` made only of
///   an even number of hex digits is decoded to bytes (NB transparent objects, `onenet.value` = `hex`); any other
///   string is its UTF-8 text (`text`); numbers, objects, arrays, booleans are their JSON text as sent (`json`).
/// - type 2 (device online/offline) → a `RawMessage` on `{productId}/{dev_id}` with an empty payload and
///   `event.online` = `status` (1 online, 0 offline); `onenet.login_type` when given.
/// - type 7 (result of a cached command) → a notice, counted and logged; nothing is stored.
/// - a message with another type or missing fields → its own dead letter (the other messages of the push go on).
///
/// Attributes: `platform.time_ms` (`at`), `platform.device_id` (`dev_id`), `platform.product_id`, `onenet.type`,
/// `onenet.ds_id`, `imei` when present, and `signal.*` for radio fields a message carries at its top level.
///
/// ## Deduplication key
/// SHA-256 of each message object's text: a retry repeats the messages exactly, while its nonce and signature may
/// change.
enum OneNETParser {
    /// The envelope of one push.
    struct Envelope {
        /// The message objects.
        var messages: [PushJSON]
        /// The bytes the message spans refer to: the body, or a `msg` string's content.
        var document: [UInt8]
        /// The text the signature covers.
        var signedText: [UInt8]
        /// `msg_signature`, if sent.
        var signature: String?
        /// `nonce`, if sent.
        var nonce: String?
        /// Set when the push is well-formed and signed but in a mode the receiver cannot read (`enc_msg`): the
        /// reason its dead letter carries.
        var unsupported: String?
    }

    /// Reads the envelope; throws when the body is not a OneNET push at all (the caller dead-letters it whole).
    static func envelope(_ body: [UInt8]) throws(PushParseError) -> Envelope {
        let root: PushJSON
        do {
            root = try PushJSON.parse(body)
        } catch {
            throw PushParseError(error.description)
        }
        guard root.members != nil else { throw PushParseError("the body is not a JSON object") }
        guard let msg = root["msg"] else {
            guard let encrypted = root["enc_msg"] else { throw PushParseError("missing 'msg'") }
            // Signed like msg, so it can be authenticated and kept as a dead letter, but not read.
            return Envelope(messages: [], document: body, signedText: encrypted.string.map { Array($0.utf8) } ?? PushFields.rawBytes(encrypted, in: body),
                            signature: root["msg_signature"]?.string, nonce: root["nonce"]?.string,
                            unsupported: "encrypted OneNET push (enc_msg) is not supported: set the push to plaintext mode (keep the token and signature)")
        }
        var document = body
        var value = msg
        var signed = PushFields.rawBytes(msg, in: body)
        if let text = msg.string {
            // Some integrations send msg as a JSON string holding the message(s); the signature then covers the
            // string's content.
            signed = Array(text.utf8)
            document = signed
            do {
                value = try PushJSON.parse(document)
            } catch {
                throw PushParseError("'msg' is a string that does not hold JSON: \(error.description)")
            }
        }
        let messages: [PushJSON]
        switch value.kind {
        case .object: messages = [value]
        case .array(let elements): messages = elements
        default: throw PushParseError("'msg' is neither an object nor an array")
        }
        return Envelope(messages: messages, document: document, signedText: signed, signature: root["msg_signature"]?.string,
                        nonce: root["nonce"]?.string)
    }

    /// Base64(MD5(token + nonce + text)): the signature OneNET sends with a push and with the URL verification.
    static func signature(token: String, nonce: String, text: [UInt8]) -> String {
        var md5 = Insecure.MD5()
        md5.update(data: Array(token.utf8))
        md5.update(data: Array(nonce.utf8))
        md5.update(data: text)
        return Data(md5.finalize()).base64EncodedString()
    }

    /// True when `received` (as sent; a space is read as the `+` a form decoder turned it into) equals `expected`.
    /// Constant time in the content: every byte is compared.
    static func signatureMatches(_ received: String, expected: String) -> Bool {
        let a = Array(received.utf8).map { $0 == UInt8(ascii: " ") ? UInt8(ascii: "+") : $0 }
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// One entry per message: to ingest, a notice, or a dead letter for a message that cannot be read.
    static func entries(_ envelope: Envelope, receiveTimeMs: Int64) -> [PushEntry] {
        envelope.messages.map { entry(for: $0, document: envelope.document, receiveTimeMs: receiveTimeMs) }
    }

    private static func entry(for message: PushJSON, document: [UInt8], receiveTimeMs: Int64) -> PushEntry {
        let text = PushFields.rawBytes(message, in: document)
        let key = PushKey(Array("onenet".utf8), text)
        do {
            return try read(message, text: text, key: key, document: document, receiveTimeMs: receiveTimeMs)
        } catch {
            let raw = RawMessage(transport: .onenet, topic: error.topic ?? "onenet", payload: text, receiveTimeMs: receiveTimeMs)
            return PushEntry(kind: .deadLetter, key: key, action: .deadLetter(DeadLetter(message: raw, reason: .malformed, error: error.message)))
        }
    }

    private static func read(_ message: PushJSON, text: [UInt8], key: PushKey, document: [UInt8], receiveTimeMs: Int64) throws(PushParseError) -> PushEntry {
        guard message.members != nil else { throw PushParseError("a OneNET message is not a JSON object") }
        guard let type = message["type"]?.int64 else { throw PushParseError("missing or non-integer 'type'") }
        let deviceID = try PushFields.topicLevel(message["dev_id"], "dev_id")
        let productValue = message["product_id"] ?? message["productId"]
        let productID = productValue == nil ? "_" : try PushFields.topicLevel(productValue, "product_id")
        let deviceTopic = "\(productID)/\(deviceID)"
        var attributes = ["platform.device_id": deviceID, "platform.product_id": productID, "onenet.type": String(type)]
        if let at = message["at"] {
            guard let ms = at.int64 else { throw PushParseError("'at' is not an integer (epoch ms)", topic: deviceTopic) }
            attributes["platform.time_ms"] = String(ms)
        }
        if let imei = message["imei"]?.scalarText, !imei.isEmpty, imei.utf8.count <= 64 { attributes["imei"] = imei }
        PushFields.liftSignals(from: message, into: &attributes)

        switch type {
        case 1:
            let stream = try PushFields.topicLevel(message["ds_id"], "ds_id")
            let topic = "\(deviceTopic)/\(stream)"
            guard let value = message["value"] else { throw PushParseError("type 1 message without 'value'", topic: topic) }
            attributes["onenet.ds_id"] = stream
            let payload: [UInt8]
            if let s = value.string {
                if let bytes = PushFields.hexBytes(s) {
                    payload = bytes
                    attributes["onenet.value"] = "hex"
                } else {
                    payload = Array(s.utf8)
                    attributes["onenet.value"] = "text"
                }
            } else {
                payload = PushFields.rawBytes(value, in: document)
                attributes["onenet.value"] = "json"
            }
            let raw = RawMessage(transport: .onenet, topic: topic, payload: payload, receiveTimeMs: receiveTimeMs, attributes: attributes)
            return PushEntry(kind: .data, key: key, action: .ingest(raw))
        case 2:
            guard let status = message["status"]?.int64, status == 0 || status == 1 else {
                throw PushParseError("type 2 message with a 'status' other than 0 or 1", topic: deviceTopic)
            }
            attributes["event.online"] = String(status)
            if let login = message["login_type"]?.int64 { attributes["onenet.login_type"] = String(login) }
            let raw = RawMessage(transport: .onenet, topic: deviceTopic, payload: [], receiveTimeMs: receiveTimeMs, attributes: attributes)
            return PushEntry(kind: status == 1 ? .online : .offline, key: key, action: .ingest(raw))
        case 7:
            var notice = ["platform.device_id": deviceID, "onenet.type": "7"]
            if let id = message["cmd_id"]?.scalarText { notice["onenet.cmd_id"] = String(id.prefix(128)) }
            if let t = message["cmd_type"]?.scalarText { notice["onenet.cmd_type"] = String(t.prefix(16)) }
            return PushEntry(kind: .commandResponse, key: key, action: .notice(notice))
        default:
            throw PushParseError("unsupported OneNET message type \(type)", topic: deviceTopic)
        }
    }
}

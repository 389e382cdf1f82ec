import Foundation
import GatewayCore

/// Reads a CTWing (AEP) subscription push body into push entries.
///
/// ## Mapping (docs/profiles.md)
/// - `dataReport` → one `RawMessage`, transport `.ctwing`, topic `{productId}/{deviceId}`. Payload: the bytes of
///   `payload.APPdata` after base64 decoding (transparent mode, attribute `ctwing.payload` = `appdata`), or, when the
///   platform already decoded the payload (profile / 物模型 mode), the JSON text of the `payload` object exactly as
///   the platform wrote it (`ctwing.payload` = `json`).
/// - `deviceOnlineOfflineReport` → a `RawMessage` on the same topic with an empty payload and `event.online` =
///   `1` (eventType 1) or `0` (eventType 0).
/// - `commandResponse` → a notice (counted, logged at debug with the task id and result code); nothing is stored.
/// - any other `messageType`, or a body that does not parse → a dead letter with the whole body.
///
/// Attributes on every message: `platform.time_ms` (the platform's `timestamp`), `platform.device_id`,
/// `platform.product_id`, `ctwing.message_type`, and where present `imei`, `imsi`, `iccid` (not the literal
/// `undefined` the platform sends), `ctwing.tenant_id`, `ctwing.protocol`, `ctwing.topic`, `ctwing.service_id`.
/// Radio fields (`RSRP`, `SINR`/`SNR`, `ECL`, `CSQ`, `Signal_Power`) at the envelope's top level, in a decoded
/// `payload` or its `serviceData` become `signal.rsrp`, `signal.sinr`, `signal.ecl`, `signal.csq`.
///
/// ## Deduplication key
/// (`deviceId`, `messageType`, `timestamp`, SHA-256 of the payload text / eventType / taskId): CTWing sends no
/// message id, and a retry repeats these exactly.
enum CTWingParser {
    /// Parses `body`; a body that is not a CTWing push at all throws (the caller dead-letters it whole).
    static func parse(_ body: [UInt8], receiveTimeMs: Int64) throws(PushParseError) -> PushEntry {
        let root: PushJSON
        do {
            root = try PushJSON.parse(body)
        } catch {
            throw PushParseError(error.description)
        }
        guard root.members != nil else { throw PushParseError("the body is not a JSON object") }
        guard let messageType = root["messageType"]?.string, !messageType.isEmpty else {
            throw PushParseError("missing 'messageType'")
        }
        let deviceID = try PushFields.topicLevel(root["deviceId"], "deviceId")
        let productID = root["productId"] == nil ? "_" : try PushFields.topicLevel(root["productId"], "productId")
        let timestamp = root["timestamp"]
        if let timestamp, timestamp.int64 == nil { throw PushParseError("'timestamp' is not an integer (epoch ms)") }
        let timeText = timestamp?.scalarText ?? ""

        var attributes: [String: String] = [
            "platform.device_id": deviceID, "platform.product_id": productID, "ctwing.message_type": messageType,
        ]
        if let t = timestamp?.int64 { attributes["platform.time_ms"] = String(t) }
        for (field, attribute) in [("IMEI", "imei"), ("IMSI", "imsi"), ("iccid", "iccid"), ("tenantId", "ctwing.tenant_id"),
                                   ("protocol", "ctwing.protocol"), ("topic", "ctwing.topic"), ("serviceId", "ctwing.service_id")]
        {
            if let text = root[field]?.scalarText, !text.isEmpty, text != "undefined", text.utf8.count <= 256 { attributes[attribute] = text }
        }
        PushFields.liftSignals(from: root, into: &attributes)
        let topic = "\(productID)/\(deviceID)"
        let idParts: [[UInt8]] = [Array("ctwing".utf8), Array(deviceID.utf8), Array(messageType.utf8), Array(timeText.utf8)]

        switch messageType {
        case "dataReport":
            guard let payload = root["payload"], payload.members != nil else {
                throw PushParseError("dataReport without a 'payload' object", topic: topic)
            }
            let bytes: [UInt8]
            if let appdata = payload["APPdata"] {
                guard let text = appdata.string else { throw PushParseError("'payload.APPdata' is not a string") }
                // Strict base64; the padding may be left out.
                let padded = text.utf8.count % 4 == 0 ? text : text + String(repeating: "=", count: 4 - text.utf8.count % 4)
                guard let data = Data(base64Encoded: padded) else { throw PushParseError("'payload.APPdata' is not valid base64", topic: topic) }
                bytes = [UInt8](data)
                attributes["ctwing.payload"] = "appdata"
            } else {
                bytes = PushFields.rawBytes(payload, in: body)
                attributes["ctwing.payload"] = "json"
                PushFields.liftSignals(from: payload, into: &attributes)
                PushFields.liftSignals(from: payload["serviceData"], into: &attributes)
            }
            let message = RawMessage(transport: .ctwing, topic: topic, payload: bytes, receiveTimeMs: receiveTimeMs, attributes: attributes)
            return PushEntry(kind: .data, key: PushKey(parts: idParts + [bytes]), action: .ingest(message))

        case "deviceOnlineOfflineReport":
            guard let event = root["eventType"]?.int64, event == 0 || event == 1 else {
                throw PushParseError("deviceOnlineOfflineReport with an 'eventType' other than 0 or 1", topic: topic)
            }
            attributes["event.online"] = String(event)
            let message = RawMessage(transport: .ctwing, topic: topic, payload: [], receiveTimeMs: receiveTimeMs, attributes: attributes)
            return PushEntry(kind: event == 1 ? .online : .offline, key: PushKey(parts: idParts + [Array(String(event).utf8)]), action: .ingest(message))

        case "commandResponse":
            let task = root["taskId"]?.scalarText ?? ""
            var notice = ["platform.device_id": deviceID, "platform.product_id": productID, "ctwing.task_id": task]
            if let result = root["result"] {
                notice["ctwing.result_code"] = result["resultCode"]?.scalarText ?? ""
                if let detail = result["resultDetail"]?.scalarText, !detail.isEmpty { notice["ctwing.result_detail"] = String(detail.prefix(256)) }
            }
            return PushEntry(kind: .commandResponse, key: PushKey(parts: idParts + [Array(task.utf8)]), action: .notice(notice))

        default:
            throw PushParseError("unsupported CTWing messageType '\(messageType.prefix(64))'", topic: topic)
        }
    }
}

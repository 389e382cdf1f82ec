import GatewayCore

/// The MQTT sink's payload: one JSON object per batch.
///
/// ```json
/// {"gateway":"gw-1","sink":"province-mqtt","seq":42,"stream":"rollup_1m","points":[
///   {"device":"d1","metric":"pressure","unit":"kPa","window":"1m","start":1767225600000,
///    "count":6,"min":1.5,"max":2,"avg":1.75,"sum":10.5,"last":1.9}]}
/// ```
/// Event batches carry `"events"` instead of `"points"`:
/// `{"kind":"alert","key":"r1:d1/firing","time":…,"device":"d1","rule":"r1","severity":"critical","state":"firing","value":87.5,"details":{…}}`.
///
/// `seq` is strictly increasing per sink and kept with the cursor: a receiver that sees a gap lost a batch, one
/// that sees a repeat (after a crash or a lost acknowledgement) got a replay of the same rows and may drop it.
public enum JSONBatch {
    /// Renders a batch. `details` of events are forwarded verbatim (they must be JSON object text).
    public static func render(_ batch: OutboxBatch, gateway: String) -> [UInt8] {
        var out = "{\"gateway\":"
        JSONText.appendQuoted(gateway, to: &out)
        out += ",\"sink\":"
        JSONText.appendQuoted(batch.sink, to: &out)
        out += ",\"seq\":\(batch.seq),\"stream\":\"\(batch.stream)\""
        if batch.stream.isRollup {
            out += ",\"points\":["
            let window = RollupWindow.label(batch.stream.rawValue)
            var first = true
            for row in batch.rows {
                for p in OutboxCodec.decodeRollups(row.body, windowMs: batch.stream.rawValue) ?? [] {
                    if !first { out += "," }
                    first = false
                    out += "{\"device\":"
                    JSONText.appendQuoted(p.device, to: &out)
                    out += ",\"metric\":"
                    JSONText.appendQuoted(p.metric, to: &out)
                    out += ",\"unit\":"
                    JSONText.appendQuoted(p.unit, to: &out)
                    out += ",\"window\":\"\(window)\",\"start\":\(p.startMs),\"count\":\(p.count),\"min\":\(number(p.min)),\"max\":\(number(p.max))"
                    out += ",\"avg\":\(number(p.avg)),\"sum\":\(number(p.sum)),\"last\":\(number(p.last))}"
                }
            }
        } else {
            out += ",\"events\":["
            var first = true
            for row in batch.rows {
                for e in OutboxCodec.decodeEvents(row.body) ?? [] {
                    if !first { out += "," }
                    first = false
                    out += "{\"kind\":\"\(e.kind.rawValue)\",\"key\":"
                    JSONText.appendQuoted(e.key, to: &out)
                    out += ",\"time\":\(e.timeMs),\"device\":"
                    JSONText.appendQuoted(e.device, to: &out)
                    out += ",\"rule\":"
                    JSONText.appendQuoted(e.rule, to: &out)
                    out += ",\"severity\":"
                    JSONText.appendQuoted(e.severity, to: &out)
                    out += ",\"state\":"
                    JSONText.appendQuoted(e.state, to: &out)
                    out += ",\"value\":\(number(e.value)),\"details\":\(e.detailsJSON.isEmpty ? "{}" : e.detailsJSON)}"
                }
            }
        }
        out += "]}"
        return Array(out.utf8)
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        var bytes: [UInt8] = []
        LineProtocol.appendNumber(v, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

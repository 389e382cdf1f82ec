import Foundation
import GatewayCore
import GatewayTesting
import Testing
@testable import Forwarder

/// Line protocol rendering and escaping, the MQTT JSON batch, gzip.
struct LineProtocolTests {
    @Test func rendersARollupPointWithSortedTagsAndWindowStartTimestamp() {
        let p = RollupPoint(device: "24e1000000000001", metric: "pressure", unit: "kPa", windowMs: 300_000, startMs: 1_767_225_600_000, count: 4,
                            min: -1.5, max: 12, sum: 20.25, last: 3.1)
        #expect(LineProtocol.line(p, gateway: "gw-1") ==
            "pressure,device=24e1000000000001,gateway=gw-1,unit=kPa,window=5m min=-1.5,max=12,avg=5.0625,sum=20.25,count=4,last=3.1 1767225600000\n")
    }

    @Test(arguments: [
        ("a b", "a\\ b"), ("a,b", "a\\,b"), ("a=b", "a\\=b"), ("a\\b", "a\\\\b"), ("line\nbreak", "line_break"), ("温度", "温度"),
    ])
    func escapesTagValues(raw: String, escaped: String) {
        let p = RollupPoint(device: raw, metric: "m", unit: "", windowMs: 60_000, startMs: 0, count: 1, min: 1, max: 1, sum: 1, last: 1)
        #expect(LineProtocol.line(p, gateway: "g").hasPrefix("m,device=\(escaped),gateway=g,window=1m "), "empty unit left out")
    }

    @Test func sanitisesMeasurementNames() {
        let p = RollupPoint(device: "d", metric: "soil temp.°C,x", unit: "", windowMs: 60_000, startMs: 0, count: 1, min: 1, max: 1, sum: 1, last: 1)
        #expect(LineProtocol.line(p, gateway: "g").hasPrefix("soil_temp___C_x,device=d,"))
    }

    @Test(arguments: [(0.0, "0"), (-0.0, "0"), (42, "42"), (-7, "-7"), (0.1, "0.1"), (1e-5, "1e-05"), (1.5e300, "1.5e+300"), (123456789012, "123456789012")])
    func printsNumbersShortest(value: Double, text: String) {
        var out: [UInt8] = []
        LineProtocol.appendNumber(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == text)
    }

    @Test(arguments: [(13.77, "13.77"), (-0.25, "-0.25"), (0.0001, "0.0001"), (-12345.678901, "-12345.678901"), (10.07, "10.07"),
                      (0.30000000000000004, "0.30000000000000004"), (13.771666666666667, "13.771666666666667"), (2.5e9 + 0.5, "2500000000.5")])
    func printsDecimalsWithoutTrailingZeros(value: Double, text: String) {
        var out: [UInt8] = []
        LineProtocol.appendNumber(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == text)
    }

    @Test func everyPrintedNumberParsesBackToTheSameDouble() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e-4, 9.999e8, 1e9, 0.1 + 0.2]
        for k in 0...8 {
            let scale = (0..<k).reduce(1.0) { r, _ in r * 10 }
            for _ in 0..<2_000 { values.append(Double(Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng)) / scale) }
        }
        for _ in 0..<5_000 {
            let v = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
            if v.isFinite { values.append(v) }
        }
        for _ in 0..<5_000 { values.append(Double.random(in: -1_000...1_000, using: &rng)) }
        var bad: [String] = []
        for v in values {
            var out: [UInt8] = []
            LineProtocol.appendNumber(v, to: &out)
            let text = String(decoding: out, as: UTF8.self)
            if Double(text) != v || (text.contains(".") && !text.contains("e") && text.hasSuffix("0")) { bad.append("\(v) -> \(text)") }
        }
        #expect(bad.isEmpty, "\(bad.prefix(5))")
    }

    @Test func rendersOnlyTheChosenFieldsInLineOrder() {
        let p = RollupPoint(device: "d", metric: "m", unit: "", windowMs: 60_000, startMs: 120_000, count: 4, min: -1.5, max: 12, sum: 20.25, last: 3.1)
        #expect(LineProtocol.line(p, gateway: "g", fields: [.avg, .max]) == "m,device=d,gateway=g,window=1m max=12,avg=5.0625 120000\n")
        #expect(LineProtocol.line(p, gateway: "g", fields: [.count]) == "m,device=d,gateway=g,window=1m count=4 120000\n")
        #expect(LineProtocol.line(p, gateway: "g", fields: [.last, .min]) == "m,device=d,gateway=g,window=1m min=-1.5,last=3.1 120000\n")
    }

    @Test func aBatchRendersAsTheConcatenationOfItsPointsAndADamagedRowIsAnError() async throws {
        var points: [RollupPoint] = []
        for i in 0..<2_500 {
            let x = Double(i)
            let unit = i % 2 == 0 ? "" : "m"
            points.append(RollupPoint(device: "dev \(i)", metric: "level", unit: unit, windowMs: 60_000, startMs: Int64(i) * 60_000, count: i % 7,
                                      min: x / 100, max: x * 1.5, sum: x / 3, last: -x))
        }
        var rows: [OutboxBatch.Row] = []
        for start in stride(from: 0, to: points.count, by: 1_000) {
            let end = min(start + 1_000, points.count)
            rows.append(OutboxBatch.Row(id: Int64(rows.count + 1), points: end - start, createdMs: 0, body: OutboxCodec.encode(points[start..<end])))
        }
        let sink = try HTTPLineProtocolSink(configuration: .init(name: "vm", url: "http://127.0.0.1:1/write", gateway: "gw", gzip: false))
        let rendered = try sink.render(OutboxBatch(sink: "vm", seq: 1, stream: .rollups(windowMs: 60_000), rows: rows))
        #expect(String(decoding: rendered, as: UTF8.self) == points.map { LineProtocol.line($0, gateway: "gw") }.joined())

        var damaged = rows
        damaged[1].body.removeLast(9)
        #expect(throws: UplinkSinkError.self) { try sink.render(OutboxBatch(sink: "vm", seq: 1, stream: .rollups(windowMs: 60_000), rows: damaged)) }
        await sink.shutdown()
    }

    @Test func rendersAlertsAndStatusChanges() {
        let a = UplinkEvent.alert(alertID: "high-level:d1", rule: "high level", device: "d1", severity: "critical", state: "firing", value: 3.5, timeMs: 99)
        #expect(LineProtocol.line(a, gateway: "g") == "citygate_alert,device=d1,gateway=g,rule=high\\ level,severity=critical,state=firing value=3.5 99\n")
        let s = UplinkEvent.status(DeviceStateChange(device: "d1", from: .online, to: .offline, atMs: 100))
        #expect(LineProtocol.line(s, gateway: "g") == "citygate_device_status,device=d1,gateway=g,state=offline value=0 100\n")
        #expect(s.key == "d1/100/offline")
        #expect(a.key == "high-level:d1/firing")
    }

    @Test func jsonBatchCarriesGatewaySequenceAndPoints() throws {
        let p = RollupPoint(device: "d\"1", metric: "m", unit: "kPa", windowMs: 60_000, startMs: 60_000, count: 2, min: 1, max: 2, sum: 3, last: 2)
        let batch = OutboxBatch(sink: "up", seq: 7, stream: .rollups(windowMs: 60_000),
                                rows: [.init(id: 1, points: 1, createdMs: 0, body: OutboxCodec.encode([p]))])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONBatch.render(batch, gateway: "gw"))) as? [String: Any])
        #expect(json["gateway"] as? String == "gw")
        #expect(json["seq"] as? Int == 7)
        #expect(json["stream"] as? String == "rollup_1m")
        let points = try #require(json["points"] as? [[String: Any]])
        #expect(points.count == 1)
        #expect(points[0]["device"] as? String == "d\"1")
        #expect(points[0]["start"] as? Int == 60_000)
        #expect(points[0]["avg"] as? Double == 1.5)

        let e = UplinkEvent.alert(alertID: "x", rule: "r", device: "d", severity: "warning", state: "resolved", value: 1, timeMs: 5, detailsJSON: "{\"a\":1}")
        let events = OutboxBatch(sink: "up", seq: 8, stream: .alerts, rows: [.init(id: 2, points: 1, createdMs: 0, body: OutboxCodec.encode([e]))])
        let ej = try #require(try JSONSerialization.jsonObject(with: Data(JSONBatch.render(events, gateway: "gw"))) as? [String: Any])
        let list = try #require(ej["events"] as? [[String: Any]])
        #expect(list.first?["key"] as? String == "x/resolved")
        #expect((list.first?["details"] as? [String: Any])?["a"] as? Int == 1)
    }

    @Test func codecRoundTripsAndRejectsTruncatedRows() {
        let points = (0..<50).map { i in
            RollupPoint(device: "dev-\(i)", metric: "m\(i % 3)", unit: i % 2 == 0 ? "" : "°C", windowMs: 60_000, startMs: Int64(i) * -60_000 + 5, count: i,
                        min: Double(i) - 0.5, max: .greatestFiniteMagnitude, sum: -0.0, last: 1e-300)
        }
        let body = OutboxCodec.encode(points)
        #expect(OutboxCodec.decodeRollups(body, windowMs: 60_000) == points)
        for cut in [1, 2, body.count / 2, body.count - 1] {
            #expect(OutboxCodec.decodeRollups(Array(body.prefix(cut)), windowMs: 60_000) == nil)
        }
        #expect(OutboxCodec.decodeEvents(body) == nil, "a rollup row is not an event row")
    }

    @Test func gzipBodiesDecompressWithTheGzipTool() async throws {
        guard ProcessRunner.which("gzip") != nil else { return }
        let text = Array(String(repeating: "pressure,device=d1,gateway=g,window=1m min=1,max=2 1767225600000\n", count: 200).utf8)
        let zipped = try #require(Gzip.compress(text))
        #expect(zipped.prefix(2) == [0x1F, 0x8B])
        #expect(zipped.count < text.count / 5)
        let out = try await ProcessRunner.check("gzip", ["-dc"], stdin: zipped)
        #expect(out.stdout == text)
    }

    @Test func aHigherGzipLevelIsNoLargerAndBothDecompress() async throws {
        guard ProcessRunner.which("gzip") != nil else { return }
        let text = Array((0..<2_000).map { "pressure,device=d\($0 % 97),gateway=g,window=1m min=\($0 % 13).25,max=2 \(1767225600000 + $0 * 60_000)\n" }.joined().utf8)
        let fast = try #require(Gzip.compress(text, level: 1))
        let small = try #require(Gzip.compress(text, level: 9))
        #expect(small.count <= fast.count)
        #expect(try await ProcessRunner.check("gzip", ["-dc"], stdin: fast).stdout == text)
        #expect(try await ProcessRunner.check("gzip", ["-dc"], stdin: small).stdout == text)
    }

    @Test func basicAuthorizationIsBase64() {
        #expect(Base64.encode(Array("Aladdin:open sesame".utf8)) == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        #expect(Base64.encode(Array("ab".utf8)) == "YWI=")
        #expect(Base64.encode([]) == "")
    }
}

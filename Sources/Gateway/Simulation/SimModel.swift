import Foundation

/// The device models the simulator knows, one per shipped profile id.
///
/// Adding a profile under device-profiles/ without adding a case here fails `SimulatorTests`.
enum SimModel: String, CaseIterable, Sendable {
    case boschTPS110 = "bosch-tps110"
    case dingtekDC410 = "dingtek-dc410"
    case dingtekDF702 = "dingtek-df702"
    case draginoLSE01 = "dragino-lse01"
    case draginoNDDS75 = "dragino-ndds75"
    case lianSmoke = "lian-smoke-ctwing"
    case em320Tilt = "milesight-em320-tilt"
    case em400MudNB = "milesight-em400-mud-nb"
    case em400Mud = "milesight-em400-mud"
    case em500CO2 = "milesight-em500-co2"
    case em500PP = "milesight-em500-pp"
    case em500SMTC = "milesight-em500-smtc"
    case gs524n = "milesight-gs524n"
    case ws558 = "milesight-ws558"
    case ocpp16j = "ocpp16j"
    case ykcV16 = "ykc-v16"
    case yunfeiPest = "yunfei-pest"

    /// How the payload is written on the wire.
    enum Encoding { case raw, asciiHex, json }

    var encoding: Encoding {
        switch self {
        case .draginoNDDS75: .asciiHex
        case .lianSmoke, .ocpp16j, .yunfeiPest: .json
        default: .raw
        }
    }

    /// MQTT subscription filter of the model's uplink topic (its profile's `match.mqtt` with captures as `+`).
    var subscriptionFilter: String {
        switch self {
        case .boschTPS110: "lora/bosch/tps110/+/+"
        case .dingtekDC410: "lora/dingtek/dc410/+/up"
        case .dingtekDF702: "lora/dingtek/df702/+/up"
        case .draginoLSE01: "lora/dragino/lse01/+/up"
        case .draginoNDDS75: "city/+/dragino/ndds75/+/up"
        case .lianSmoke: "ctwing/15014772/+"
        case .em320Tilt: "lora/milesight/em320-tilt/+/up"
        case .em400MudNB: "nb/milesight/em400-mud/+/up"
        case .em400Mud: "lora/milesight/em400-mud/+/up"
        case .em500CO2: "lora/milesight/em500-co2/+/up"
        case .em500PP: "lora/milesight/em500-pp/+/up"
        case .em500SMTC: "lora/milesight/em500-smtc/+/up"
        case .gs524n: "lora/milesight/gs524n/+/up"
        case .ws558: "lora/milesight/ws558/+/up"
        case .ocpp16j: "ocpp/+/in"
        case .ykcV16: "ykc/+/up"
        case .yunfeiPest: "/yfkj/+/pub/+"
        }
    }

    /// The level the `unknownTopic` malformation appends to a device's topic.
    static let unroutedSuffix = "/debug"

    /// `report_interval` of the shipped profile, in seconds.
    var profileIntervalSeconds: Int64 {
        switch self {
        case .boschTPS110, .lianSmoke: 86_400
        case .dingtekDC410, .dingtekDF702, .gs524n: 43_200
        case .em320Tilt: 64_800
        case .draginoLSE01, .draginoNDDS75, .ws558: 1_200
        case .em400Mud, .em400MudNB, .yunfeiPest: 1_800
        case .em500CO2, .em500PP, .em500SMTC: 600
        case .ocpp16j, .ykcV16: 300
        }
    }

    // MARK: identities

    static let districts = ["lixia", "shizhong", "huaiyin", "tianqiao", "licheng", "changqing"]

    /// OCPP charge point flavours: id prefix, vendor, model, firmware, phases, nominal kW.
    static let ocppVendors: [(prefix: String, vendor: String, model: String, firmware: String, phases: Int, kw: Double)] = [
        ("keba", "Keba AG", "KC-P30-ES240022-E0R", "1.18.100", 3, 11),
        ("enplus", "EN+", "AC011K-AE-25", "1.1.4", 1, 7.4),
        ("growatt", "Growatt", "THOR 22AS-P", "1.0.4", 3, 22),
        ("abb", "ABB", "TAC-W22-T-RD-M-0", "1.6.9", 3, 22),
        ("wallbox", "Wall Box Chargers", "PLP1-0-2-4-9-002", "5.5.10", 1, 7.4),
    ]

    static let yunfeiTypes = ["cbd", "scd", "xycb"]

    func makeDevice(modelKey: UInt64, index: Int) -> SimDevice {
        let key = SimRNG.mix(modelKey ^ SimRNG.mix(UInt64(index) &+ 1))
        let phase = SimRNG.unit(key ^ 0x9A5E)
        func eui(_ prefix: String) -> String { SimIdentity.devEUI(prefix: prefix, key: modelKey, index: index) }
        func make(_ id: String, _ topic: String, variant: Int = 0, extra: [String] = []) -> SimDevice {
            SimDevice(key: key, index: index, id: id, topic: topic, phase: phase, variant: variant, extra: extra)
        }
        func digits(_ salt: UInt64, _ n: Int) -> String {
            var modulus: UInt64 = 1
            for _ in 0..<n { modulus *= 10 }
            return SimIdentity.digits(SimRNG.mix(key ^ salt) % modulus, count: n)
        }
        func iccid() -> String {
            let body = "898604" + digits(0x1CC1D, 13)
            return body + String(SimIdentity.luhnDigit(body))
        }
        switch self {
        case .boschTPS110:
            let id = eui("70b3d5e75e")
            return make(id, "lora/bosch/tps110/\(id)")
        case .dingtekDC410:
            let id = eui("d1ec0410")
            return make(id, "lora/dingtek/dc410/\(id)/up")
        case .dingtekDF702:
            let id = eui("d1ec0702")
            return make(id, "lora/dingtek/df702/\(id)/up", variant: index % 2 == 0 ? 1 : 0)
        case .draginoLSE01:
            let id = eui("a84041")
            return make(id, "lora/dragino/lse01/\(id)/up", variant: index % 7 == 6 ? 1 : 0)
        case .draginoNDDS75:
            let imei = SimIdentity.imei(tac: "86841105", key: modelKey, index: index)
            let gen2 = index % 5 == 4
            let bin = index % 2 == 1
            let id = gen2 ? "f" + imei : String(imei.dropFirst(3))
            let district = SimModel.districts[index % SimModel.districts.count]
            return make(id, "city/\(district)/dragino/ndds75/\(id)/up", variant: (gen2 ? 1 : 0) | (bin ? 2 : 0))
        case .lianSmoke:
            let imei = SimIdentity.imei(tac: "86037405", key: modelKey, index: index)
            let platformID = SimIdentity.hex(SimRNG.mix(key ^ 0xC7), count: 16) + SimIdentity.hex(SimRNG.mix(key ^ 0xC8), count: 16)
            let cell = digits(0xCE11, 8)
            return make(imei, "ctwing/15014772/\(platformID)", extra: [platformID, cell])
        case .em320Tilt:
            let id = eui("24e1247f32")
            return make(id, "lora/milesight/em320-tilt/\(id)/up")
        case .em400Mud:
            let id = eui("24e124713b")
            return make(id, "lora/milesight/em400-mud/\(id)/up", variant: index % 2)
        case .em400MudNB:
            let imei = SimIdentity.imei(tac: "86850806", key: modelKey, index: index)
            let imsi = "46004" + digits(0x1B51, 10)
            let serial = "6749D1" + SimIdentity.hex(SimRNG.mix(key ^ 0x5E41), count: 10).uppercased()
            return make(imei, "nb/milesight/em400-mud/\(imei)/up", variant: index % 2, extra: [imsi, iccid(), serial])
        case .em500CO2:
            let id = eui("24e124126c")
            return make(id, "lora/milesight/em500-co2/\(id)/up")
        case .em500PP:
            let id = eui("24e124148b")
            return make(id, "lora/milesight/em500-pp/\(id)/up")
        case .em500SMTC:
            let id = eui("24e124126d")
            return make(id, "lora/milesight/em500-smtc/\(id)/up", variant: index % 2)
        case .gs524n:
            let id = eui("24e124538c")
            return make(id, "lora/milesight/gs524n/\(id)/up")
        case .ws558:
            let id = eui("24e124756e")
            return make(id, "lora/milesight/ws558/\(id)/up", variant: index % 8)
        case .ocpp16j:
            let v = index % SimModel.ocppVendors.count
            let serial = SimIdentity.digits(SimIdentity.serial(key: modelKey, index: index, modulus: 100_000_000), count: 8)
            let id = "\(SimModel.ocppVendors[v].prefix)-\(serial)"
            return make(id, "ocpp/\(id)/in", variant: v, extra: [serial])
        case .ykcV16:
            let district = ["02", "03", "04", "05", "06", "11", "13", "15"][index % 8]
            let pile = "3201" + district + SimIdentity.digits(SimIdentity.serial(key: modelKey, index: index, modulus: 100_000_000), count: 8)
            return make(pile, "ykc/\(pile)/up")
        case .yunfeiPest:
            let imei = SimIdentity.imei(tac: "86565004", key: modelKey, index: index)
            let type = SimModel.yunfeiTypes[index % 3]
            var w = SimWriter(capacity: 12)
            w.fixed(34.70 + SimRNG.unit(key ^ 0x1A7) * 0.3, 6)
            let lat = String(decoding: w.bytes, as: UTF8.self)
            w = SimWriter(capacity: 12)
            w.fixed(113.50 + SimRNG.unit(key ^ 0x1A9) * 0.4, 6)
            let lng = String(decoding: w.bytes, as: UTF8.self)
            return make(imei, "/yfkj/\(type)/pub/\(imei)", variant: index % 3, extra: [iccid(), lat, lng])
        }
    }

    // MARK: generating

    func generate(dev: SimDevice, ctx: inout SimContext, anomaly: Bool) -> SimOutput {
        switch self {
        case .boschTPS110: SimNeuron.tps110(dev, &ctx, anomaly)
        case .dingtekDC410: SimNeuron.dc410(dev, &ctx, anomaly)
        case .dingtekDF702: SimNeuron.df702(dev, &ctx, anomaly)
        case .draginoNDDS75: SimNeuron.ndds75(dev, &ctx, anomaly)
        case .lianSmoke: SimNeuron.lian(dev, &ctx, anomaly)
        case .em320Tilt: SimNeuron.em320(dev, &ctx, anomaly)
        case .em400Mud: SimNeuron.em400(dev, &ctx, anomaly)
        case .em400MudNB: SimNeuron.em400NB(dev, &ctx, anomaly)
        case .em500PP: SimNeuron.em500pp(dev, &ctx, anomaly)
        case .gs524n: SimNeuron.gs524n(dev, &ctx, anomaly)
        case .ws558: SimNeuron.ws558(dev, &ctx, anomaly)
        case .ocpp16j: SimCharger.ocpp(dev, &ctx, anomaly)
        case .ykcV16: SimCharger.ykc(dev, &ctx, anomaly)
        case .draginoLSE01: SimFarm.lse01(dev, &ctx, anomaly)
        case .em500CO2: SimFarm.em500co2(dev, &ctx, anomaly)
        case .em500SMTC: SimFarm.em500smtc(dev, &ctx, anomaly)
        case .yunfeiPest: SimFarm.yunfei(dev, &ctx, anomaly)
        }
    }

    // MARK: breaking

    /// Breaks a well-formed message so that it dead-letters; returns the variant actually applied.
    func malform(
        _ good: SimOutput, dev: SimDevice, ctx: inout SimContext, variant: SimulatedMessage.Malformation
    ) -> (SimOutput, SimulatedMessage.Malformation) {
        var out = good
        switch variant {
        case .oversize:
            // Past the gateway's 64 KiB limit, whatever the encoding.
            let extra = 65_537 + ctx.rng.int(0, 4_096) - out.payload.count
            let filler: UInt8 = encoding == .raw ? 0x00 : 0x20
            out.payload.append(contentsOf: repeatElement(filler, count: max(1, extra)))
            return (out, .oversize)
        case .unknownTopic:
            // An extra level: no shipped template (all fixed depth) claims it.
            out.topic += SimModel.unroutedSuffix
            return (out, .unknownTopic)
        case .truncated:
            switch encoding {
            case .json:
                out.payload.removeLast(max(2, out.payload.count / 3))
            case .asciiHex:
                out.payload = Array(out.payload.prefix(16))  // 8 bytes: no NDDS75 layout has that length
            case .raw:
                if self == .gs524n {
                    out.payload = Array(out.payload.prefix(4))
                } else {
                    out.payload.removeLast()
                }
            }
            return (out, .truncated)
        case .badEncoding where encoding == .asciiHex:
            // Non-hex text, as a misconfigured device or a log line would send.
            out.payload[5] = 0x7A  // 'z'
            out.payload.append(contentsOf: "\r\nERROR".utf8)
            return (out, .badEncoding)
        case .badEncoding where encoding == .json:
            // Single quotes: a classic hand-built "JSON".
            if let i = out.payload.firstIndex(of: 0x22) { out.payload[i] = 0x27 }
            return (out, .badEncoding)
        case .badEncoding, .corrupted:
            return (corrupt(out, dev: dev, ctx: &ctx), .corrupted)
        }
    }

    /// A flipped check byte (or the nearest equivalent the profile rejects).
    private func corrupt(_ good: SimOutput, dev: SimDevice, ctx: inout SimContext) -> SimOutput {
        var out = good
        switch self {
        case .gs524n:
            out.payload[5] ^= UInt8(1 << ctx.rng.int(0, 7))  // sum8 no longer 0
        case .ykcV16:
            // The YKC profile only warns on a CRC mismatch (vendor samples fail it), so the length byte is flipped.
            out.payload[1] ^= 0x01
        case .dingtekDC410, .dingtekDF702:
            out.payload[out.payload.count - 1] = 0x18  // trailer 0x81 with its nibbles swapped
        case .em400MudNB:
            out.payload[4] ^= 0x02  // length field
        case .draginoLSE01:
            out.payload.append(0x00)  // 12 bytes
        case .boschTPS110:
            // A startup frame one byte short: the size assertion rejects it.
            if let slash = out.topic.lastIndex(of: "/") { out.topic = String(out.topic[..<slash]) + "/3" }
            out.payload = Array(repeating: 0, count: 16)
        case .em320Tilt, .em400Mud, .em500CO2, .em500PP, .em500SMTC, .ws558:
            out.payload[0] ^= 0x08  // channel byte: unknown TLV key
        case .draginoNDDS75:
            out.payload.append(contentsOf: "00".utf8)  // one byte too many for any layout
        case .lianSmoke:
            var w = SimWriter(capacity: 120)
            w.text("{\"timestamp\":"); w.int(Int(ctx.t)); w.text(",\"messageType\":\"dataReport\",\"deviceId\":")
            w.quoted(dev.extra[0]); w.text(",\"payload\":{\"serviceData\":{\"Alarm_Status\":7}}}")  // no IMEI
            out.payload = w.bytes
        case .ocpp16j:
            var w = SimWriter(capacity: 40)
            w.text("[9,\""); w.int(ctx.rng.int(1, 99_999)); w.text("\",\"MeterValues\",{}]")  // not 2, 3 or 4
            out.payload = w.bytes
        case .yunfeiPest:
            var w = SimWriter(capacity: 80)
            w.text("{\"cmd\":\"upgrade\",\"ext\":{\"imei\":"); w.quoted(dev.id); w.text(",\"stamp\":\"")
            SimTime.writeCompact(ctx.t, offsetSeconds: 8 * 3600, into: &w)
            w.text("\"}}")
            out.payload = w.bytes
        }
        return out
    }
}

// MARK: - shared value helpers

enum SimValues {
    /// 2024-01-01T00:00:00Z: counters (energy registers) start from their base value here.
    static let installEpochSeconds: Int64 = 1_704_067_200

    /// Battery %, draining over a ~500-day life and replaced at 25 %.
    static func batteryPercent(_ dev: SimDevice, _ c: SimClock) -> Int {
        let life: Int64 = 500
        let age = ((c.day + Int64(dev.trait(0xBA7, 0, Double(life)))) % life + life) % life
        return max(1, min(100, 100 - Int(Double(age) * 75 / Double(life))))
    }

    /// Battery mV for Li-SOCl2 cells (Dragino): 3.65 V fresh, 3.2 V before replacement.
    static func batteryMilliVolts(_ dev: SimDevice, _ c: SimClock, _ rng: inout SimRNG) -> Int {
        let pct = Double(batteryPercent(dev, c))
        return Int(3_200 + (pct - 25) / 75 * 450 + rng.gaussian(4))
    }

    /// NB-IoT CSQ 0...31 with a per-device mean; 99 (unknown) now and then.
    static func csq(_ dev: SimDevice, _ rng: inout SimRNG, unknownChance: Double = 0.01) -> Int {
        if rng.chance(unknownChance) { return 99 }
        return max(1, min(31, Int((dev.trait(0xC59, 9, 27) + rng.gaussian(2)).rounded())))
    }

    /// Seconds of darkness (18:00-06:00 local, shifted) between the install epoch and `t`; grows monotonically.
    static func nightSeconds(_ c: SimClock, offsetSeconds: Int64, shiftSeconds: Int64) -> Int64 {
        func cumulative(_ unixSeconds: Int64) -> Int64 {
            let l = unixSeconds + offsetSeconds - shiftSeconds
            let days = SimTime.floorDiv(l, 86_400)
            let r = l - days * 86_400
            return days * 43_200 + min(r, 21_600) + max(0, r - 64_800)
        }
        let now = SimTime.floorDiv(c.t, 1000)
        return max(0, cumulative(now) - cumulative(installEpochSeconds))
    }
}

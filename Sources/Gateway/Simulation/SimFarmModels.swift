import Foundation

/// Farm monitors: soil probes, greenhouse CO2, pest lamps.
enum SimFarm {
    struct Soil {
        var moisture: Double  // %
        var temperature: Double  // degC
        var conductivity: Double  // uS/cm
    }

    /// Soil: wettest after the early-morning irrigation, driest late afternoon; the soil temperature lags the air.
    static func soil(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> Soil {
        let c = ctx.clock
        var moisture = dev.trait(0x5011, 22, 38) + 4 * c.cycle(peak: 6.5) + ctx.rng.gaussian(0.3)
        let temperature = dev.trait(0x5012, 15, 22) + 3 * c.cycle(peak: 16.5) + ctx.rng.gaussian(0.1)
        var ec = dev.trait(0x5013, 300, 1_400) * moisture / 30 + ctx.rng.gaussian(10)
        if anomaly {
            if ctx.rng.chance(0.5) {
                moisture = ctx.rng.uniform(2, 6)  // irrigation failure / probe pulled out
                ec = ctx.rng.uniform(20, 80)
            } else {
                ec = ctx.rng.uniform(6_000, 12_000)  // fertiliser overdose
            }
        }
        return Soil(moisture: max(0, moisture), temperature: temperature, conductivity: max(0, ec))
    }

    // MARK: Dragino LSE01 (11 bytes big-endian)

    static func lse01(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let battery = SimValues.batteryMilliVolts(dev, c, &ctx.rng)
        let air = dev.trait(0x5014, 17, 23) + 8 * c.cycle(peak: 14) + ctx.rng.gaussian(0.2)
        let s = soil(dev, &ctx, anomaly)
        var w = SimWriter(capacity: 11)
        w.u16be(battery & 0x3FFF)
        w.u16be(dev.variant == 1 ? 0x7FFF : Int((air * 10).rounded()))  // 0x7FFF: no DS18B20 probe fitted
        w.u16be(Int((min(s.moisture, 100) * 100).rounded()))
        w.u16be(Int((s.temperature * 100).rounded()))
        w.u16be(Int(s.conductivity.rounded()))
        w.u8(0x00)  // normal mode, no interrupt
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Milesight EM500-SMTC (TLV; moisture encoding depends on firmware)

    static func em500smtc(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let s = soil(dev, &ctx, anomaly)
        var w = SimWriter(capacity: 15)
        w.u8(0x01); w.u8(0x75); w.u8(SimValues.batteryPercent(dev, c))
        w.u8(0x03); w.u8(0x67); w.u16le(Int((s.temperature * 10).rounded()))
        if dev.variant == 1 {
            w.u8(0x04); w.u8(0xCA); w.u16le(Int((min(s.moisture, 100) * 100).rounded()))  // newer firmware
        } else {
            w.u8(0x04); w.u8(0x68); w.u8(Int((min(s.moisture, 100) * 2).rounded()))  // older firmware
        }
        w.u8(0x05); w.u8(0x7F); w.u16le(Int(s.conductivity.rounded()))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Milesight EM500-CO2 (greenhouse)

    static func em500co2(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        var temp = dev.trait(0xC021, 20, 24) + 7 * c.cycle(peak: 14) + ctx.rng.gaussian(0.2)
        let humidity = max(20, min(98, dev.trait(0xC022, 62, 75) - 18 * c.cycle(peak: 14) + ctx.rng.gaussian(1)))
        // Plants respire at night (CO2 builds up towards dawn) and draw it down under the midday sun.
        var co2 = dev.trait(0xC023, 600, 760) + 330 * c.cycle(peak: 5) + ctx.rng.gaussian(15)
        let hpa = 1_013 + 4 * c.cycle(peak: 10) + dev.trait(0xC024, -6, 6) + ctx.rng.gaussian(0.2)
        if anomaly {
            if ctx.rng.chance(0.5) {
                co2 = ctx.rng.uniform(3_000, 5_000)  // faulty CO2 burner / closed vents
            } else {
                temp = ctx.rng.uniform(41, 48)  // ventilation failure on a sunny day
            }
        }
        var w = SimWriter(capacity: 18)
        w.u8(0x01); w.u8(0x75); w.u8(SimValues.batteryPercent(dev, c))
        w.u8(0x03); w.u8(0x67); w.u16le(Int((temp * 10).rounded()))
        w.u8(0x04); w.u8(0x68); w.u8(Int((humidity * 2).rounded()))
        w.u8(0x05); w.u8(0x7D); w.u16le(Int(max(350, co2).rounded()))
        w.u8(0x06); w.u8(0x73); w.u16le(Int((hpa * 10).rounded()))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Yunfei pest lamps / traps (JSON; stamp in China time)

    static func yunfei(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let type = dev.variant  // 0 cbd (forecast lamp), 1 scd (insecticidal lamp), 2 xycb (pheromone trap)
        let slot = ctx.t / max(ctx.intervalMs, 1)
        let night = c.isNight(shiftMinutes: dev.trait(0xF00, -30, 30))
        let status = (slot + Int64(dev.index)) % 6 == 0 || (anomaly && ctx.rng.chance(0.5))
        var w = SimWriter(capacity: 420)
        if status {
            let tilted = anomaly ? 1 : 0
            let volts = 12.0 + 1.1 * max(0, c.cycle(peak: 15)) + dev.trait(0xB00, -0.3, 0.3) + ctx.rng.gaussian(0.03)
            let solar = night ? 0.0 : 17.5 + ctx.rng.gaussian(0.3)
            w.text("{\"cmd\":\"status\",\"ext\":{\"imei\":"); w.quoted(dev.id)
            w.text(",\"iccid\":"); w.quoted(dev.extra[0])
            w.text(",\"csq\":"); w.int(SimValues.csq(dev, &ctx.rng, unknownChance: 0))
            w.text(",\"dtype\":"); w.int(type + 1)
            w.text(",\"dver\":\"1.0.")
            w.int(dev.index % 4)
            w.text("\",\"rps\":"); w.int(0)
            w.text(",\"lps\":"); w.int(night ? 0 : 1)  // daylight protection keeps the lamp off
            w.text(",\"tps\":0,\"dps\":"); w.int(tilted)
            w.text(",\"upds\":"); w.int(tilted)
            w.text(",\"dnds\":0,\"ws\":"); w.int(night && !anomaly ? 1 : 0)
            w.text(",\"lat\":"); w.quoted(dev.extra[1]); w.text(",\"lng\":"); w.quoted(dev.extra[2])
            if dev.index % 2 == 0 {
                w.text(",\"cv\":"); w.int(Int(solar * 1000)); w.text(",\"bv\":"); w.int(Int(volts * 1000))  // mV numbers
            } else {
                w.text(",\"cv\":\""); w.fixed(solar, 3); w.text("\",\"bv\":\""); w.fixed(volts, 1); w.text("\"")  // V strings
            }
            w.text(",\"stamp\":\"")
            SimTime.writeCompact(c.t, offsetSeconds: 8 * 3600, into: &w)
            w.text("\"}}")
            return SimOutput(topic: dev.topic, payload: w.bytes)
        }
        // Catch since the last report: lamps work at night; the trap lure works around the clock.
        let perHour = type == 2 ? 1.5 + 1.0 * c.cycle(peak: 20) : (night ? dev.trait(0xF01, 15, 45) : 0.3)
        var count = max(0, Int((perHour * Double(ctx.intervalMs) / 3_600_000 * (1 + ctx.rng.gaussian(0.3)) + ctx.rng.uniform()).rounded(.down)))
        if anomaly { count = ctx.rng.int(300, 900) }  // outbreak
        let air = dev.trait(0xF02, 18, 24) + 7 * c.cycle(peak: 14) + ctx.rng.gaussian(0.2)
        let rh = max(15, min(99, 65 - 20 * c.cycle(peak: 14) + ctx.rng.gaussian(1)))
        w.text("{\"cmd\":\"data\",\"ext\":{")
        switch type {
        case 1: w.text("\"ct\":\""); w.int(count); w.text("\",")  // SCD firmware sends the count as a string
        case 2: w.text("\"infr_ct\":"); w.int(count); w.text(",")
        default: w.text("\"ct\":"); w.int(count); w.text(",")
        }
        w.text("\"at\":"); w.fixed(air, 1)
        w.text(",\"ah\":"); w.fixed(rh, 1)
        w.text(",\"stamp\":\"")
        SimTime.writeCompact(c.t, offsetSeconds: 8 * 3600, into: &w)
        w.text("\"}}")
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }
}

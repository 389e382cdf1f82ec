import Foundation

/// EV chargers: OCPP 1.6J charge points (JSON arrays bridged to MQTT) and YKC 1.6 piles (binary 0x13 frames).
///
/// Each charger has a fixed daily plan of sessions (start, duration), so its state at any simulated time is a
/// pure function of that time and its energy register grows exactly while it charges.
enum SimCharger {
    enum State: Equatable {
        case available, preparing, charging, finishing

        var ocppName: String {
            switch self {
            case .available: "Available"
            case .preparing: "Preparing"
            case .charging: "Charging"
            case .finishing: "Finishing"
            }
        }
    }

    static let preparingSeconds = 180
    static let finishingSeconds = 120

    /// Daily sessions (local second of day, duration s). AC chargers: 1-2 long sessions; DC piles: 4 short ones.
    static func sessions(_ dev: SimDevice, dc: Bool) -> [(start: Int, duration: Int)] {
        if dc {
            let windows: [(Double, Double)] = [(6.5, 9), (11, 13), (15, 17), (19, 22)]
            return windows.enumerated().map { i, w in
                (Int(dev.trait(0xD0 + UInt64(i), w.0, w.1) * 3600), Int(dev.trait(0xE0 + UInt64(i), 25, 60) * 60))
            }
        }
        var list = [(Int(dev.trait(0xA0, 7, 10) * 3600), Int(dev.trait(0xA1, 1.5, 4) * 3600))]
        if dev.index % 2 == 0 { list.append((Int(dev.trait(0xA2, 17.5, 20) * 3600), Int(dev.trait(0xA3, 1, 3) * 3600))) }
        return list
    }

    /// State at a local second of day, the session index and the seconds charged into it.
    static func state(_ plan: [(start: Int, duration: Int)], _ c: SimClock) -> (State, session: Int, into: Int) {
        let s = c.secondOfDay
        for (i, p) in plan.enumerated() {
            if s >= p.start - preparingSeconds, s < p.start { return (.preparing, i, 0) }
            if s >= p.start, s < p.start + p.duration { return (.charging, i, s - p.start) }
            if s >= p.start + p.duration, s < p.start + p.duration + finishingSeconds { return (.finishing, i, p.duration) }
        }
        return (.available, -1, 0)
    }

    /// Seconds spent charging since the install epoch (monotonic in time).
    static func chargedSeconds(_ plan: [(start: Int, duration: Int)], _ c: SimClock, offsetSeconds: Int64) -> Int64 {
        func cumulative(_ unixSeconds: Int64) -> Int64 {
            let l = unixSeconds + offsetSeconds
            let days = SimTime.floorDiv(l, 86_400)
            let r = Int(l - days * 86_400)
            var total: Int64 = 0
            var partial = 0
            for p in plan {
                total += Int64(p.duration)
                partial += min(max(r - p.start, 0), p.duration)
            }
            return days * total + Int64(partial)
        }
        return max(0, cumulative(SimTime.floorDiv(c.t, 1000)) - cumulative(SimValues.installEpochSeconds))
    }

    // MARK: OCPP 1.6J

    static let faultCodes = ["GroundFailure", "OverCurrentFailure", "HighTemperature", "OverVoltage", "PowerSwitchFailure"]

    static func ocpp(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let flavour = SimModel.ocppVendors[dev.variant]
        let plan = sessions(dev, dc: false)
        let (st, session, _) = state(plan, c)
        let (prevSt, _, _) = state(plan, ctx.previous)
        let nominalW = flavour.kw * 1000 * dev.trait(0xF1, 0.85, 1.0)  // the car limits the power a little
        let charged = chargedSeconds(plan, c, offsetSeconds: ctx.offsetSeconds)
        let energyWh = dev.trait(0xE9, 150_000, 4_000_000) + nominalW * Double(charged) / 3600
        let msgID = Int((ctx.t / max(ctx.intervalMs, 1)) % 1_000_000)
        var w = SimWriter(capacity: 900)

        if anomaly, ctx.rng.chance(0.7) {
            // Fault report.
            let code = faultCodes[ctx.rng.int(0, faultCodes.count - 1)]
            w.text("[2,\""); w.int(msgID); w.text("\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":")
            w.quoted(code); w.text(",\"status\":\"Faulted\",\"timestamp\":\"")
            SimTime.writeISO8601(c.t, into: &w)
            w.text("\",\"vendorErrorCode\":\"E"); w.int(ctx.rng.int(100, 999)); w.text("\"}]")
            return SimOutput(topic: dev.topic, payload: w.bytes)
        }
        if !anomaly, ctx.rng.chance(0.002) {
            w.text("[2,\""); w.int(msgID); w.text("\",\"BootNotification\",{\"chargePointVendor\":"); w.quoted(flavour.vendor)
            w.text(",\"chargePointModel\":"); w.quoted(flavour.model)
            w.text(",\"chargePointSerialNumber\":"); w.quoted(dev.extra[0])
            w.text(",\"chargeBoxSerialNumber\":"); w.quoted(dev.extra[0])
            w.text(",\"firmwareVersion\":"); w.quoted(flavour.firmware); w.text("}]")
            return SimOutput(topic: dev.topic, payload: w.bytes)
        }
        if !anomaly, st != prevSt {
            w.text("[2,\""); w.int(msgID); w.text("\",\"StatusNotification\",{\"connectorId\":1,\"errorCode\":\"NoError\",\"status\":")
            w.quoted(st.ocppName); w.text(",\"timestamp\":\"")
            SimTime.writeISO8601(c.t, into: &w)
            w.text("\"")
            if flavour.prefix == "enplus" {
                // EN+ puts JSON inside the info string.
                let reason = st == .preparing ? "plugInGun" : (st == .charging ? "startCharge" : (st == .finishing ? "stopCharge" : "plugOutGun"))
                w.text(",\"vendorId\":\"EN+\",\"info\":\"{\\\"reason\\\":\\\""); w.text(reason); w.text("\\\",\\\"cpv\\\":0,\\\"rv\\\":0}\"")
            } else if flavour.prefix == "wallbox" {
                w.text(",\"vendorId\":\"com.wallbox\"")
            }
            w.text("}]")
            return SimOutput(topic: dev.topic, payload: w.bytes)
        }

        // MeterValues.
        let charging = st == .charging || anomaly
        let volts = (0..<3).map { _ in 230 + 2 * c.cycle(peak: 3) + ctx.rng.gaussian(1.0) }
        var watts = charging ? nominalW * (1 + ctx.rng.gaussian(0.01)) : 0
        if anomaly { watts *= 1.3 }  // over-current
        let perPhaseAmps = watts / Double(flavour.phases) / volts[0]
        var temp = 18 + 6 * c.cycle(peak: 15) + (charging ? 12 * watts / max(nominalW, 1) : 0) + ctx.rng.gaussian(0.5)
        if anomaly { temp = ctx.rng.uniform(72, 79) }
        let txID = Int(c.day % 100_000) * 10 + max(session, 0) + 1 + (dev.index % 1000) * 1_000_000

        w.text("[2,\""); w.int(msgID); w.text("\",\"MeterValues\",{\"connectorId\":1,")
        if charging { w.text("\"transactionId\":"); w.int(txID); w.text(",") }
        w.text("\"meterValue\":[{\"timestamp\":\"")
        SimTime.writeISO8601(c.t, into: &w)
        w.text("\",\"sampledValue\":[")
        let context = charging ? "Sample.Periodic" : "Sample.Clock"
        // Energy register: Wh for most, kWh for Wallbox.
        if flavour.prefix == "wallbox" {
            w.text("{\"value\":\""); w.fixed(energyWh / 1000, 3)
            w.text("\",\"context\":\""); w.text(context); w.text("\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":\"kWh\"}")
        } else {
            w.text("{\"value\":\""); w.int(Int(energyWh))
            w.text("\",\"context\":\""); w.text(context); w.text("\",\"format\":\"Raw\",\"measurand\":\"Energy.Active.Import.Register\",\"location\":\"Outlet\",\"unit\":\"Wh\"}")
        }
        if flavour.prefix == "growatt", charging {
            // Growatt repeats the register with the transaction's start value; only the periodic one counts.
            let startWh = energyWh - nominalW * Double(max(0, state(plan, c).into)) / 3600
            w.text(",{\"value\":\""); w.int(Int(startWh)); w.text("\",\"context\":\"Transaction.Begin\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":\"Wh\"}")
        }
        if flavour.phases == 1 {
            w.text(",{\"value\":\""); w.fixed(watts, 0); w.text("\",\"context\":\""); w.text(context)
            w.text("\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L1\",\"unit\":\"W\"}")
        } else {
            w.text(",{\"value\":\""); w.fixed(watts, 0); w.text("\",\"context\":\""); w.text(context)
            w.text("\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"}")
        }
        for p in 0..<flavour.phases {
            let amps = perPhaseAmps * (1 + ctx.rng.gaussian(0.01))
            w.text(",{\"value\":\""); w.fixed(max(0, amps), 2); w.text("\",\"context\":\""); w.text(context)
            w.text("\",\"measurand\":\"Current.Import\",\"phase\":\"L"); w.int(p + 1); w.text("\",\"unit\":\"A\"}")
            w.text(",{\"value\":\""); w.fixed(volts[p], 1); w.text("\",\"context\":\""); w.text(context)
            w.text("\",\"measurand\":\"Voltage\",\"phase\":\"L"); w.int(p + 1); w.text(flavour.prefix == "abb" ? "-N" : ""); w.text("\",\"unit\":\"V\"}")
        }
        w.text(",{\"value\":\""); w.fixed(temp, 1); w.text("\",\"context\":\""); w.text(context)
        w.text("\",\"measurand\":\"Temperature\",\"unit\":\"Celsius\"}]}]}]")
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: YKC 1.6, 0x13 real-time data

    static func ykc(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let plan = sessions(dev, dc: true)
        let (st, session, into) = state(plan, c)
        let maxKW = dev.trait(0x9C, 40, 120)
        let ambient = 15 + 8 * c.cycle(peak: 15) + dev.trait(0xAB, -3, 3)

        var status = 2  // idle
        var homed = 1
        var plugged = 0
        var volts = 0.0
        var amps = 0.0
        var gunTemp = ambient + ctx.rng.gaussian(0.5)
        var soc = 0
        var batteryTemp = ambient
        var chargedMin = 0
        var remainingMin = 0
        var kwh = 0.0
        var faults = 0
        var transaction = String(repeating: "0", count: 32)

        if st != .available {
            plugged = 1
            homed = 0
            let p = plan[session]
            let startMs = (c.day * 86_400 + Int64(p.start) - ctx.offsetSeconds) * 1000
            transaction = dev.id + "01" + SimTime.compactDigits(startMs, offsetSeconds: ctx.offsetSeconds) + SimIdentity.digits(UInt64(session + 1), count: 4)
            let s0 = 15 + SimRNG.unit(dev.key ^ SimRNG.mix(UInt64(bitPattern: c.day) &* 8 &+ UInt64(session))) * 25
            let progress = Double(into) / Double(p.duration)
            soc = Int(s0 + progress * (92 - s0))
            kwh = maxKW * Double(into) / 3600
            chargedMin = into / 60
            remainingMin = (p.duration - into) / 60
            batteryTemp = ambient / 2 + 18 + 12 * progress
            if st == .charging {
                status = 3
                let taper = soc > 80 ? max(0.35, 1 - Double(soc - 80) / 20) : 1
                let kw = maxKW * taper * (1 + ctx.rng.gaussian(0.01))
                volts = 350 + 1.1 * Double(soc) + ctx.rng.gaussian(1.5)
                amps = kw * 1000 / volts
                gunTemp = ambient + 22 * kw / 120 + ctx.rng.gaussian(0.5)
            }
        }
        if anomaly {
            status = 1  // fault
            switch ctx.rng.int(0, 2) {
            case 0: faults = 1 << 0  // emergency stop pressed
            case 1:
                faults = 1 << 2  // outlet over-temperature
                gunTemp = ctx.rng.uniform(74, 79)
            default: faults = 1 << 1  // no rectifier module
            }
            amps = 0
        }

        var w = SimWriter(capacity: 68)
        w.u8(0x68); w.u8(0x40)
        w.u16le(Int((ctx.t / max(ctx.intervalMs, 1)) & 0xFFFF))  // sequence
        w.u8(0x00)  // not encrypted
        w.u8(0x13)
        w.bcd(transaction)
        w.bcd(dev.id)
        w.u8(0x01)  // gun 1
        w.u8(status); w.u8(homed); w.u8(plugged)
        w.u16le(Int((volts * 10).rounded())); w.u16le(Int((amps * 10).rounded()))
        w.u8(Int(gunTemp.rounded()) + 50)
        for _ in 0..<8 { w.u8(0) }  // gun line code
        w.u8(soc)
        w.u8(Int(batteryTemp.rounded()) + 50)
        w.u16le(chargedMin); w.u16le(remainingMin)
        w.u32le(Int((kwh * 10_000).rounded()))
        w.u32le(Int((kwh * 1.015 * 10_000).rounded()))
        w.u32le(Int((kwh * 1.6 * 10_000).rounded()))  // 1.6 yuan/kWh including the service fee
        w.u16le(faults)
        let crc = SimCheck.crc16Modbus(w.bytes[2...])
        w.u16le(Int(crc))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }
}

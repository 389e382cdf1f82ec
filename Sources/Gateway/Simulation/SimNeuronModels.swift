import Foundation

/// Urban "neuron" devices: level, tilt, smoke, pressure, parking, streetlights.
enum SimNeuron {
    // MARK: level (water / bin) shared by NDDS75, EM400-MUD, DF702, DC410

    /// Distance (mm) from an ultrasonic sensor to the surface below it.
    /// Water/sewer: the depth follows the city's water use (morning and evening peaks).
    /// Bin: fills through the day from the 06:00 collection.
    static func levelDistance(_ dev: SimDevice, _ c: SimClock, bin: Bool, _ rng: inout SimRNG) -> Double {
        if bin {
            let depth = dev.trait(0xB1D, 1_000, 1_400)
            let rate = dev.trait(0xB1E, 0.45, 0.9)
            var h = c.hour - 6
            if h < 0 { h += 24 }
            let fill = min(0.97, rate * h / 24 * (1 + 0.15 * c.cycle(peak: 13)))
            return max(120, depth * (1 - fill) + 120 + rng.gaussian(6))
        }
        let mount = dev.trait(0x3A7, 1_800, 3_800)
        let mean = dev.trait(0x3A8, 300, 900)
        let depth = mean * (1 + 0.3 * (0.6 * c.cycle(peak: 8.5) + 0.4 * c.cycle(peak: 20)))
        return max(150, mount - depth + rng.gaussian(8))
    }

    /// Ground / underground temperature (degC).
    static func groundTemperature(_ dev: SimDevice, _ c: SimClock, _ rng: inout SimRNG) -> Double {
        dev.trait(0x7E3, 10, 20) + 4 * c.cycle(peak: 16) + rng.gaussian(0.3)
    }

    // MARK: Dragino NDDS75 (ASCII-hex, gen-1 14 bytes / gen-2 21 + 6 bytes)

    static func ndds75(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let gen2 = dev.variant & 1 != 0
        let bin = dev.variant & 2 != 0
        let c = ctx.clock
        var distance = levelDistance(dev, c, bin: bin, &ctx.rng)
        if anomaly { distance = bin ? ctx.rng.uniform(50, 160) : ctx.rng.uniform(120, 350) }  // overflow / flood
        let battery = SimValues.batteryMilliVolts(dev, c, &ctx.rng)
        let csq = SimValues.csq(dev, &ctx.rng)
        var w = SimWriter(capacity: 27)
        w.bcd(dev.id)
        if gen2 {
            w.u16be(0x006E)
            w.u16be(battery)
            w.u8(csq)
            w.u8(0x01)  // mode
            w.u8(anomaly ? 1 : 0)
            w.u16be(Int(distance))
            w.u32be(Int(c.t / 1000))
            // One datalog record: the previous reading.
            let prev = ctx.previous
            var prevRng = SimRNG(dev.key, UInt64(bitPattern: prev.t), 0x5EED)
            w.u16be(Int(levelDistance(dev, prev, bin: bin, &prevRng)))
            w.u32be(Int(prev.t / 1000))
        } else {
            w.u16be(0x0064)
            w.u16be(battery)
            w.u8(csq)
            w.u16be(Int(distance))
            w.u8(anomaly ? 1 : 0)
        }
        var text = SimWriter(capacity: w.bytes.count * 2)
        text.hexText(w.bytes)
        return SimOutput(topic: dev.topic, payload: text.bytes)
    }

    // MARK: Milesight EM400-MUD (LoRaWAN TLV) and its NB-IoT frame

    static func em400Body(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool, into w: inout SimWriter) {
        let c = ctx.clock
        let bin = dev.variant == 1
        w.u8(0x01); w.u8(0x75); w.u8(SimValues.batteryPercent(dev, c))
        w.u8(0x03); w.u8(0x67); w.u16le(Int((groundTemperature(dev, c, &ctx.rng) * 10).rounded()))
        if anomaly, ctx.rng.chance(0.5) {
            // Threshold alarm: the bin is full / the water is close to the sensor.
            w.u8(0x84); w.u8(0x82); w.u16le(Int(ctx.rng.uniform(80, 250))); w.u8(0x01)
            w.u8(0x05); w.u8(0x00); w.u8(0x00)
        } else {
            w.u8(0x04); w.u8(0x82); w.u16le(Int(levelDistance(dev, c, bin: bin, &ctx.rng)))
            w.u8(0x05); w.u8(0x00); w.u8(anomaly ? 0x01 : 0x00)  // anomaly: tilted (lid open, bin knocked over)
        }
    }

    static func em400(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        var w = SimWriter(capacity: 18)
        em400Body(dev, &ctx, anomaly, into: &w)
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    static func em400NB(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        var body = SimWriter(capacity: 18)
        em400Body(dev, &ctx, anomaly, into: &body)
        var w = SimWriter(capacity: 86 + body.bytes.count)
        w.u8(0x02)  // start flag
        w.u16be(0x0001)  // frame id
        w.u16be(86 + body.bytes.count - 5)  // length = total - 5
        w.u8(0x00)  // flag
        w.u16be(Int((ctx.t / max(ctx.intervalMs, 1)) & 0xFFFF))  // frame count
        w.u8(0x01)  // protocol version
        w.ascii("0101", length: 4)  // firmware
        w.ascii("0110", length: 4)  // hardware
        w.ascii(dev.extra[2], length: 16)  // serial
        w.ascii(dev.id, length: 15)  // IMEI
        w.ascii(dev.extra[0], length: 15)  // IMSI
        w.ascii(dev.extra[1], length: 20)  // ICCID
        w.u8(SimValues.csq(dev, &ctx.rng, unknownChance: 0))
        w.u16be(body.bytes.count)
        w.bytes.append(contentsOf: body.bytes)
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Milesight EM320-TILT (manhole cover)

    static func em320(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        // A cover lies flat: x, y near 0 (mounting offset plus a little jitter from traffic), z near 90.
        var x = dev.trait(0x71, -0.8, 0.8) + ctx.rng.gaussian(0.05) + 0.03 * c.cycle(peak: 17)
        var y = dev.trait(0x72, -0.8, 0.8) + ctx.rng.gaussian(0.05)
        var flags = (0, 0, 0)
        if anomaly {
            // Cover lifted or displaced: a large tilt on one axis, threshold flagged.
            let tilt = ctx.rng.uniform(18, 65) * (ctx.rng.chance(0.5) ? 1 : -1)
            if ctx.rng.chance(0.5) {
                x = tilt
                flags.0 = 1
            } else {
                y = tilt
                flags.1 = 1
            }
            flags.2 = 1
        }
        let z = 90 - (x * x + y * y).squareRoot()
        func angle(_ a: Double, _ flag: Int) -> Int { (Int((a * 100).rounded()) << 1) | flag }
        var w = SimWriter(capacity: 11)
        w.u8(0x01); w.u8(0x75); w.u8(SimValues.batteryPercent(dev, c))
        w.u8(0x03); w.u8(0xD4)
        w.u16le(angle(x, flags.0)); w.u16le(angle(y, flags.1)); w.u16le(angle(z, flags.2))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: CNDingtek DC410 (manhole level + motion) and DF702 (bin, fire, tilt, GPS)

    static func dc410(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        var level = levelDistance(dev, c, bin: false, &ctx.rng)
        var angle = Int(dev.trait(0xA9, 0, 2.5))
        var full = 0
        var motion = 0
        if anomaly {
            if ctx.rng.chance(0.5) {
                level = ctx.rng.uniform(80, 220)  // water up to the sensor
                full = 1
            } else {
                motion = 1  // cover moved
                angle = ctx.rng.int(15, 60)
            }
        }
        let temp = max(0, Int(groundTemperature(dev, c, &ctx.rng).rounded()))
        var w = SimWriter(capacity: 17)
        w.u8(0x80); w.u16be(0x0001); w.u8(0x02); w.u8(17)
        w.u16be(Int(level)); w.u8(0x00)
        w.u8(temp); w.u8(0x00); w.u8(angle)
        w.u8(full << 4); w.u8(motion << 4)
        w.u16be(Int((ctx.t / max(ctx.intervalMs, 1)) & 0xFFFF))
        w.u8(0x00); w.u8(0x81)
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    static func df702(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let gps = dev.variant == 1
        var level = levelDistance(dev, c, bin: true, &ctx.rng)
        var temp = dev.trait(0x7E4, 12, 22) + 8 * c.cycle(peak: 15) + ctx.rng.gaussian(0.4)
        var angle = Int(dev.trait(0xAA, 0, 3))
        var full = level < 250 ? 1 : 0
        var fire = 0
        var tilt = 0
        if anomaly {
            switch ctx.rng.int(0, 2) {
            case 0:
                fire = 1
                temp = ctx.rng.uniform(62, 78)
            case 1:
                tilt = 1
                angle = ctx.rng.int(45, 90)
            default:
                full = 1
                level = ctx.rng.uniform(60, 150)
            }
        }
        let t = max(0, Int(temp.rounded()))
        var w = SimWriter(capacity: 25)
        w.u8(0x80); w.u16be(0x0001); w.u8(0x01); w.u8(gps ? 25 : 17)
        w.u16be(Int(level)); w.u8(gps ? 0x01 : 0x00)
        if gps {
            w.f32le(117.00 + dev.trait(0x10, -0.12, 0.12))  // around Jinan
            w.f32le(36.65 + dev.trait(0x1A, -0.08, 0.08))
        }
        w.u8(t); w.u8(0x00); w.u8(angle)
        w.u8(full << 4 | fire); w.u8(tilt << 4)
        w.u8(0x00); w.u8(0x00); w.u8(0x00); w.u8(0x81)
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: smoke: Milesight GS524N (LoRaWAN, sum8) and LiAn via CTWing (JSON envelope)

    static func gs524n(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        var event = 7  // normal
        var concentration = ctx.rng.chance(0.1) ? 1 : 0
        var temp = dev.trait(0x7E5, 19, 24) + 3 * c.cycle(peak: 16) + ctx.rng.gaussian(0.4)
        if anomaly {
            event = 1  // alarm
            concentration = ctx.rng.int(12, 60)
            temp += ctx.rng.uniform(5, 25)
        } else if ctx.rng.chance(0.005) {
            event = 14  // monthly self-test with a good battery
        }
        var w = SimWriter(capacity: 6)
        w.u8(0x22)  // firmware 2, protocol 2
        w.u8(0x10 | event)  // sensor type 1 = smoke
        w.u8(SimValues.batteryPercent(dev, c))
        w.u8(concentration)
        w.u8(Int(temp.rounded()))
        w.u8(Int(0 &- SimCheck.sum8(w.bytes[...])))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    static func lian(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let platformID = dev.extra[0]
        var w = SimWriter(capacity: 560)
        if !anomaly, ctx.rng.chance(0.02) {
            // Lifecycle push: the device re-attached to the network.
            w.text("{\"timestamp\":"); w.int(Int(c.t))
            w.text(",\"tenantId\":\"10461180\",\"protocol\":\"lwm2m\",\"productId\":\"15014772\",\"messageType\":\"deviceOnlineOfflineReport\",\"eventType\":1,\"deviceId\":")
            w.quoted(platformID); w.text(",\"IMEI\":"); w.quoted(dev.id); w.text("}")
            return SimOutput(topic: dev.topic, payload: w.bytes)
        }
        let rsrp = Int((dev.trait(0x45, 85, 112) + ctx.rng.gaussian(3)).rounded())
        let snr = Int((dev.trait(0x46, -2, 12) + ctx.rng.gaussian(2)).rounded())
        let csq = SimValues.csq(dev, &ctx.rng, unknownChance: 0)
        w.text("{\"upPacketSN\":-1,\"upDataSN\":-1,\"topic\":\"v1/up/ad19prof\",\"timestamp\":"); w.int(Int(c.t))
        w.text(",\"tenantId\":\"10461180\",\"serviceId\":\"\",\"protocol\":\"lwm2m\",\"productId\":\"15014772\",")
        w.text("\"payload\":{\"serviceId\":\"notification\",\"serviceData\":{\"TData\":30,\"SNR\":"); w.int(snr)
        w.text(",\"RSRP\":"); w.int(rsrp)
        w.text(",\"IMEI\":"); w.quoted(dev.id)
        w.text(",\"Cell_ID_Length\":8,\"Cell_ID\":"); w.quoted(dev.extra[1])
        w.text(",\"CSQ\":"); w.int(csq)
        w.text(",\"Battery_Level\":"); w.int(SimValues.batteryPercent(dev, c))
        w.text(",\"Alarm_Status\":"); w.int(anomaly ? 1 : 7)
        w.text(",\"AlarmLevel\":"); w.int(anomaly ? ctx.rng.int(60, 100) : 0)
        w.text("}},\"messageType\":\"dataReport\",\"deviceType\":\"\",\"deviceId\":"); w.quoted(platformID)
        w.text(",\"assocAssetId\":\"\",\"IMSI\":\"undefined\",\"IMEI\":"); w.quoted(dev.id); w.text("}")
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Milesight EM500-PP (hydrant pressure)

    static func em500pp(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        // Mains pressure sags at the morning and evening demand peaks, recovers at night.
        var kpa = dev.trait(0x9F, 280, 330) - 18 * (0.6 * c.cycle(peak: 7.5) + 0.4 * c.cycle(peak: 19.5)) + ctx.rng.gaussian(2.5)
        if anomaly { kpa = ctx.rng.uniform(15, 120) }  // main break / hydrant opened
        var w = SimWriter(capacity: 7)
        w.u8(0x01); w.u8(0x75); w.u8(SimValues.batteryPercent(dev, c))
        w.u8(0x03); w.u8(0x7B); w.u16le(max(0, Int(kpa.rounded())))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }

    // MARK: Bosch TPS110 (parking; message type = fPort topic level)

    /// Occupancy over 45-minute stays; busier at midday.
    static func occupied(_ dev: SimDevice, _ c: SimClock, offsetSeconds: Int64) -> Bool {
        let stay: Int64 = 2_700
        let s = SimTime.floorDiv(c.t, 1000) + Int64(dev.trait(0x5A7, 0, Double(stay)))
        let block = SimTime.floorDiv(s, stay)
        let mid = SimClock((block * stay + stay / 2 - Int64(dev.trait(0x5A7, 0, Double(stay)))) * 1000, offsetSeconds: offsetSeconds)
        let p = 0.3 + 0.55 * max(0, mid.cycle(peak: 13)) + dev.trait(0x5A8, -0.1, 0.1)
        return SimRNG.unit(dev.key ^ SimRNG.mix(UInt64(bitPattern: block) &+ 0x0CC)) < p
    }

    static func tps110(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let occ = occupied(dev, c, offsetSeconds: ctx.offsetSeconds) ? 1 : 0
        var temp = dev.trait(0x7E6, 14, 22) + 9 * c.cycle(peak: 14) + ctx.rng.gaussian(0.5)
        if anomaly { temp = ctx.rng.uniform(62, 78) }  // overheating: vehicle fire over the bay
        if !anomaly, ctx.rng.chance(0.002) {
            // Startup frame after a power-on reset.
            var w = SimWriter(capacity: 17)
            for _ in 0..<12 { w.u8(0) }
            w.u8(0); w.u8(44); w.u8(3)  // firmware 0.44.3
            w.u8(2)  // power_on
            w.u8(occ)
            return SimOutput(topic: dev.topic + "/3", payload: w.bytes)
        }
        let prevOcc = occupied(dev, ctx.previous, offsetSeconds: ctx.offsetSeconds) ? 1 : 0
        if !anomaly, occ != prevOcc {
            return SimOutput(topic: dev.topic + "/1", payload: [UInt8(occ)])  // status change
        }
        return SimOutput(topic: dev.topic + "/2", payload: [UInt8(occ), UInt8(bitPattern: Int8(max(-40, min(85, temp.rounded()))))])
    }

    // MARK: Milesight WS558 (streetlight controller)

    static func ws558(_ dev: SimDevice, _ ctx: inout SimContext, _ anomaly: Bool) -> SimOutput {
        let c = ctx.clock
        let circuits = 1 + dev.variant
        let lampW = (dev.trait(0x1A3, 6, 15)).rounded() * 10  // 60-150 W LED heads
        let shift = dev.trait(0x5F7, -20, 20)  // photocell spread, minutes
        let on = c.isNight(shiftMinutes: shift)
        let wasOn = ctx.previous.isNight(shiftMinutes: shift)
        let mask = (1 << circuits) - 1
        let state = on ? mask : 0
        let changed = state ^ (wasOn ? mask : 0)
        var volts = 221 + 3 * c.cycle(peak: 3) + ctx.rng.gaussian(1.0)
        if anomaly { volts = ctx.rng.chance(0.5) ? ctx.rng.uniform(172, 188) : ctx.rng.uniform(250, 262) }  // sag / surge
        let nominal = Double(circuits) * lampW
        let watts = on ? nominal * (volts / 220) * (volts / 220) * (1 + ctx.rng.gaussian(0.01)) : 0
        let pf = on ? Int((96 + ctx.rng.gaussian(0.8)).rounded()) : 0
        let milliamps = on ? watts / (volts * Double(pf) / 100) * 1000 : 0
        let seconds = SimValues.nightSeconds(c, offsetSeconds: ctx.offsetSeconds, shiftSeconds: Int64(shift * 60))
        let energy = Int(dev.trait(0xE0, 50_000, 900_000)) + Int(nominal * Double(seconds) / 3600)
        var w = SimWriter(capacity: 27)
        w.u8(0x08); w.u8(0x31); w.u8(changed); w.u8(state)
        w.u8(0x05); w.u8(0x81); w.u8(pf)
        w.u8(0x07); w.u8(0xC9); w.u16le(Int(milliamps.rounded()))
        w.u8(0x03); w.u8(0x74); w.u16le(Int((volts * 10).rounded()))
        w.u8(0x06); w.u8(0x83); w.u32le(energy)
        w.u8(0x04); w.u8(0x80); w.u32le(Int(watts.rounded()))
        return SimOutput(topic: dev.topic, payload: w.bytes)
    }
}

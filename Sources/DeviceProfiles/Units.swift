/// Unit normalisation: every unit a profile names is known, and every reading leaves the decoder in the
/// canonical unit of its dimension, so downstream stages (store, alerts, rollups) never convert.
///
/// Canonical units: V, A, W, Wh, VA, var, m, Pa, degC, %, ppm, ppb, dBm, dB, s, Hz, deg, m/s, uS/cm, mg/L, lx,
/// L, m3, L/min, m3/h, ug/m3, NTU, mV (redox potential), pH, count, "" (dimensionless).
public enum Units {
    /// A unit's canonical target and the linear map `canonical = value * factor + offset`.
    public struct Conversion: Sendable, Hashable {
        /// The canonical unit symbol.
        public let canonical: String
        /// Multiplier.
        public let factor: Double
        /// Added after multiplying.
        public let offset: Double

        /// Applies the conversion.
        @inline(__always)
        public func apply(_ value: Double) -> Double { value * factor + offset }
    }

    private static func c(_ canonical: String, _ factor: Double = 1, _ offset: Double = 0) -> Conversion {
        Conversion(canonical: canonical, factor: factor, offset: offset)
    }

    /// Every accepted spelling, lower-cased where the case carries no meaning.
    static let table: [String: Conversion] = {
        var t: [String: Conversion] = [:]
        func add(_ names: [String], _ conv: Conversion) { for n in names { t[n] = conv } }
        add(["V", "volt", "volts"], c("V"))
        add(["mV", "millivolt"], c("V", 0.001))
        add(["kV"], c("V", 1000))
        add(["A", "amp", "ampere"], c("A"))
        add(["mA"], c("A", 0.001))
        add(["uA", "µA"], c("A", 1e-6))
        add(["W", "watt"], c("W"))
        add(["kW"], c("W", 1000))
        add(["mW"], c("W", 0.001))
        add(["Wh"], c("Wh"))
        add(["kWh"], c("Wh", 1000))
        add(["MWh"], c("Wh", 1_000_000))
        add(["VA"], c("VA"))
        add(["kVA"], c("VA", 1000))
        add(["var", "VAR"], c("var"))
        add(["kvar", "kVAR"], c("var", 1000))
        add(["m", "metre", "meter"], c("m"))
        add(["mm"], c("m", 0.001))
        add(["cm"], c("m", 0.01))
        add(["km"], c("m", 1000))
        add(["Pa"], c("Pa"))
        add(["hPa", "mbar"], c("Pa", 100))
        add(["kPa"], c("Pa", 1000))
        add(["MPa"], c("Pa", 1_000_000))
        add(["bar"], c("Pa", 100_000))
        add(["degC", "°C", "℃", "C", "Celsius", "Celcius", "celsius"], c("degC"))
        add(["K", "Kelvin"], c("degC", 1, -273.15))
        add(["degF", "°F", "Fahrenheit"], c("degC", 5.0 / 9.0, -32.0 * 5.0 / 9.0))
        add(["%", "percent", "Percent", "%RH"], c("%"))
        add(["ppm"], c("ppm"))
        add(["ppb"], c("ppb"))
        add(["dBm"], c("dBm"))
        add(["dB"], c("dB"))
        add(["s", "sec", "second", "seconds"], c("s"))
        add(["ms"], c("s", 0.001))
        add(["min"], c("s", 60))
        add(["h", "hour"], c("s", 3600))
        add(["Hz"], c("Hz"))
        add(["deg", "°"], c("deg"))
        add(["m/s"], c("m/s"))
        add(["km/h"], c("m/s", 1.0 / 3.6))
        add(["uS/cm", "µS/cm", "us/cm"], c("uS/cm"))
        add(["mS/cm"], c("uS/cm", 1000))
        add(["mg/L", "mg/l"], c("mg/L"))
        add(["lx", "lux"], c("lx"))
        add(["L", "l", "litre", "liter"], c("L"))
        add(["m3", "m³"], c("m3"))
        add(["L/min"], c("L/min"))
        add(["m3/h"], c("m3/h"))
        add(["ug/m3", "µg/m3", "µg/m³"], c("ug/m3"))
        add(["NTU"], c("NTU"))
        add(["pH"], c("pH"))
        add(["count", "counts", "1"], c("count"))
        add(["", "none"], c(""))
        return t
    }()

    /// The conversion for a unit spelling, or nil when the unit is unknown.
    public static func conversion(for unit: String) -> Conversion? {
        if let c = table[unit] { return c }
        return table[unit.trimmingASCIIWhitespace().description]
    }

    /// Known spellings, for error messages.
    public static var knownUnits: [String] { table.keys.filter { !$0.isEmpty }.sorted() }
}

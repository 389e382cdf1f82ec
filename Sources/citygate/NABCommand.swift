import Anomaly
import ArgumentParser
import DeviceProfiles
import Foundation
import Gateway

/// `citygate nab`: runs the streaming anomaly detector over Numenta Anomaly Benchmark series, writes NAB result
/// files and prints the NAB scores (docs/anomaly.md).
struct NABCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nab",
        abstract: "Score the streaming anomaly detector on Numenta Anomaly Benchmark data (NAB result files + NAB scores).",
        discussion: """
            Every CSV (timestamp,value) under the data directory is streamed through its own AnomalyDetector, one point \
            at a time, and written to --out as <folder>/citygate_<file>.csv with timestamp,value,anomaly_score,label \
            (label 1 inside an anomaly window). Windows come from labels/combined_windows.json beside the data folder \
            (or --labels). The score is NAB's: one threshold for the whole corpus, chosen per profile to maximise the \
            raw score unless --threshold fixes it, normalised so the null detector scores 0 and the perfect one 100. \
            The held-out lines split the series into halves (alternating by name within each category), choose the \
            threshold on one half and score the other with it.
            """)

    @Option(help: "NAB data: a directory holding data/ and labels/, or the data directory itself (CSVs searched recursively).")
    var data = "../shared/data/nab-dev"
    @Option(name: .customLong("out"), help: "Directory for the NAB result files (created if missing).")
    var outDirectory = "nab-results"
    @Option(help: "The combined_windows.json labels (default: labels/combined_windows.json beside the data).")
    var labels: String?
    @Option(help: "A fixed detection threshold for every profile instead of NAB's optimised one.")
    var threshold: Double?

    /// One series read from a NAB CSV.
    struct Series {
        /// `<folder>/<file>.csv`, the key of the labels file.
        var name: String
        /// The timestamps as written in the file.
        var timestampText: [Substring]
        var timestampsMs: [Int64]
        var values: [Double]
    }

    func run() throws {
        let fm = FileManager.default
        var dataDir = data
        if fm.fileExists(atPath: data + "/data") { dataDir = data + "/data" }
        let labelsPath = labels ?? [data + "/labels/combined_windows.json", dataDir + "/../labels/combined_windows.json"]
            .first(where: { fm.fileExists(atPath: $0) }) ?? data + "/labels/combined_windows.json"
        guard let labelData = fm.contents(atPath: labelsPath),
            let windowsByName = try? JSONSerialization.jsonObject(with: labelData) as? [String: [[String]]]
        else {
            throw ValidationError("cannot read the NAB windows at \(labelsPath) (cwd: \(fm.currentDirectoryPath)); pass --data or --labels")
        }
        guard let enumerator = fm.enumerator(atPath: dataDir) else { throw ValidationError("cannot list \(dataDir)") }
        let files = enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".csv") }.sorted()
        guard !files.isEmpty else { throw ValidationError("no CSV files under \(dataDir)") }

        var corpus: [NABSeries] = []
        var unlabelled: [String] = []
        var records = 0
        for file in files {
            let series = try Self.read(path: dataDir + "/" + file, name: file)
            var detector = AnomalyDetector()
            let scores = zip(series.timestampsMs, series.values).map { detector.score(timeMs: $0, value: $1) }
            var windows: [ClosedRange<Int>] = []
            if let limits = windowsByName[file] {
                let parsed = try limits.map { pair -> (start: Int64, end: Int64) in
                    guard pair.count == 2, let s = Self.parseTime(pair[0]), let e = Self.parseTime(pair[1]) else {
                        throw ValidationError("\(labelsPath): window \(pair) of \(file) is not [start, end] timestamps")
                    }
                    return (s, e)
                }
                windows = NABScorer.windowIndices(timestampsMs: series.timestampsMs, windows: parsed)
                corpus.append(NABSeries(name: file, scores: scores, windows: windows))
                records += scores.count
            } else {
                unlabelled.append(file)
            }
            try Self.writeResult(series, scores: scores, windows: windows, to: outDirectory)
        }
        guard !corpus.isEmpty else { throw ValidationError("none of the CSVs under \(dataDir) is in \(labelsPath)") }

        let windowCount = corpus.reduce(0) { $0 + $1.windows.count }
        var report = "NAB: \(corpus.count) series, \(windowCount) windows, \(records) records (data \(dataDir), labels \(labelsPath))\n"
        report += "results: \(outDirectory)/<folder>/citygate_<file>.csv\n"
        if !unlabelled.isEmpty { report += "not scored (no labels): \(unlabelled.joined(separator: ", "))\n" }

        func score(_ series: [NABSeries], _ profile: NABProfile, at fixed: Double? = nil) -> NABScore {
            if let t = fixed ?? threshold { return NABScorer.score(series, profile: profile, threshold: t) }
            return NABScorer.optimize(series, profile: profile)
        }
        func f2(_ v: Double) -> String { String(format: "%.2f", v) }
        func f4(_ v: Double) -> String { String(format: "%.4f", v) }

        var rows = [["PROFILE", "SCORE", "THRESHOLD", "RAW", "TP", "FN", "FP"]]
        var standard: NABScore?
        for profile in NABProfile.all {
            let s = score(corpus, profile)
            if profile == .standard { standard = s }
            rows.append([profile.name, f2(s.normalized), f4(s.threshold), f2(s.raw),
                         "\(s.truePositives)", "\(s.falseNegatives)", "\(s.falsePositives)"])
        }
        report += "\n" + ProfileTool.render(rows)

        guard let standard else { return }
        report += "\nstandard profile by category (corpus threshold \(f4(standard.threshold))):\n"
        rows = [["CATEGORY", "SERIES", "WINDOWS", "SCORE", "RAW", "TP", "FN", "FP"]]
        for category in Set(corpus.map(\.category)).sorted() {
            let part = corpus.filter { $0.category == category }
            let s = NABScorer.score(part, profile: .standard, threshold: standard.threshold)
            let windows = part.reduce(0) { $0 + $1.windows.count }
            rows.append([category, "\(part.count)", "\(windows)", s.perfectRaw > s.nullRaw ? f2(s.normalized) : "-",
                         f2(s.raw), "\(s.truePositives)", "\(s.falseNegatives)", "\(s.falsePositives)"])
        }
        report += ProfileTool.render(rows)

        var halves: ([NABSeries], [NABSeries]) = ([], [])
        var seen: [String: Int] = [:]
        for s in corpus {
            let k = seen[s.category, default: 0]
            seen[s.category] = k + 1
            if k % 2 == 0 { halves.0.append(s) } else { halves.1.append(s) }
        }
        report += "\nheld-out check, standard profile (halves alternate by name within each category):\n"
        rows = [["HALF", "SERIES", "OWN THRESHOLD", "SCORE", "OTHER HALF AT THIS THRESHOLD"]]
        for (name, mine, other) in [("A", halves.0, halves.1), ("B", halves.1, halves.0)] {
            let s = score(mine, .standard)
            let carried = NABScorer.score(other, profile: .standard, threshold: s.threshold)
            rows.append([name, "\(mine.count)", f4(s.threshold), f2(s.normalized), f2(carried.normalized)])
        }
        report += ProfileTool.render(rows)
        out(report)
    }

    /// NAB timestamps (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC) with the profile language's ISO-8601 parser.
    static func parseTime(_ text: some StringProtocol) -> Int64? {
        TimeFormat.parseISO8601(String(text).trimmingCharacters(in: .whitespaces), defaultOffset: 0)
    }

    /// Reads a NAB CSV: a header line, then `timestamp,value` rows in time order.
    static func read(path: String, name: String) throws -> Series {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        let text = String(decoding: bytes, as: UTF8.self)
        var series = Series(name: name, timestampText: [], timestampsMs: [], values: [])
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() where n > 0 {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 2, let t = parseTime(fields[0]) else {
                throw ValidationError("\(path):\(n + 1): expected timestamp,value")
            }
            if let last = series.timestampsMs.last, t < last { throw ValidationError("\(path):\(n + 1): timestamps go backwards") }
            series.timestampText.append(fields[0])
            series.timestampsMs.append(t)
            series.values.append(Double(fields[1].trimmingCharacters(in: .whitespaces)) ?? .nan)
        }
        return series
    }

    /// Writes `<out>/<folder>/citygate_<file>.csv` with NAB's result columns.
    static func writeResult(_ s: Series, scores: [Double], windows: [ClosedRange<Int>], to out: String) throws {
        let folder = s.name.contains("/") ? String(s.name[..<s.name.lastIndex(of: "/")!]) : ""
        let file = s.name.split(separator: "/").last.map(String.init) ?? s.name
        let dir = folder.isEmpty ? out : out + "/" + folder
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var text = "timestamp,value,anomaly_score,label\n"
        text.reserveCapacity(scores.count * 48)
        var w = 0
        for i in scores.indices {
            while w < windows.count, windows[w].upperBound < i { w += 1 }
            let label = w < windows.count && windows[w].contains(i) ? 1 : 0
            text += "\(s.timestampText[i]),\(s.values[i]),\(scores[i]),\(label)\n"
        }
        guard FileManager.default.createFile(atPath: dir + "/citygate_" + file, contents: Data(text.utf8)) else {
            throw ValidationError("cannot write \(dir)/citygate_\(file)")
        }
    }
}

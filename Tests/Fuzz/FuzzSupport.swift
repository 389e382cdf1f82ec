// Shared by every fuzz target (scripts/fuzz.sh compiles it into each one) and by the FuzzReplayTests test target,
// which compiles all of Tests/Fuzz without CITYGATE_FUZZ: there the libFuzzer entry points are left out and the tests
// call each target's `run` directly.

import DeviceProfiles
import Foundation

/// What one input did to the code under test. Fuzzing only cares that nothing traps; the replay tests use it to
/// check that the harness still reaches the code (seeds must be accepted, or the fuzzer explores nothing).
public enum FuzzOutcome: Sendable, Equatable {
    /// Parsed or decoded, and every invariant the target checks held.
    case accepted
    /// Refused with an error: a defined, non-crashing answer to bad input.
    case rejected
}

/// One starting input of a target's corpus.
public struct FuzzSeed: Sendable {
    /// File name in the corpus directory.
    public var name: String
    /// The input.
    public var bytes: [UInt8]

    public init(_ name: String, _ bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    public init(_ name: String, text: String) {
        self.init(name, Array(text.utf8))
    }
}

public enum FuzzSupport {
    /// The repository root: this file is Tests/Fuzz/FuzzSupport.swift.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `path` below the repository root.
    public static func path(_ relative: String) -> String { repositoryRoot + "/" + relative }

    /// The shipped profiles (device-profiles/), loaded once. A harness that cannot load them is broken: stop loudly.
    public static let shippedProfiles: ProfileSet = {
        do {
            return try ProfileSet.load(directory: path("device-profiles"))
        } catch {
            fatalError("fuzz harness: the shipped profiles do not load:\n\(error)")
        }
    }()

    /// The contents of every file below `directory` with one of `extensions` (all files when empty), sorted by path.
    public static func files(in directory: String, extensions: [String] = []) -> [(name: String, bytes: [UInt8])] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [(String, [UInt8])] = []
        for case let rel as String in walker {
            let full = directory + "/" + rel
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            guard extensions.isEmpty || extensions.contains(where: { rel.hasSuffix($0) }) else { continue }
            if let data = FileManager.default.contents(atPath: full) { out.append((rel, Array(data))) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Text as a fuzzed file would be read: UTF-8 or nothing (the loaders refuse a file that is not UTF-8).
    public static func utf8(_ bytes: [UInt8]) -> String? {
        String(bytes: bytes, encoding: .utf8)
    }

    /// Small seeds cut from a YAML file, so a fuzzer with a short `-max_len` still starts from every construct the
    /// file uses: for each item of the top-level list `listKey`, the file's other top-level blocks (except those in
    /// `dropping`) followed by that one item. Comment lines are dropped; `uncomment` first turns `# key: value` lines
    /// (a configuration's documented defaults) into real ones.
    public static func yamlPieces(_ text: String, listKey: String, dropping: Set<String> = [], uncomment: Bool = false) -> [String] {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("##") || trimmed.isEmpty { continue }
            if trimmed.hasPrefix("# ") {
                guard uncomment else { continue }
                lines.append(line.prefix(line.count - trimmed.count) + trimmed.dropFirst(2))
                continue
            }
            lines.append(line)
        }
        // Top-level blocks: a line at column 0 starts one.
        var blocks: [(key: String, lines: [Substring])] = []
        for line in lines {
            if let first = line.first, first != " ", first != "-" {
                blocks.append((String(line.prefix { $0 != ":" }), [line]))
            } else if !blocks.isEmpty {
                blocks[blocks.count - 1].lines.append(line)
            }
        }
        let header = blocks.filter { $0.key != listKey && !dropping.contains($0.key) }.flatMap(\.lines).joined(separator: "\n")
        guard let list = blocks.first(where: { $0.key == listKey }) else { return [header] }
        var items: [[Substring]] = []
        var indent: Int?
        for line in list.lines.dropFirst() {
            let depth = line.prefix { $0 == " " }.count
            if line.dropFirst(depth).hasPrefix("- "), indent == nil || depth == indent {
                indent = depth
                items.append([line])
            } else if !items.isEmpty {
                items[items.count - 1].append(line)
            }
        }
        return items.map { header + "\n\(listKey):\n" + $0.joined(separator: "\n") + "\n" }
    }

    #if CITYGATE_FUZZ
    /// The input libFuzzer hands in, as an array.
    public static func input(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// With `CITYGATE_FUZZ_WRITE_SEEDS=<dir>` in the environment, writes the target's seeds there and exits: how
    /// scripts/fuzz.sh builds each starting corpus (called from `LLVMFuzzerInitialize`, before any input runs).
    public static func writeSeedsIfRequested(_ seeds: () -> [FuzzSeed]) {
        guard let directory = ProcessInfo.processInfo.environment["CITYGATE_FUZZ_WRITE_SEEDS"], !directory.isEmpty else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written = 0
        for seed in seeds() {
            if FileManager.default.createFile(atPath: directory + "/" + seed.name, contents: Data(seed.bytes)) { written += 1 }
        }
        print("wrote \(written) seeds to \(directory)")
        exit(written > 0 ? 0 : 1)
    }
    #endif
}

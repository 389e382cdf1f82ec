// Fuzz target `expression`: the profile expression parser and evaluator (`expr:`, `when:`, `switch.on`,
// `repeat.count`, `assert.that`) through `ProfileExpression`, with the same grammar and functions as in a profile.
//
// Input: the expression text, a NUL byte, then the payload: `size` and `byte(i)` read it, `x` is its first byte, and
// `$.…` reads it when it parses as JSON. Fields `a`, `b` and `c` exist (a number, a hex string and null), and so does
// every other word of the text that could name a field (up to 16, valued by the payload's last byte), so expressions
// taken from profiles parse; so do the topic capture `deviceId` and the attribute `fport`.

import DeviceProfiles
import Foundation

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzExpression.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzExpression.seeds)
    return 0
}
#endif

public enum FuzzExpression {
    /// Evaluates `input` (see the file header); accepted when the text parsed as an expression.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        let nul = input.firstIndex(of: 0) ?? input.endIndex
        let text = String(decoding: input[..<nul], as: UTF8.self)
        let payload = nul < input.endIndex ? Array(input[(nul + 1)...]) : []
        var fields: [String: Value] = ["a": .number(-12.75), "b": .string("0x1F"), "c": .null]
        for name in identifiers(in: input[..<nul]).prefix(16) where fields[name] == nil {
            fields[name] = .number(Double(payload.last ?? 1))
        }
        let context = ProfileExpression.Context(
            current: payload.first.map { .number(Double($0)) } ?? .null,
            fields: fields,
            payload: payload, json: try? JSONParser.parse(payload),
            topic: ["deviceId": "fuzz-device"], attributes: ["fport": "5"]
        )
        switch ProfileExpression.evaluate(text, in: context) {
        case .success(let value):
            _ = value.description
            _ = value.isTrue
            return .accepted
        case .failure(let reason):
            precondition(!reason.message.isEmpty, "an expression error without a message")
            return .rejected
        }
    }

    /// Words that could name fields (letters, digits, `_`, not starting with a digit, no `.`), so the expressions
    /// of the shipped profiles, which read earlier fields, parse here too.
    static func identifiers(in text: ArraySlice<UInt8>) -> [String] {
        var out: [String] = []
        var i = text.startIndex
        func isWord(_ c: UInt8) -> Bool { c == 0x5F || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        while i < text.endIndex {
            guard isWord(text[i]), !(text[i] >= 0x30 && text[i] <= 0x39), i == text.startIndex || (text[i - 1] != 0x2E && text[i - 1] != 0x24) else {
                i += 1
                continue
            }
            var j = i
            while j < text.endIndex, isWord(text[j]) { j += 1 }
            if j == text.endIndex || (text[j] != 0x2E && text[j] != 0x28) { out.append(String(decoding: text[i..<j], as: UTF8.self)) }
            i = j
        }
        return out
    }

    /// Every operator and function of the language, and the expressions the shipped profiles use (collected from
    /// their `expr`, `when`, `on`, `count` and `that` keys).
    public static func seeds() -> [FuzzSeed] {
        var texts = [
            "x * 0.1 - 40", "a > 0 ? a : -a", "b + 1", "(x & 0x0F) << 4 | x >> 4", "x % 7 == 3 && !c || size >= 2",
            "abs(a) + min(1, 2, x) + max(a, x) + round(a, 1) + floor(a) + ceil(a)", "pow(2, 10) + sqrt(x) + log10(x + 1)",
            "byte(0) + byte(-1) + byte(size - 1)", "s8(x) + s16(0xFFFE) + s24(0x800000) + s32(4294967295)",
            "exists($.reports[0].value) ? $.reports[0].value : 'none'", "topic.deviceId + '-' + attr.fport",
            "x != null && x <= 1.5e3", "-(-(x))", "'text' == \"text\"",
        ]
        for file in FuzzSupport.files(in: FuzzSupport.path("device-profiles"), extensions: [".yaml"]) {
            for line in String(decoding: file.bytes, as: UTF8.self).split(separator: "\n") {
                for key in ["expr: \"", "when: \"", "that: \"", "on: \"", "count: \""] {
                    guard let start = line.range(of: key) else { continue }
                    let rest = line[start.upperBound...]
                    if let end = rest.firstIndex(of: "\"") { texts.append(String(rest[..<end])) }
                }
            }
        }
        let payloads: [[UInt8]] = [[0x01, 0x75, 0x64, 0xFF], Array("{\"reports\":[{\"value\":12}]}".utf8)]
        var out: [FuzzSeed] = []
        for (n, text) in Set(texts).sorted().enumerated() {
            out.append(FuzzSeed("expr\(n)", Array(text.utf8) + [0] + payloads[n % payloads.count]))
        }
        return out
    }
}

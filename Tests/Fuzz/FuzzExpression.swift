// Fuzz target `expression`: the profile expression parser and evaluator (`expr:`, `when:`, `switch.on`,
// `repeat.count`, `assert.that`) through `ProfileExpression`, with the same grammar and functions as in a profile.
//
// Input: the expression text, a NUL byte, then the payload: `size` and `byte(i)` read it, `x` is its first byte, and
// `$.…` reads it when it parses as JSON. Fields `a`, `b` and `c` exist (a number, a hex string and null), as do the
// topic capture `deviceId` and the attribute `fport`.

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
        let context = ProfileExpression.Context(
            current: payload.first.map { .number(Double($0)) } ?? .null,
            fields: ["a": .number(-12.75), "b": .string("0x1F"), "c": .null],
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

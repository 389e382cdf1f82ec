// Fuzz target `json`: the profile language's byte-level JSON parser and JSON paths (what `input: json`, `path:` and
// `$.…` in expressions run on every JSON payload), and the text primitives beside them: hex and base64 input stages
// and the ISO 8601 time reader.
//
// Input: a JSON path, a newline, then a JSON document. The path is compiled and applied to the parsed document
// (`first` must be the first of `all`); the document's bytes also go through the hex and base64 decoders (hex must
// round-trip through its encoder), and the path line through the ISO 8601 reader.

import DeviceProfiles
import Foundation

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzJSON.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzJSON.seeds)
    return 0
}
#endif

public enum FuzzJSON {
    /// Runs `input` (see the file header); accepted when the document parsed.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        let newline = input.firstIndex(of: 0x0A) ?? input.endIndex
        let pathText = String(decoding: input[..<newline], as: UTF8.self)
        let document = newline < input.endIndex ? Array(input[(newline + 1)...]) : []

        _ = TimeFormat.parseISO8601(pathText, defaultOffset: 8 * 3600)
        if let bytes = HexCodec.decode(document[...]) {
            precondition(HexCodec.decode(HexCodec.encode(bytes)) == bytes, "hex does not round-trip")
        }
        _ = HexCodec.decodeBase64(document)

        let value: JSONValue
        do {
            value = try JSONParser.parse(document)
        } catch {
            precondition(!error.message.isEmpty, "a JSON error without a message")
            return .rejected
        }
        if let text = String(validating: document, as: UTF8.self) {
            precondition((try? JSONParser.parse(text)) == value, "the text and byte parsers disagree")
        }
        _ = value.numberValue
        _ = value.textValue
        if case .success(let path) = JSONPath.compile(pathText) {
            let all = path.all(in: value)
            precondition(path.first(in: value) == all.first, "first(in:) is not the first of all(in:)")
            precondition(path.isMulti || all.count <= 1, "a single-valued path selected \(all.count) values")
        }
        return .accepted
    }

    /// Paths and documents of the kinds device payloads use: carrier envelopes, OCPP frames, nested arrays,
    /// escapes and surrogate pairs, numbers at the edges.
    public static func seeds() -> [FuzzSeed] {
        [
            FuzzSeed("reports", text: "$.reports[0].value\n{\"reports\":[{\"serviceId\":\"uplink\",\"value\":\"41105675647100640cd1070a1600\"}],\"imei\":\"860000000000001\"}"),
            FuzzSeed("ocpp", text: "$[3].meterValue[*].sampledValue[-1].value\n[2,\"19223201\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"2026-01-01T08:00:00+08:00\",\"sampledValue\":[{\"value\":\"230.4\",\"measurand\":\"Voltage\",\"phase\":\"L1\"},{\"value\":\"12.5\",\"unit\":\"A\"}]}]}]"),
            FuzzSeed("quoted-key", text: "$['odd key'][\"x\"]\n{\"odd key\":{\"x\":true},\"e\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\"}"),
            FuzzSeed("numbers", text: "2026-01-01T00:00:00.123Z\n[0,-0,1e308,-1e-308,123456789012345678901234567890,0.1,-2.5E+3,null,false,true]"),
            FuzzSeed("hex", text: "2024-08-28 22:49:41\n0x41 10 56 75 64 71 00 64 0c d1 07 0a 16 00"),
            FuzzSeed("base64", text: "$.APPdata\n{\"APPdata\":\"QRBWdWRxAGQM0QcKFgA=\"}"),
            FuzzSeed("deep", text: "$.a.a.a.a\n" + String(repeating: "{\"a\":", count: 60) + "1" + String(repeating: "}", count: 60)),
        ]
    }
}

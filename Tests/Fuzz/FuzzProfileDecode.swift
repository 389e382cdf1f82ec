// Fuzz target `profile-decode`: every shipped profile (device-profiles/) decoding arbitrary payloads, so every
// decoding primitive the profiles use (bytes, ints, floats, bits, BCD, hex and base64 input, JSON paths, expressions,
// enums, TLV, repeat/switch/each, checksums, time formats, device ids, status roles) meets hostile bytes.
//
// Input: byte 0 picks a decode context (mod their count), the rest is the payload. The contexts are, per profile
// sorted by id: one per inline test vector (its topic captures, transport attributes and receive time, decoded with
// `Profile.decode` as `citygate profile test` does), then one per `match:` template (a `RawMessage` on that
// transport with a topic the template matches, decoded through `ProfileSet.decode`, routing included), then bare UDP
// for profiles with `match.udp`.

import DeviceProfiles
import Foundation
import GatewayCore

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzProfileDecode.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzProfileDecode.seeds)
    _ = FuzzProfileDecode.contexts
    return 0
}
#endif

public enum FuzzProfileDecode {
    /// One way of handing a payload to a profile.
    struct Context {
        enum Route {
            /// `Profile.decode` with a test vector's captures, attributes and receive time.
            case direct(captures: [String: String], attributes: [String: String], receiveTimeMs: Int64)
            /// `ProfileSet.decode` of a message on this transport and topic (payload replaced).
            case routed(RawMessage)
        }

        let profile: Profile
        let route: Route
        let name: String
    }

    /// A fixed receive time (2026-01-01T00:00:00Z), so a crasher replays exactly.
    static let receiveTimeMs: Int64 = 1_767_225_600_000

    /// Every decode context, in a fixed order (see the file header).
    static let contexts: [Context] = {
        var out: [Context] = []
        for profile in FuzzSupport.shippedProfiles.profiles.values.sorted(by: { $0.id < $1.id }) {
            for test in profile.tests {
                let topic = test.topic ?? profile.allTemplates.first.map { sampleTopic($0.template) } ?? ""
                let captures = profile.allTemplates.lazy.compactMap { $0.template.match(topic) }.first ?? [:]
                out.append(Context(profile: profile, route: .direct(captures: captures, attributes: test.attributes,
                                                                    receiveTimeMs: test.receiveTimeMs ?? receiveTimeMs),
                                   name: "\(profile.id) test '\(test.name)'"))
            }
            let attributes = profile.tests.first?.attributes ?? [:]
            for (transport, template) in profile.allTemplates {
                let message = RawMessage(transport: transport, topic: sampleTopic(template), payload: [], receiveTimeMs: receiveTimeMs,
                                         attributes: attributes)
                out.append(Context(profile: profile, route: .routed(message), name: "\(profile.id) \(transport.rawValue) '\(template)'"))
            }
            if profile.acceptsUDP {
                let message = RawMessage(transport: .udp, topic: profile.id, payload: [], receiveTimeMs: receiveTimeMs, attributes: attributes)
                out.append(Context(profile: profile, route: .routed(message), name: "\(profile.id) udp"))
            }
        }
        precondition(!out.isEmpty && out.count <= 256, "fuzz harness: \(out.count) decode contexts; byte 0 must be able to pick each")
        return out
    }()

    /// A topic `template` matches: literal levels as written, `+` and `#` as one level, captures as sample values.
    static func sampleTopic(_ template: TopicTemplate) -> String {
        template.description.split(separator: "/", omittingEmptySubsequences: false).map { level -> String in
            if level == "+" || level == "#" { return "x" }
            if level.hasPrefix("{"), level.hasSuffix("}") { return level == "{deviceId}" ? "fuzz-device" : "fuzz-\(level.dropFirst().dropLast())" }
            return String(level)
        }.joined(separator: "/")
    }

    /// Decodes `input` (see the file header) and checks what every decode result must satisfy.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let first = input.first else { return .rejected }
        let context = contexts[Int(first) % contexts.count]
        let payload = Array(input.dropFirst())
        let result: DecodeResult
        switch context.route {
        case .direct(let captures, let attributes, let receiveTimeMs):
            do {
                result = try context.profile.decode(payload: payload, captures: captures, attributes: attributes, receiveTimeMs: receiveTimeMs)
            } catch {
                precondition(!error.message.isEmpty, "a decode error without a message")
                return .rejected
            }
        case .routed(var message):
            message.payload = payload
            switch FuzzSupport.shippedProfiles.decode(message) {
            case .success(let (_, r)): result = r
            case .failure(let failure):
                precondition(!failure.error.message.isEmpty, "a decode error without a message")
                return .rejected
            }
        }
        check(result, limits: FuzzSupport.shippedProfiles.limits)
        return .accepted
    }

    /// Invariants of any `DecodeResult`.
    static func check(_ result: DecodeResult, limits: DecodeLimits) {
        precondition(result.labels.count == result.samples.count, "labels are not parallel to samples")
        precondition(result.samples.count <= limits.maxSamples, "\(result.samples.count) samples exceed the limit of \(limits.maxSamples)")
        for sample in result.samples {
            precondition(!sample.metric.isEmpty && !sample.device.isEmpty, "a sample without metric or device")
        }
    }

    /// Every inline test vector's payload under its own context, and each profile's first vector under its routed
    /// contexts; then the raw payloads of ../shared/device-vectors/vectors.json (when present) under each profile's
    /// first context.
    public static func seeds() -> [FuzzSeed] {
        var out: [FuzzSeed] = []
        var firstContext: [String: Int] = [:]
        var testIndex: [String: Int] = [:]
        for (index, context) in contexts.enumerated() {
            let profile = context.profile
            if firstContext[profile.id] == nil { firstContext[profile.id] = index }
            let payload: [UInt8]
            switch context.route {
            case .direct:
                let n = testIndex[profile.id, default: 0]
                testIndex[profile.id] = n + 1
                payload = profile.tests[n].payload
            case .routed:
                guard let test = profile.tests.first else { continue }
                payload = test.payload
            }
            out.append(FuzzSeed("ctx\(index)-\(profile.id)", [UInt8(index)] + payload))
        }
        let vectors = FuzzSupport.path("../shared/device-vectors/vectors.json")
        if let data = FileManager.default.contents(atPath: vectors), case .array(let list)? = try? JSONParser.parse(Array(data)) {
            for (n, vector) in list.enumerated() {
                guard let text = vector["input"]?.textValue else { continue }
                let bytes = HexCodec.decode(text) ?? Array(text.utf8)
                for (id, index) in firstContext.sorted(by: { $0.key < $1.key }) {
                    out.append(FuzzSeed("vector\(n)-\(id)", [UInt8(index)] + bytes))
                }
            }
        }
        return out
    }
}

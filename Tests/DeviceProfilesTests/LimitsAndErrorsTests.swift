@testable import DeviceProfiles
import GatewayCore
import Testing

@Suite struct LimitsAndErrorsTests {
    @Test func truncatedPayloadNamesTheField() throws {
        #expect(throws: DecodeError(.decode, "field 'b' needs 2 byte(s) at offset 1, but the frame has 2")) {
            try decodeWith("- { name: a, type: u8 }\n- { name: b, type: u16 }", payload: [1, 2])
        }
    }

    @Test func oversizePayloadIsRefusedBeforeDecoding() throws {
        let profile = try #require(try ProfileLoader.load(yaml: "id: p\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\nmax_payload: 4\ndecode: [ { name: a, type: u8 } ]").first)
        #expect(throws: DecodeError.self) { try profile.decode(payload: [1, 2, 3, 4, 5], captures: ["deviceId": "d"], receiveTimeMs: 0) }
    }

    @Test func workBudgetBoundsLoops() throws {
        let profile = try #require(try ProfileLoader.load(yaml: """
            id: p
            version: 1
            match: { mqtt: "t/{deviceId}" }
            max_payload: 100000
            decode:
              - repeat: { decode: [ { name: a, type: u8 } ] }
            """).first)
        var limits = DecodeLimits()
        limits.workBudget = 1000
        #expect(throws: DecodeError.self) {
            try profile.decode(payload: Array(repeating: 1, count: 5000), captures: ["deviceId": "d"], receiveTimeMs: 0, limits: limits)
        }
        #expect(try profile.decode(payload: Array(repeating: 1, count: 200), captures: ["deviceId": "d"], receiveTimeMs: 0, limits: limits).samples.count == 200)
    }

    @Test func profileErrorsCarryLineAndColumn() {
        let yaml = """
            id: broken
            version: 1
            match: { mqtt: "t/{deviceId}" }
            decode:
              - { name: ok, type: u8 }
              - { name: bad, type: u17 }
            """
        do {
            _ = try ProfileLoader.load(yaml: yaml, file: "broken.yaml")
            Issue.record("a broken profile loaded")
        } catch {
            #expect(error.file == "broken.yaml")
            #expect(error.line == 6)
            #expect(error.message.contains("unknown type 'u17'"))
            #expect(error.description.hasPrefix("broken.yaml:6:"))
        }
    }

    @Test(arguments: [
        ("version: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode: []", 1, "missing 'id'"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode:\n  - { name: a, type: u8, unit: furlongs }", 5, "unknown unit 'furlongs'"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode:\n  - { name: a, type: u8, expr: 'x + nothere' }", 5, "unknown name 'nothere'"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode:\n  - { name: a, type: u8 }\ntests:\n  - payload: '01'", 7, "expects nothing"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/#/x' }\ndecode: []", 3, "'#' must be the last level"),
        ("id: x\nversion: 1\ndecode:\n  - { name: a, type: u8 }", 1, "no device identity"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ncolour: red\ndecode: []", 4, "unknown key 'colour'"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode:\n  - { name: a, type: u8 }\n  - { name: a2, type: u8 \n", 7, "did not find expected"),
        ("id: x\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode:\n  - tlv: { key: 2, entries: { '01': { name: a, type: u8 } } }", 5, "must be 2 byte(s)"),
        ("id: X Y\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode: []", 1, "lower-case"),
    ] as [(String, Int, String)])
    func brokenProfilesAreRefusedWithAPosition(yaml: String, line: Int, message: String) {
        do {
            _ = try ProfileLoader.load(yaml: yaml, file: "p.yaml")
            Issue.record("loaded: \(yaml)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func testRunnerReportsMismatches() throws {
        let profile = try #require(try ProfileLoader.load(yaml: """
            id: runner
            version: 1
            match: { mqtt: "t/{deviceId}" }
            decode: [ { name: a, type: u8, unit: mV } ]
            tests:
              - { name: right, payload: "0A", expect: { samples: { a: { value: 0.01, unit: V } } } }
              - { name: wrong value, payload: "0A", expect: { samples: { a: 11 } } }
              - { name: wrong unit, payload: "0A", expect: { samples: { a: { value: 0.01, unit: mV } } } }
              - { name: missing metric, payload: "0A", expect: { samples: { b: 1 } } }
              - { name: expected error but decoded, payload: "0A", expect: { error: boom } }
              - { name: absent but present, payload: "0A", expect: { absent: [a] } }
              - { name: truncated, payload: "", expect: { error: { kind: decode, contains: "needs 1 byte" } } }
            """).first)
        let outcomes = ProfileTestRunner.run(profile)
        #expect(outcomes.map(\.passed) == [true, false, false, false, false, false, true])
        #expect(outcomes[1].failures == ["a: expected 11, got 0.01"])
    }

    @Test func duplicateTemplatesAcrossProfilesAreRefused() throws {
        let a = try ProfileLoader.load(yaml: "id: a\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        let b = try ProfileLoader.load(yaml: "id: b\nversion: 1\nmatch: { mqtt: 't/{deviceId}' }\ndecode: [ { name: v, type: u8 } ]")
        #expect(throws: ProfileError.self) { try ProfileSet(a + b) }
    }

    @Test func profileSetRoutesAndDeadLettersWithReasons() throws {
        let set = try ProfileSet.load(directory: Repository.profilesDirectory)
        var batch = SampleBatch()
        let now: Int64 = 1_767_225_600_000
        let good = RawMessage(transport: .mqtt, topic: "lora/milesight/em500-pp/dev1/up", payload: [0x01, 0x75, 0x64, 0x03, 0x7B, 0x0A, 0x00], receiveTimeMs: now)
        set.decode(good, into: &batch)
        set.decode(RawMessage(transport: .mqtt, topic: "nowhere/at/all", payload: [1], receiveTimeMs: now), into: &batch)
        set.decode(RawMessage(transport: .mqtt, topic: "lora/milesight/em500-pp/dev1/up", payload: [0x01, 0x75], receiveTimeMs: now), into: &batch)
        set.decode(RawMessage(transport: .mqtt, topic: "lora/milesight/em500-pp/dev1/up", payload: Array(repeating: 0, count: 70_000), receiveTimeMs: now), into: &batch)
        set.decode(RawMessage(transport: .mqtt, topic: "/yfkj/cbd/pub/1", payload: [0x7B, 0xFF], receiveTimeMs: now), into: &batch)
        #expect(batch.messageCount == 5)
        #expect(batch.samples.count == 2)
        #expect(batch.statuses.map(\.device) == ["dev1"])
        #expect(batch.deadLetters.map(\.reason) == [.noProfile, .decode, .oversize, .malformed])
        #expect(batch.deadLetters[1].profileID == "milesight-em500-pp")
        #expect(batch.deadLetters[1].profileVersion == 1)
        #expect(batch.deadLetters[2].message.payload.count == 70_000, "the raw bytes are kept whole")
    }

    @Test func topicTemplates() throws {
        let t = try TopicTemplate.parse("city/{district}/+/x/{deviceId}/#").get()
        #expect(t.subscriptionFilter == "city/+/+/x/+/#")
        #expect(t.match("city/lixia/a/x/d1/up/more") == ["district": "lixia", "deviceId": "d1"])
        #expect(t.match("city/lixia/a/x/d1") == ["district": "lixia", "deviceId": "d1"])
        #expect(t.match("city/lixia/a/y/d1/up") == nil)
        #expect(t.match("city//a/x/d1/up") == nil, "an empty level captures nothing")
        let exact = try TopicTemplate.parse("a/{id}").get()
        #expect(exact.match("a/b/c") == nil)
        #expect(exact.match("a/b") == ["id": "b"])
        #expect(exact.match("a") == nil)
    }

    @Test func expressions() throws {
        func eval(_ text: String) throws -> Value {
            let e = try ExpressionParser.parse(text, allowCurrent: true, resolve: { _ in nil }).get()
            struct Env: ExpressionEnvironment {
                var current: Value { .number(10) }
                func slot(_ index: Int) -> Value { .null }
                var payloadSize: Int { 14 }
                func topicVariable(_ name: String) -> Value { .string("t-\(name)") }
                func attribute(_ name: String) -> Value { .null }
                func json(_ path: JSONPath) -> Value { .null }
                func byte(_ offset: Int) -> Value { .number(Double(offset)) }
            }
            return e.evaluate(Env())
        }
        #expect(try eval("-113 + 2 * x") == .number(-93))
        #expect(try eval("(x > 5 ? 1 : 2) + size") == .number(15))
        #expect(try eval("0xFF & 0x0F | 0x30") == .number(0x3F))
        #expect(try eval("s16(0xFF7E) / 100") == .number(-1.3))
        #expect(try eval("round(2 / 3, 3)") == .number(0.667))
        #expect(try eval("x / 0") == .null)
        #expect(try eval("topic.kind == 't-kind' && !0") == .number(1))
        #expect(try eval("min(3, x, -1) + max(1, 2)") == .number(1))
        #expect(throws: ProfileError.Reason.self) { try ExpressionParser.parse("1 +", allowCurrent: true, resolve: { _ in nil }).get() }
        #expect(throws: ProfileError.Reason.self) { try ExpressionParser.parse("system('x')", allowCurrent: true, resolve: { _ in nil }).get() }
        #expect(throws: ProfileError.Reason.self) { try ExpressionParser.parse("x", allowCurrent: false, resolve: { _ in nil }).get() }
    }
}

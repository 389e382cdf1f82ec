import Testing
@testable import PushIngest

@Suite struct PushJSONTests {
    @Test func spansCoverTheValueAsWritten() throws {
        let text = #" {"a" : [1, -2.5e3, "x\"y"], "b":{"c":null,"d":true}} "#
        let body = bytes(text)
        let root = try PushJSON.parse(body)
        let a = try #require(root["a"])
        #expect(String(decoding: body[a.range], as: UTF8.self) == #"[1, -2.5e3, "x\"y"]"#)
        let b = try #require(root["b"])
        #expect(String(decoding: body[b.range], as: UTF8.self) == #"{"c":null,"d":true}"#)
        guard case .array(let items) = a.kind else { Issue.record("not an array"); return }
        #expect(items.map(\.scalarText) == ["1", "-2.5e3", "x\"y"])
        #expect(b["d"]?.scalarText == "true")
    }

    @Test func escapesAndUnicode() throws {
        let root = try PushJSON.parse(bytes(#"{"k":"\u4e2d\ud83d\ude00\n\/","中":"文"}"#))
        #expect(root["k"]?.string == "中😀\n/")
        #expect(root["中"]?.string == "文")
    }

    @Test(arguments: [
        "", "{", "}", #"{"a"}"#, #"{"a":}"#, "[1,]", "01", "1.", "-", "tru", #""\x""#, #""\ud800""#, "{} {}", "\"a\u{01}\"",
        String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        String(repeating: "[", count: 100_000),
    ])
    func rejects(text: String) {
        #expect(throws: PushJSONError.self) { _ = try PushJSON.parse(bytes(text)) }
    }

    @Test func invalidUTF8InAStringIsRejected() {
        #expect(throws: PushJSONError.self) { _ = try PushJSON.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func integersFromNumbersOrStrings() throws {
        let root = try PushJSON.parse(bytes(#"{"a":12,"b":"34","c":1.5,"d":"x"}"#))
        #expect(root["a"]?.int64 == 12)
        #expect(root["b"]?.int64 == 34)
        #expect(root["c"]?.int64 == nil)
        #expect(root["d"]?.int64 == nil)
    }
}

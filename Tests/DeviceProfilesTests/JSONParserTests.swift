@testable import DeviceProfiles
import Foundation
import Testing

@Suite struct JSONParserTests {
    @Test func parsesNestedDocumentsAndKeepsKeyOrder() throws {
        let v = try JSONParser.parse(Array(#"{"b":[1,-2.5e1,true,null],"a":{"x":"y"}}"#.utf8))
        guard case .object(let members) = v else { Issue.record("not an object"); return }
        #expect(members.map(\.0) == ["b", "a"])
        #expect(v["b"] == .array([.number(1), .number(-25), .bool(true), .null]))
        #expect(v["a"]?["x"] == .string("y"))
    }

    @Test(arguments: [
        (#""a\"b\\c\/\n\t""#, "a\"b\\c/\n\t"),
        (#""\u00e9\u4e2d""#, "é中"),
        (#""\ud83d\ude00""#, "😀"),
        ("\"中文\"", "中文"),
    ])
    func decodesStringEscapes(input: String, expected: String) throws {
        #expect(try JSONParser.parse(Array(input.utf8)) == .string(expected))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01x", "\"unterminated", "tru", "[1] 2", "\"\\ud83d\"", "-", "1.", "1e", "{\"a\":}", "\"\u{01}\"",
    ])
    func rejectsMalformedInput(input: String) {
        #expect(throws: DecodeError.self) { try JSONParser.parse(Array(input.utf8)) }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: DecodeError.self) { try JSONParser.parse(bytes) }
    }

    @Test func refusesExcessiveNesting() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: DecodeError.self) { try JSONParser.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(throws: Never.self) { try JSONParser.parse(Array(ok.utf8)) }
    }

    @Test func agreesWithFoundationOnNumbers() throws {
        for text in ["0", "-0", "123456789012345678", "3.14159", "-1.5E-7", "1e300", "12345678901234567890123"] {
            let mine = try JSONParser.parse(Array(text.utf8))
            let reference = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as! NSNumber
            #expect(mine == .number(reference.doubleValue), "\(text)")
        }
    }

    @Test func pathsSelectMembersIndexesAndWildcards() throws {
        let doc = try JSONParser.parse(Array(#"{"reports":[{"value":"a1"},{"value":"b2"}],"arr":[10,20,30],"odd key":1}"#.utf8))
        func path(_ s: String) throws -> JSONPath { try JSONPath.compile(s).get() }
        #expect(try path("$.reports[*].value").all(in: doc) == [.string("a1"), .string("b2")])
        #expect(try path("$.arr[-1]").first(in: doc) == .number(30))
        #expect(try path("$.arr[5]").first(in: doc) == nil)
        #expect(try path("$['odd key']").first(in: doc) == .number(1))
        #expect(throws: ProfileError.Reason.self) { try JSONPath.compile("reports.value").get() }
        #expect(throws: ProfileError.Reason.self) { try JSONPath.compile("$.a[x]").get() }
    }

    @Test func coercesNumericStrings() {
        #expect(JSONValue.string(" 18.000 ").numberValue == 18)
        #expect(JSONValue.string("abc").numberValue == nil)
        #expect(JSONValue.bool(true).numberValue == 1)
    }
}

import GatewayCore
import Testing

@Suite("JSON string escapes")
struct JSONEscapeTests {
    func decode(_ text: String) -> (String?, String) {
        let bytes = Array(text.utf8)
        var index = 0
        var out: [UInt8] = []
        let problem = JSONEscape.decode(bytes, at: &index, into: &out)
        return (problem, String(decoding: out, as: UTF8.self))
    }

    @Test func simpleEscapesAndUnicode() {
        for (escape, expected) in [("n", "\n"), ("t", "\t"), ("\"", "\""), ("\\", "\\"), ("/", "/"), ("u00e9", "é"), ("u6C34", "水"), ("uD83D\\uDE00", "😀")] {
            let (problem, out) = decode(escape)
            #expect(problem == nil, "\\\(escape)")
            #expect(out == expected, "\\\(escape)")
        }
    }

    @Test func malformedEscapesAreNamed() {
        #expect(decode("x").0 == "invalid escape")
        #expect(decode("").0 == "unterminated escape")
        #expect(decode("u12").0 == "truncated \\u escape")
        #expect(decode("u12G4").0 == "invalid \\u escape")
        #expect(decode("uD83D").0 == "unpaired surrogate")
        #expect(decode("uD83D\\u0041").0 == "unpaired surrogate")
        #expect(decode("uDE00").0 == "unpaired surrogate")
    }

    @Test func hexDigits() {
        #expect(hexDigitValue(UInt8(ascii: "0")) == 0 && hexDigitValue(UInt8(ascii: "f")) == 15 && hexDigitValue(UInt8(ascii: "A")) == 10)
        #expect(hexDigitValue(UInt8(ascii: "g")) == nil && hexDigitValue(UInt8(ascii: " ")) == nil)
    }
}

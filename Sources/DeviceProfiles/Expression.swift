/// What an expression can read while a message is decoded.
protocol ExpressionEnvironment {
    /// `x`: the field's own value, where the expression transforms a field.
    var current: Value { get }
    /// A named field decoded earlier in this message.
    func slot(_ index: Int) -> Value
    /// `size`: the payload length in bytes (or characters for text).
    var payloadSize: Int { get }
    /// `topic.NAME`: a part captured by the matching topic template.
    func topicVariable(_ name: String) -> Value
    /// `attr.NAME`: a transport attribute such as `fport`.
    func attribute(_ name: String) -> Value
    /// `$.path`: a value from the current JSON context.
    func json(_ path: JSONPath) -> Value
    /// `byte(i)`: a payload byte, relative to the current frame.
    func byte(_ offset: Int) -> Value
}

extension ExpressionEnvironment {
    /// What `$.path` yields from a JSON document: numbers and strings as they are, booleans as 1 or 0, nothing for
    /// null, objects, arrays or a missing path.
    static func jsonValue(_ path: JSONPath, in root: JSONValue?) -> Value {
        guard let root, let v = path.first(in: root) else { return .null }
        switch v {
        case .number(let d): return .number(d)
        case .string(let s): return .string(s)
        case .bool(let b): return .number(b ? 1 : 0)
        default: return .null
        }
    }
}

/// A compiled arithmetic / logical expression over numbers and strings.
///
/// Grammar (lowest precedence first): `c ? a : b`, `||`, `&&`, `== != < <= > >=`, `|`, `&`, `<< >>`, `+ -`,
/// `* / %`, unary `- !`, then numbers (`12`, `0x1F`, `1.5e3`), strings (`'text'`), `x`, field names, `size`,
/// `topic.NAME`, `attr.NAME`, `$.json.path`, and functions `abs min max round floor ceil pow sqrt log10 byte
/// s8 s16 s24 s32 exists`. Evaluation is bounded by the size of the tree: there are no loops and no calls out.
indirect enum Expression: Sendable, Hashable {
    case literal(Value)
    case current
    case slot(Int, String)
    case size
    case topic(String)
    case attribute(String)
    case path(JSONPath)
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    case ternary(Expression, Expression, Expression)
    case call(String, [Expression])

    static let functions: [String: ClosedRange<Int>] = [
        "abs": 1...1, "min": 2...8, "max": 2...8, "round": 1...2, "floor": 1...1, "ceil": 1...1, "pow": 2...2,
        "sqrt": 1...1, "log10": 1...1, "byte": 1...1, "s8": 1...1, "s16": 1...1, "s24": 1...1, "s32": 1...1,
        "exists": 1...1,
    ]

    /// Field names this expression reads.
    var slotNames: [String] {
        switch self {
        case .slot(_, let n): return [n]
        case .unary(_, let e): return e.slotNames
        case .binary(_, let a, let b): return a.slotNames + b.slotNames
        case .ternary(let a, let b, let c): return a.slotNames + b.slotNames + c.slotNames
        case .call(_, let args): return args.flatMap(\.slotNames)
        default: return []
        }
    }

    func evaluate<E: ExpressionEnvironment>(_ env: E) -> Value {
        switch self {
        case .literal(let v): return v
        case .current: return env.current
        case .slot(let i, _): return env.slot(i)
        case .size: return .number(Double(env.payloadSize))
        case .topic(let n): return env.topicVariable(n)
        case .attribute(let n): return env.attribute(n)
        case .path(let p): return env.json(p)
        case .unary(let op, let e):
            let v = e.evaluate(env)
            if op == "!" { return .number(v.isTrue ? 0 : 1) }
            guard let d = v.number else { return .null }
            return .number(-d)
        case .ternary(let c, let a, let b):
            return c.evaluate(env).isTrue ? a.evaluate(env) : b.evaluate(env)
        case .binary(let op, let l, let r):
            if op == "&&" { return .number(l.evaluate(env).isTrue && r.evaluate(env).isTrue ? 1 : 0) }
            if op == "||" { return .number(l.evaluate(env).isTrue || r.evaluate(env).isTrue ? 1 : 0) }
            let a = l.evaluate(env)
            let b = r.evaluate(env)
            if op == "==" || op == "!=" {
                let equal: Bool
                if let x = a.number, let y = b.number { equal = x == y } else { equal = a.description == b.description && a != .null && b != .null }
                return .number(equal == (op == "==") ? 1 : 0)
            }
            if op == "+", case .string = a, case .string = b { return .string(a.description + b.description) }
            guard let x = a.number, let y = b.number else { return .null }
            switch op {
            case "+": return .number(x + y)
            case "-": return .number(x - y)
            case "*": return .number(x * y)
            case "/": return y == 0 ? .null : .number(x / y)
            case "%": return y == 0 ? .null : .number(x.truncatingRemainder(dividingBy: y))
            case "<": return .number(x < y ? 1 : 0)
            case "<=": return .number(x <= y ? 1 : 0)
            case ">": return .number(x > y ? 1 : 0)
            case ">=": return .number(x >= y ? 1 : 0)
            default:
                guard let xi = Int64(exactly: x.rounded(.towardZero)), let yi = Int64(exactly: y.rounded(.towardZero)) else { return .null }
                switch op {
                case "&": return .number(Double(xi & yi))
                case "|": return .number(Double(xi | yi))
                case "<<": return (0...62).contains(yi) ? .number(Double(xi << yi)) : .null
                case ">>": return (0...63).contains(yi) ? .number(Double(xi >> yi)) : .null
                default: return .null
                }
            }
        case .call(let name, let args):
            if name == "exists" { return .number(args[0].evaluate(env) == .null ? 0 : 1) }
            let values = args.map { $0.evaluate(env).number }
            if values.contains(where: { $0 == nil }) { return .null }
            let v = values.map { $0! }
            switch name {
            case "abs": return .number(abs(v[0]))
            case "min": return .number(v.min()!)
            case "max": return .number(v.max()!)
            case "floor": return .number(v[0].rounded(.down))
            case "ceil": return .number(v[0].rounded(.up))
            case "sqrt": return v[0] < 0 ? .null : .number(v[0].squareRoot())
            case "log10": return v[0] <= 0 ? .null : .number(log10Double(v[0]))
            case "pow": return .number(powDouble(v[0], v[1]))
            case "round":
                let digits = v.count > 1 ? v[1] : 0
                guard (0...12).contains(digits) else { return .null }
                let f = powDouble(10, digits)
                return .number((v[0] * f).rounded() / f)
            case "byte":
                // Any double may arrive here (`byte(x * 1e300)`): only an offset that is an Int is one.
                guard let offset = Int(exactly: v[0].rounded(.towardZero)) else { return .null }
                return env.byte(offset)
            case "s8", "s16", "s24", "s32":
                let bits: Int64 = name == "s8" ? 8 : name == "s16" ? 16 : name == "s24" ? 24 : 32
                guard let raw = Int64(exactly: v[0].rounded(.towardZero)) else { return .null }
                let masked = raw & ((1 << bits) - 1)
                return .number(Double(masked >= (1 << (bits - 1)) ? masked - (1 << bits) : masked))
            default: return .null
            }
        }
    }
}

/// Parses expression text into an `Expression`, resolving field names to slots.
struct ExpressionParser {
    enum Token: Equatable {
        case number(Double), string(String), identifier(String), path(String), op(String), end
    }

    private var tokens: [Token] = []
    private var position = 0
    private let resolve: (String) -> Int?
    private let allowCurrent: Bool

    /// Most tokens in one expression. Parsing and evaluation recurse over the tree, so its size must be bounded
    /// whatever a profile file says (`1+1+…+1` with 10^5 terms overflowed the stack); real expressions are a few
    /// dozen tokens at most.
    static let maxTokens = 512
    /// Deepest nesting of parentheses, conditionals and unary operators.
    static let maxDepth = 32

    /// Parses `text`; `resolve` maps a field name to its slot (nil = unknown field, an error).
    static func parse(_ text: String, allowCurrent: Bool, resolve: @escaping (String) -> Int?) -> Result<Expression, ProfileError.Reason> {
        var parser = ExpressionParser(resolve: resolve, allowCurrent: allowCurrent)
        do {
            parser.tokens = try ExpressionParser.tokenize(text)
            let e = try parser.parseTernary(depth: 0)
            guard parser.peek == .end else { throw ProfileError.Reason("unexpected '\(parser.peekText)' in expression '\(text)'") }
            return .success(e)
        } catch let reason as ProfileError.Reason {
            return .failure(ProfileError.Reason("\(reason.message)"))
        } catch {
            return .failure(ProfileError.Reason("\(error)"))
        }
    }

    private init(resolve: @escaping (String) -> Int?, allowCurrent: Bool) {
        self.resolve = resolve
        self.allowCurrent = allowCurrent
    }

    private var peek: Token { position < tokens.count ? tokens[position] : .end }
    private var peekText: String {
        switch peek {
        case .number(let d): return "\(d)"
        case .string(let s): return "'\(s)'"
        case .identifier(let s), .path(let s), .op(let s): return s
        case .end: return "end"
        }
    }

    private mutating func take() -> Token {
        defer { position += 1 }
        return peek
    }

    private mutating func accept(_ op: String) -> Bool {
        if peek == .op(op) {
            position += 1
            return true
        }
        return false
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var out: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || (c.value < 128 && c.properties.isAlphabetic) }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) || c == "." }
        while i < chars.count {
            // Stop at the limit rather than tokenize a huge text first (each number costs a parse).
            guard out.count <= maxTokens else { throw ProfileError.Reason("expression has more than \(maxTokens) tokens") }
            let c = chars[i]
            if c == " " || c == "\t" {
                i += 1
                continue
            }
            if ("0"..."9").contains(c) || (c == "." && i + 1 < chars.count && ("0"..."9").contains(chars[i + 1])) {
                var j = i
                while j < chars.count, isIdent(chars[j]) || ((chars[j] == "+" || chars[j] == "-") && j > i && (chars[j - 1] == "e" || chars[j - 1] == "E") && !String(String.UnicodeScalarView(chars[i..<j])).lowercased().hasPrefix("0x")) { j += 1 }
                let literal = String(String.UnicodeScalarView(chars[i..<j]))
                if let n = YAMLReader.parseInt(literal) {
                    out.append(.number(Double(n)))
                } else if let d = Double(literal) {
                    out.append(.number(d))
                } else {
                    throw ProfileError.Reason("invalid number '\(literal)'")
                }
                i = j
                continue
            }
            if c == "'" || c == "\"" {
                var j = i + 1
                while j < chars.count, chars[j] != c { j += 1 }
                guard j < chars.count else { throw ProfileError.Reason("unterminated string in expression '\(text)'") }
                out.append(.string(String(String.UnicodeScalarView(chars[(i + 1)..<j]))))
                i = j + 1
                continue
            }
            if c == "$" {
                var j = i + 1
                var bracket = 0
                while j < chars.count {
                    let d = chars[j]
                    if d == "[" { bracket += 1 } else if d == "]" { bracket -= 1 }
                    if bracket == 0, !(isIdent(d) || d == "]" || d == "*" || d == "$") { break }
                    j += 1
                }
                out.append(.path(String(String.UnicodeScalarView(chars[i..<j]))))
                i = j
                continue
            }
            if isIdentStart(c) {
                var j = i
                while j < chars.count, isIdent(chars[j]) { j += 1 }
                out.append(.identifier(String(String.UnicodeScalarView(chars[i..<j]))))
                i = j
                continue
            }
            let two = i + 1 < chars.count ? String(String.UnicodeScalarView([c, chars[i + 1]])) : ""
            if ["==", "!=", "<=", ">=", "&&", "||", "<<", ">>"].contains(two) {
                out.append(.op(two))
                i += 2
                continue
            }
            if "+-*/%<>!&|?:(),".unicodeScalars.contains(c) {
                out.append(.op(String(c)))
                i += 1
                continue
            }
            throw ProfileError.Reason("unexpected character '\(c)' in expression '\(text)'")
        }
        guard out.count <= maxTokens else { throw ProfileError.Reason("expression has more than \(maxTokens) tokens") }
        return out
    }

    private static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">="], ["|"], ["&"], ["<<", ">>"], ["+", "-"], ["*", "/", "%"]]

    private mutating func parseTernary(depth: Int) throws -> Expression {
        if depth > ExpressionParser.maxDepth { throw ProfileError.Reason("expression nested too deeply") }
        let condition = try parseBinary(level: 0, depth: depth)
        if accept("?") {
            let a = try parseTernary(depth: depth + 1)
            guard accept(":") else { throw ProfileError.Reason("expected ':' in conditional expression") }
            let b = try parseTernary(depth: depth + 1)
            return .ternary(condition, a, b)
        }
        return condition
    }

    private mutating func parseBinary(level: Int, depth: Int) throws -> Expression {
        if level == ExpressionParser.levels.count { return try parseUnary(depth: depth) }
        var lhs = try parseBinary(level: level + 1, depth: depth)
        while case .op(let op) = peek, ExpressionParser.levels[level].contains(op) {
            position += 1
            let rhs = try parseBinary(level: level + 1, depth: depth)
            lhs = .binary(op, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseUnary(depth: Int) throws -> Expression {
        if depth > ExpressionParser.maxDepth { throw ProfileError.Reason("expression nested too deeply") }
        if accept("-") { return .unary("-", try parseUnary(depth: depth + 1)) }
        if accept("!") { return .unary("!", try parseUnary(depth: depth + 1)) }
        if accept("+") { return try parseUnary(depth: depth + 1) }
        return try parsePrimary(depth: depth)
    }

    private mutating func parsePrimary(depth: Int) throws -> Expression {
        switch take() {
        case .number(let d): return .literal(.number(d))
        case .string(let s): return .literal(.string(s))
        case .path(let p):
            switch JSONPath.compile(p) {
            case .success(let path): return .path(path)
            case .failure(let reason): throw reason
            }
        case .op("("):
            let e = try parseTernary(depth: depth + 1)
            guard accept(")") else { throw ProfileError.Reason("missing ')'") }
            return e
        case .identifier(let name):
            if accept("(") {
                guard let arity = Expression.functions[name] else { throw ProfileError.Reason("unknown function '\(name)'") }
                var args: [Expression] = []
                if !accept(")") {
                    repeat { args.append(try parseTernary(depth: depth + 1)) } while accept(",")
                    guard accept(")") else { throw ProfileError.Reason("missing ')' after arguments of '\(name)'") }
                }
                guard arity.contains(args.count) else { throw ProfileError.Reason("'\(name)' takes \(arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : "\(arity.lowerBound) to \(arity.upperBound)") argument(s), found \(args.count)") }
                return .call(name, args)
            }
            if name == "x" {
                guard allowCurrent else { throw ProfileError.Reason("'x' (the field's own value) is only available in a field's expr") }
                return .current
            }
            if name == "size" { return .size }
            if name == "null" { return .literal(.null) }
            if name == "true" { return .literal(.number(1)) }
            if name == "false" { return .literal(.number(0)) }
            if name.hasPrefix("topic."), name.count > 6 { return .topic(String(name.dropFirst(6))) }
            if name.hasPrefix("attr."), name.count > 5 { return .attribute(String(name.dropFirst(5))) }
            guard let slot = resolve(name) else { throw ProfileError.Reason("unknown name '\(name)' (a field must be decoded before it is used)") }
            return .slot(slot, name)
        case .end: throw ProfileError.Reason("expression ends too early")
        case let t: throw ProfileError.Reason("unexpected \(t)")
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func powDouble(_ a: Double, _ b: Double) -> Double { Glibc.pow(a, b) }
@inline(__always) func log10Double(_ a: Double) -> Double { Glibc.log10(a) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func powDouble(_ a: Double, _ b: Double) -> Double { Darwin.pow(a, b) }
@inline(__always) func log10Double(_ a: Double) -> Double { Darwin.log10(a) }
#endif

/// One profile expression (`expr:`, `when:`, `value:` …) compiled and evaluated on its own, outside a profile: for
/// tools and for the fuzz target `expression` (Tests/Fuzz), which must reach the parser and evaluator directly.
///
/// The language and its limits are exactly those of a profile's expressions (docs/profiles.md): the same parser,
/// the same evaluator. Field names resolve against `fields`; `x` is `current`; `size` and `byte(i)` read `payload`
/// (a negative `i` counts from its end); `$.path` reads `json`; `topic.NAME` and `attr.NAME` read the given maps.
public enum ProfileExpression {
    /// The inputs an expression may read.
    public struct Context: Sendable {
        /// `x`, the value being transformed.
        public var current: Value
        /// Fields decoded earlier, by name.
        public var fields: [String: Value]
        /// The payload `size` and `byte(i)` read.
        public var payload: [UInt8]
        /// The JSON document `$.path` reads, if any.
        public var json: JSONValue?
        /// Topic captures (`topic.NAME`).
        public var topic: [String: String]
        /// Transport attributes (`attr.NAME`).
        public var attributes: [String: String]

        /// Creates a context; everything defaults to empty.
        public init(current: Value = .null, fields: [String: Value] = [:], payload: [UInt8] = [], json: JSONValue? = nil,
                    topic: [String: String] = [:], attributes: [String: String] = [:])
        {
            self.current = current
            self.fields = fields
            self.payload = payload
            self.json = json
            self.topic = topic
            self.attributes = attributes
        }
    }

    /// Parses `text` as a profile would (with `x` allowed) and evaluates it in `context`.
    /// - Returns: the value (`.null` where the language yields null: a missing field, a division by zero), or why the
    ///   text is not an expression.
    public static func evaluate(_ text: String, in context: Context = Context()) -> Result<Value, ProfileError.Reason> {
        let names = context.fields.keys.sorted()
        var slots: [String: Int] = [:]
        for (i, name) in names.enumerated() { slots[name] = i }
        switch ExpressionParser.parse(text, allowCurrent: true, resolve: { slots[$0] }) {
        case .failure(let reason): return .failure(reason)
        case .success(let expression):
            let env = StandaloneEnvironment(context: context, slots: names.map { context.fields[$0] ?? .null })
            return .success(expression.evaluate(env))
        }
    }
}

/// `ExpressionEnvironment` over a `ProfileExpression.Context`, with the decoder's semantics for `byte` and `$.path`.
private struct StandaloneEnvironment: ExpressionEnvironment {
    let context: ProfileExpression.Context
    let slots: [Value]

    var current: Value { context.current }
    func slot(_ index: Int) -> Value { index >= 0 && index < slots.count ? slots[index] : .null }
    var payloadSize: Int { context.payload.count }
    func topicVariable(_ name: String) -> Value { context.topic[name].map { .string($0) } ?? .null }
    func attribute(_ name: String) -> Value { context.attributes[name].map { .string($0) } ?? .null }
    func json(_ path: JSONPath) -> Value { Self.jsonValue(path, in: context.json) }
    func byte(_ offset: Int) -> Value {
        let n = context.payload.count
        guard offset < n, offset >= -n else { return .null }
        return .number(Double(context.payload[offset >= 0 ? offset : n + offset]))
    }
}

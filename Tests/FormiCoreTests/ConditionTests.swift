@testable import FormiCore
import Testing

/// A fixed scope for evaluating expressions.
struct FixedScope: ExpressionScope {
    var event: JSONTree
    var vars: [JSONMember] = []
    var turns: Int64 = 0
    var previous: JSONTree = .null

    func variable(_ path: [String]) -> JSONTree? {
        guard let first = path.first, let root = vars[key: first] else { return nil }
        return root[path: path.dropFirst()]
    }

    func number(_ root: RunName.Root) -> JSONTree {
        switch root {
        case .turns: .integer(turns)
        case .previous: previous
        case .state: .integer(2)
        default: .integer(0)
        }
    }
}

func tree(_ json: String) -> JSONTree {
    (try? JSONTree.parse(Array(json.utf8))) ?? .null
}

@Suite("Flow conditions and templates")
struct ConditionTests {
    let scope = FixedScope(
        event: tree(#"{"type":"dtmf","digit":"1","party_size":4,"text":"yes please","slots":{"date":"2026-11-21"},"tags":["vip","late"]}"#),
        vars: tree(#"{"intent":"booking","count":2.5,"flag":true,"caller":{"name":"Asha"}}"#).members ?? [],
        turns: 3)

    @Test("conditions evaluate as written", arguments: [
        (#"event.type == "dtmf" && event.digit in ["1","2"]"#, true),
        (#"event.type == "dtmf" && event.digit in ["3","4"]"#, false),
        ("turns >= 3", true),
        ("turns > 3", false),
        (#"vars.intent == "booking""#, true),
        (#"!(vars.intent == "booking")"#, false),
        (#"!vars.intent == "booking""#, false),
        ("event.party_size > 2 && event.party_size <= 12", true),
        ("event.party_size == 4.0", true),
        ("vars.count < 3 || false", true),
        ("vars.count < 2.5", false),
        ("exists vars.caller.name", true),
        ("vars.caller.age exists", false),
        ("exists event.missing", false),
        (#"event.text contains "yes""#, true),
        (#"event.text contains "no""#, false),
        (#"event.tags contains "vip""#, true),
        (#"event.slots.date >= "2026-11-01""#, true),
        ("vars.flag", true),
        ("vars.flag && !vars.absent", true),
        ("previous == null", true),
        ("state == 2", true),
        (#"event.party_size == "4""#, false),
        (#"event.party_size != "4""#, true),
        (#"event.party_size < "5""#, false),
        ("event.nothing == null", true),
        ("event.party_size in vars.absent", false),
        (#"event.digit in ["1"] && (turns == 3 || false)"#, true),
        ("-1 < event.party_size && 1e1 > event.party_size", true),
        (#""a\"b" == "a\"b""#, true),
    ])
    func evaluates(_ text: String, _ expected: Bool) throws {
        let expression = try Expression.condition(text)
        #expect(expression.holds(in: scope) == expected, "\(text)")
    }

    @Test("bad conditions are refused at load with the reason and the column", arguments: [
        (#"turns == "3""#, "compares a number with a string", 7),
        ("event.type < 3", "orders a string against a number", 12),
        ("vars.x && 1", "right of && must be true or false", 10),
        ("1", "a condition must be true or false", 1),
        ("foo.bar == 1", "unknown name 'foo'", 1),
        ("event == 1", "'event' needs a field", 1),
        ("turns.x > 1", "'turns' is a number and has no fields", 1),
        (#"1 in ["a"]"#, "a number is never in a list of a strings", 3),
        (#"event.digit in ["1", 2]"#, "a list mixes", 13),
        (#"[1] == 1"#, "a [list] may only follow `in`", 1),
        (#"event.text contains 1 == 1"#, "unexpected", 23),
        (#""abc" contains 1"#, "a string contains only strings", 7),
        (#"event.type == "unterminated"#, "unterminated string", 15),
        ("turns >= ", "expected a value, found the end", 10),
        ("(turns > 1", "expected ')'", 11),
        ("true < false", "orders numbers or strings, not true or false", 6),
        ("event.type == 1e999", "invalid number", 15),
        ("", "empty expression", 1),
        ("turns > 1 turns", "unexpected", 11),
        ("1 exists", "`exists` follows a name", 3),
        (#""\q" == "a""#, "invalid string literal", 1),
    ])
    func refuses(_ text: String, _ reason: String, _ column: Int) {
        #expect(throws: ExpressionError.self) { try Expression.condition(text) }
        do {
            _ = try Expression.condition(text)
        } catch {
            #expect(error.message.contains(reason), "\(text): \(error.message)")
            #expect(error.column == column, "\(text): column \(error.column) for \(error.message)")
        }
    }

    @Test("nesting and length are bounded, so hostile input cannot exhaust the stack")
    func bounded() {
        let deep = String(repeating: "!", count: 100) + "true"
        #expect(throws: ExpressionError.self) { try Expression.condition(deep) }
        let parens = String(repeating: "(", count: 100) + "true" + String(repeating: ")", count: 100)
        #expect(throws: ExpressionError.self) { try Expression.condition(parens) }
        let long = Array(repeating: "turns > 1", count: 500).joined(separator: " && ")
        #expect(throws: ExpressionError.self) { try Expression.condition(long) }
        #expect((try? Expression.condition(String(repeating: "!", count: 20) + "true")) != nil)
    }

    @Test("templates render values, defaults, dotted names and escapes in one pass")
    func renders() throws {
        let vars = tree(#"{"name":"Asha","size":4,"caller":{"city":"Pune"},"trap":"{{name}}","nothing":null}"#).members ?? []
        let template = try PromptTemplate(#"Hi {{ name }} from {{caller.city}}, party of {{size}}; {{title|there}} \{{literal}} {{trap}} {{nothing|n/a}}"#)
        let (text, missing) = template.render(PromptTemplate.lookup(in: vars))
        #expect(text == "Hi Asha from Pune, party of 4; there {{literal}} {{name}} n/a")
        #expect(missing.isEmpty)
        #expect(template.variables.map(\.name) == ["name", "caller.city", "size", "title", "trap", "nothing"])
        #expect(template.requiredNames == ["name", "caller.city", "size", "trap"])

        let (partial, absent) = try PromptTemplate("{{a}} {{b|x}} {{c}} {{a}}").render(PromptTemplate.lookup(in: []))
        #expect(partial == " x  ")
        #expect(absent == ["a", "c"])
        let (unicode, _) = try PromptTemplate("नमस्ते {{n}} 🙂").render(PromptTemplate.lookup(in: [JSONMember(key: "n", value: .string("आशा"))]))
        #expect(unicode == "नमस्ते आशा 🙂")
    }

    @Test("template syntax errors name the column", arguments: [
        ("Hello {{name", "never closed", 7),
        ("{{}}", "empty placeholder", 1),
        ("a {{ two words }}", "'two words' is not a placeholder name", 3),
        ("{{1abc}}", "not a placeholder name", 1),
        ("{{a..b}}", "not a placeholder name", 1),
        ("{{a.}}", "not a placeholder name", 1),
    ])
    func templateErrors(_ text: String, _ reason: String, _ column: Int) {
        do {
            _ = try PromptTemplate(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.message.contains(reason), "\(text): \(error.message)")
            #expect(error.column == column)
        }
    }
}

// What an interaction costs an outlet: billed seconds by a telephony billing rule, plus model usage by
// the token and character. All money in integer micro-credits; each part rounds up once.

public struct RateCard: Equatable, Sendable {
    public enum DurationRule: Equatable, Sendable {
        case perSecond
        case perMinute
        case increments(seconds: Int64)
        case firstBlock(seconds: Int64, increment: Int64)
    }

    public var creditsType = "MINUTE_BASED"
    public var rule = DurationRule.perSecond
    public var pricePerMinute: Int64 = 0
    public var inputPerMillion: Int64 = 0
    public var cachedPerMillion: Int64 = 0
    public var outputPerMillion: Int64 = 0
    public var charactersPerMillion: Int64 = 0
    public var allowNegative = false
    public var lowBalanceThreshold: Int64?

    static let maxPrice: Int64 = 1_000_000_000_000

    init(json: JSONTree) throws(LedgerError) {
        var card = try FieldReader(json, context: "rate_card")
        creditsType = try card.string("credits_type", maxBytes: 64) ?? creditsType
        if let duration = card.value("duration") {
            var d = try FieldReader(duration, context: "rate_card.duration")
            let ruleName = try d.choice("rule", ["per_second", "per_minute", "increments", "first_block"]) ?? "per_second"
            pricePerMinute = try d.integer("price_per_minute", in: 0...Self.maxPrice) ?? 0
            let increment = try d.integer("increment_seconds", in: 1...86_400)
            let first = try d.integer("first_block_seconds", in: 1...86_400)
            try d.finish()
            switch ruleName {
            case "per_minute":
                rule = .perMinute
            case "increments":
                guard let increment else { throw .invalid("rate_card.duration.increment_seconds is required by the increments rule") }
                rule = .increments(seconds: increment)
            case "first_block":
                guard let first, let increment else {
                    throw .invalid("rate_card.duration.first_block_seconds and increment_seconds are required by the first_block rule")
                }
                rule = .firstBlock(seconds: first, increment: increment)
            default:
                rule = .perSecond
            }
        }
        if let tokens = card.value("tokens") {
            var t = try FieldReader(tokens, context: "rate_card.tokens")
            inputPerMillion = try t.integer("input_per_million", in: 0...Self.maxPrice) ?? 0
            cachedPerMillion = try t.integer("cached_per_million", in: 0...Self.maxPrice) ?? 0
            outputPerMillion = try t.integer("output_per_million", in: 0...Self.maxPrice) ?? 0
            try t.finish()
        }
        charactersPerMillion = try card.integer("characters_per_million", in: 0...Self.maxPrice) ?? 0
        allowNegative = try card.bool("allow_negative") ?? false
        lowBalanceThreshold = try card.integer("low_balance_threshold", in: 0...Int64.max / 4)
        try card.finish()
    }

    /// The card in its stored, normalised form (every field present).
    var json: JSONTree {
        var duration: [JSONMember] = []
        switch rule {
        case .perSecond: duration.set("rule", .string("per_second"))
        case .perMinute: duration.set("rule", .string("per_minute"))
        case .increments(let n):
            duration.set("rule", .string("increments"))
            duration.set("increment_seconds", .integer(n))
        case .firstBlock(let f, let n):
            duration.set("rule", .string("first_block"))
            duration.set("first_block_seconds", .integer(f))
            duration.set("increment_seconds", .integer(n))
        }
        duration.set("price_per_minute", .integer(pricePerMinute))
        return .object([
            JSONMember(key: "credits_type", value: .string(creditsType)),
            JSONMember(key: "duration", value: .object(duration)),
            JSONMember(key: "tokens", value: .object([
                JSONMember(key: "input_per_million", value: .integer(inputPerMillion)),
                JSONMember(key: "cached_per_million", value: .integer(cachedPerMillion)),
                JSONMember(key: "output_per_million", value: .integer(outputPerMillion)),
            ])),
            JSONMember(key: "characters_per_million", value: .integer(charactersPerMillion)),
            JSONMember(key: "allow_negative", value: .bool(allowNegative)),
            JSONMember(key: "low_balance_threshold", value: lowBalanceThreshold.map { .integer($0) } ?? .null),
        ])
    }

    /// Seconds billed for a call of `durationMs` (>= 0) under the card's rule. A zero-length call bills 0.
    public func billedSeconds(durationMs: Int64) -> Int64 {
        guard durationMs > 0 else { return 0 }
        func ceilDiv(_ a: Int64, _ b: Int64) -> Int64 { (a + b - 1) / b }
        switch rule {
        case .perSecond: return ceilDiv(durationMs, 1000)
        case .perMinute: return 60 * ceilDiv(durationMs, 60_000)
        case .increments(let n): return n * ceilDiv(durationMs, 1000 * n)
        case .firstBlock(let f, let n): return f + n * ceilDiv(max(0, durationMs - 1000 * f), 1000 * n)
        }
    }

    /// The cost parts of usage `vector` (its call duration and per-kind sums), each rounded up once.
    func cost(of vector: UsageVector) -> CostParts {
        let billed = billedSeconds(durationMs: vector[.durationMs])
        var parts = CostParts(billedSeconds: billed, duration: Self.ceilDiv(Int128(billed) * Int128(pricePerMinute), 60))
        for kind in ModelKind.allCases {
            let input = vector[kind, .inputTokens], cached = vector[kind, .cachedTokens]
            let numerator = Int128(input - cached) * Int128(inputPerMillion)
                + Int128(cached) * Int128(cachedPerMillion)
                + Int128(vector[kind, .outputTokens]) * Int128(outputPerMillion)
                + Int128(vector[kind, .characters]) * Int128(charactersPerMillion)
            parts.byKind[kind.rawValue] = Self.ceilDiv(numerator, 1_000_000)
        }
        return parts
    }

    /// Ceiling of a non-negative quotient, clamped into Int64 (reachable only with absurd prices).
    private static func ceilDiv(_ a: Int128, _ b: Int128) -> Int64 {
        Int64(clamping: (a + b - 1) / b)
    }
}

/// An interaction's cost, part by part; `total` is their sum.
struct CostParts: Equatable {
    var billedSeconds: Int64
    var duration: Int64
    var byKind: [Int64] = Array(repeating: 0, count: ModelKind.allCases.count)

    var total: Int64 { byKind.reduce(duration) { $0.addingClamped($1) } }
}

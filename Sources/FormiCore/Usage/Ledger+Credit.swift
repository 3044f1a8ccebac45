// Credits per (outlet, agent) and rate cards per outlet. Invariant, kept by every write and checked
// by `verify`: balance = total_recharge - total_usage.

struct Balance: Equatable {
    var balance: Int64 = 0
    var totalRecharge: Int64 = 0
    var totalUsage: Int64 = 0
}

/// What a write did to a balance.
struct Charge {
    var charged: Int64
    var balance: Balance
    var events: [JSONTree]
}

extension Ledger {
    /// Applies one credit operation (`set`, `add`, `debit`, `rate_card`); see docs/ledger.md.
    public func credit(json: some Collection<UInt8>) throws(LedgerError) -> [UInt8] {
        let tree = try Ledger.parse(json, what: "the credit operation")
        var op = try FieldReader(tree, context: "credit")
        let name = try op.choice("op", ["set", "add", "debit", "rate_card"])
        let key = try op.requiredString("idempotency_key")
        let outlet = try op.requiredString("outlet_id")
        guard let name else { throw .invalid("credit.op is required (set, add, debit or rate_card)") }

        if name == "rate_card" {
            guard let json = op.value("rate_card") else { throw .invalid("credit.rate_card is required") }
            let card = try RateCard(json: json)
            try op.finish()
            return try write { () throws(LedgerError) in
                if let first = try firstResult(of: key) { return first }
                let upsert = try statement("INSERT INTO rate_cards (outlet_id, card) VALUES (?1, ?2) ON CONFLICT (outlet_id) DO UPDATE SET card = excluded.card")
                upsert.bind(1, outlet)
                upsert.bind(2, card.json.jsonText)
                try upsert.execute()
                return try remember(.object([
                    JSONMember(key: "success", value: .bool(true)),
                    JSONMember(key: "duplicate", value: .bool(false)),
                    JSONMember(key: "op", value: .string("rate_card")),
                    JSONMember(key: "outlet_id", value: .string(outlet)),
                ]), key: key, kind: "rate_card")
            }.jsonBytes
        }

        let agent = try op.requiredString("agent_id")
        guard let amount = try op.integer("amount", in: (name == "set" ? 0 : 1)...(Int64.max / 4)) else {
            throw .invalid("credit.amount is required (micro-credits)")
        }
        let at = try op.time("at")
        try op.finish()
        let atMs = at ?? clock()

        return try write { () throws(LedgerError) in
            try db.lockOutlet(outlet)
            if let first = try firstResult(of: key) { return first }
            let card = try rateCard(outlet: outlet)
            var b = try balance(outlet: outlet, agent: agent)
            let before = b.balance
            var change: Int64 = 0
            switch name {
            case "add":
                change = amount
                b.totalRecharge = b.totalRecharge.addingClamped(amount)
                b.balance = b.balance.addingClamped(amount)
            case "set":
                change = amount.subtractingClamped(b.balance)
                b.totalRecharge = b.totalRecharge.addingClamped(change)
                b.balance = amount
            default:
                guard card?.allowNegative == true || b.balance >= amount else {
                    throw .limit("a debit of \(amount) exceeds the balance \(b.balance) of agent \(agent) at outlet \(outlet), and the outlet's rate card does not allow a negative balance")
                }
                change = -amount
                b.totalUsage = b.totalUsage.addingClamped(amount)
                b.balance = b.balance.subtractingClamped(amount)
            }
            try store(b, outlet: outlet, agent: agent)
            let insert = try statement("""
                INSERT INTO credit_ops (idempotency_key, op, outlet_id, agent_id, amount, change, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            insert.bind(1, key); insert.bind(2, name); insert.bind(3, outlet); insert.bind(4, agent)
            insert.bind(5, amount); insert.bind(6, change); insert.bind(7, atMs)
            try insert.execute()
            let events = lowBalanceEvents(before: before, after: b.balance, card: card, outlet: outlet, agent: agent)
            return try remember(.object([
                JSONMember(key: "success", value: .bool(true)),
                JSONMember(key: "duplicate", value: .bool(false)),
                JSONMember(key: "op", value: .string(name)),
                JSONMember(key: "outlet_id", value: .string(outlet)),
                JSONMember(key: "agent_id", value: .string(agent)),
                JSONMember(key: "amount", value: .integer(amount)),
                JSONMember(key: "balance", value: .integer(b.balance)),
                JSONMember(key: "total_recharge", value: .integer(b.totalRecharge)),
                JSONMember(key: "total_usage", value: .integer(b.totalUsage)),
                JSONMember(key: "events", value: .array(events)),
            ]), key: key, kind: "credit")
        }.jsonBytes
    }

    // MARK: balances

    /// The outlet's rate card. Parsed cards are kept by their stored text, so a card changed by another
    /// process is seen at once while an unchanged one is not parsed again for every record.
    func rateCard(outlet: String) throws(LedgerError) -> RateCard? {
        let select = try statement("SELECT card FROM rate_cards WHERE outlet_id = ?1")
        select.bind(1, outlet)
        guard try select.next(), let text = select.text(0) else { return nil }
        select.reset()
        if let cached = rateCards[outlet], cached.text == text { return cached.card }
        guard let tree = try? JSONTree.parse(Array(text.utf8)), let card = try? RateCard(json: tree) else {
            throw .storage("storage: the rate card of outlet \(outlet) is damaged")
        }
        if rateCards.count > 10_000 { rateCards.removeAll() }
        rateCards[outlet] = (text, card)
        return card
    }

    func balance(outlet: String, agent: String) throws(LedgerError) -> Balance {
        let select = try statement("SELECT balance, total_recharge, total_usage FROM balances WHERE outlet_id = ?1 AND agent_id = ?2")
        select.bind(1, outlet)
        select.bind(2, agent)
        guard try select.next() else { return Balance() }
        defer { select.reset() }
        return Balance(balance: select.int(0), totalRecharge: select.int(1), totalUsage: select.int(2))
    }

    private func store(_ b: Balance, outlet: String, agent: String) throws(LedgerError) {
        let upsert = try statement("""
            INSERT INTO balances (outlet_id, agent_id, balance, total_recharge, total_usage) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (outlet_id, agent_id) DO UPDATE SET balance = excluded.balance, total_recharge = excluded.total_recharge,
            total_usage = excluded.total_usage
            """)
        upsert.bind(1, outlet); upsert.bind(2, agent)
        upsert.bind(3, b.balance); upsert.bind(4, b.totalRecharge); upsert.bind(5, b.totalUsage)
        try upsert.execute()
    }

    /// Charges an interaction's cost. Without `allow_negative` the balance stops at zero and the rest
    /// is unpaid (the interaction happened: it is recorded whatever the balance).
    func chargeBalance(outlet: String, agent: String, amount: Int64, card: RateCard) throws(LedgerError) -> Charge {
        var b = try balance(outlet: outlet, agent: agent)
        let before = b.balance
        let charged = card.allowNegative ? amount : max(0, min(amount, b.balance))
        b.balance = b.balance.subtractingClamped(charged)
        b.totalUsage = b.totalUsage.addingClamped(charged)
        try store(b, outlet: outlet, agent: agent)
        var events = lowBalanceEvents(before: before, after: b.balance, card: card, outlet: outlet, agent: agent)
        if charged < amount {
            events.append(.object([
                JSONMember(key: "type", value: .string("insufficient_credits")),
                JSONMember(key: "outlet_id", value: .string(outlet)),
                JSONMember(key: "agent_id", value: .string(agent)),
                JSONMember(key: "unpaid", value: .integer(amount - charged)),
            ]))
        }
        return Charge(charged: charged, balance: b, events: events)
    }

    /// A `low_balance` event when a write takes the balance from at or above the card's threshold to below it.
    private func lowBalanceEvents(before: Int64, after: Int64, card: RateCard?, outlet: String, agent: String) -> [JSONTree] {
        guard let threshold = card?.lowBalanceThreshold, before >= threshold, after < threshold else { return [] }
        return [.object([
            JSONMember(key: "type", value: .string("low_balance")),
            JSONMember(key: "outlet_id", value: .string(outlet)),
            JSONMember(key: "agent_id", value: .string(agent)),
            JSONMember(key: "balance", value: .integer(after)),
            JSONMember(key: "threshold", value: .integer(threshold)),
        ])]
    }
}

extension Int64 {
    /// Saturating arithmetic for balances: a corrupt or absurd store must not trap the host.
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    func subtractingClamped(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}

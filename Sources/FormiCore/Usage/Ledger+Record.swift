// Recording interactions: cost by the outlet's rate card, charge to the agent's balance, and every
// roll-up updated, all in the transaction that stores the interaction.

extension Ledger {
    /// Records one interaction (a JSON object) or a batch (an array, one transaction, all or nothing).
    /// Returns the result JSON: a retried idempotency key answers its first result, marked duplicate.
    public func record(json: some Collection<UInt8>) throws(LedgerError) -> [UInt8] {
        let tree = try Ledger.parse(json, what: "the record")
        if let list = tree.elements {
            guard !list.isEmpty else { throw .invalid("the batch of records is empty") }
            guard list.count <= Ledger.maxBatch else { throw .limit("a batch holds at most \(Ledger.maxBatch) records, found \(list.count)") }
            var records: [InteractionRecord] = []
            records.reserveCapacity(list.count)
            for (i, item) in list.enumerated() { records.append(try InteractionRecord(json: item, context: "records[\(i)]")) }
            let results = try write { () throws(LedgerError) in
                var results: [JSONTree] = []
                for record in records { results.append(try store(record)) }
                return results
            }
            return JSONTree.object([
                JSONMember(key: "success", value: .bool(true)),
                JSONMember(key: "results", value: .array(results)),
            ]).jsonBytes
        }
        let record = try InteractionRecord(json: tree)
        return try write { () throws(LedgerError) in try store(record) }.jsonBytes
    }

    private func store(_ record: InteractionRecord) throws(LedgerError) -> JSONTree {
        try db.lockOutlet(record.outletId)
        if let first = try firstResult(of: record.idempotencyKey) { return first }
        let exists = try statement("SELECT 1 FROM interactions WHERE interaction_id = ?1")
        exists.bind(1, record.interactionId)
        if try exists.next() {
            exists.reset()
            // On a shared store the first writer of this key may have committed between the two reads.
            if let first = try firstResult(of: record.idempotencyKey) { return first }
            throw .conflict("interaction \(record.interactionId) is already recorded under another idempotency key")
        }

        var usage = record.usage
        var costJSON = JSONTree.null
        var charge: Charge?
        if let card = try rateCard(outlet: record.outletId) {
            let parts = card.cost(of: usage)
            usage[.billedSeconds] = parts.billedSeconds
            usage[.durationCostMicro] = parts.duration
            for kind in ModelKind.allCases { usage[kind, .costMicro] = parts.byKind[kind.rawValue] }
            usage[.costMicro] = parts.total
            let applied = try chargeBalance(outlet: record.outletId, agent: record.agentId, amount: parts.total, card: card)
            usage[.chargedMicro] = applied.charged
            usage[.unpaidMicro] = parts.total - applied.charged
            charge = applied
            var stored: [JSONMember] = [
                JSONMember(key: "total", value: .integer(usage[.costMicro])),
                JSONMember(key: "duration", value: .integer(usage[.durationCostMicro])),
            ]
            for kind in ModelKind.allCases where usage[kind, .entries] > 0 {
                stored.set(kind.name, JSONTree.integer(usage[kind, .costMicro]))
            }
            costJSON = .object(stored)
        }

        let insert = try statement("""
            INSERT INTO interactions (interaction_id, outlet_id, agent_id, started_ms, ended_ms, escalation_reason, usage, cost, record)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """)
        insert.bind(1, record.interactionId)
        insert.bind(2, record.outletId)
        insert.bind(3, record.agentId)
        insert.bind(4, record.startedMs)
        insert.bind(5, record.endedMs)
        insert.bind(6, record.escalationReason)
        insert.bind(7, blob: usage.encoded)
        insert.bind(8, costJSON == .null ? nil : costJSON.jsonText)
        insert.bind(9, record.tree.jsonText)
        try insert.execute()

        let key = RollupKey(outletId: record.outletId, agentId: record.agentId)
        try addToRollups(usage, key: key, at: record.startedMs, reason: record.escalationReason)
        if record.agentName != nil || record.agentStatus != nil {
            let agent = try statement("""
                INSERT INTO agents (outlet_id, agent_id, name, status) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (outlet_id, agent_id) DO UPDATE SET name = coalesce(?3, agents.name), status = coalesce(?4, agents.status)
                """)
            agent.bind(1, record.outletId)
            agent.bind(2, record.agentId)
            agent.bind(3, record.agentName)
            agent.bind(4, record.agentStatus)
            try agent.execute()
        }

        var balanceAfter = charge?.balance.balance ?? 0
        if charge == nil { balanceAfter = try balance(outlet: record.outletId, agent: record.agentId).balance }
        var result: [JSONMember] = [
            JSONMember(key: "success", value: .bool(true)),
            JSONMember(key: "duplicate", value: .bool(false)),
            JSONMember(key: "interaction_id", value: .string(record.interactionId)),
            JSONMember(key: "outlet_id", value: .string(record.outletId)),
            JSONMember(key: "agent_id", value: .string(record.agentId)),
            JSONMember(key: "cost", value: charge == nil ? .null : .integer(usage[.costMicro])),
            JSONMember(key: "charged", value: .integer(usage[.chargedMicro])),
            JSONMember(key: "unpaid", value: .integer(usage[.unpaidMicro])),
            JSONMember(key: "balance", value: .integer(balanceAfter)),
        ]
        result.set("events", .array(charge?.events ?? []))
        return try remember(.object(result), key: record.idempotencyKey, kind: "record")
    }

    // MARK: idempotency

    /// The result first given for `key`, marked as a duplicate; nil for a new key.
    func firstResult(of key: String) throws(LedgerError) -> JSONTree? {
        let select = try statement("SELECT result FROM writes WHERE idempotency_key = ?1")
        select.bind(1, key)
        guard try select.next(), let text = select.text(0) else { return nil }
        select.reset()
        guard var members = (try? JSONTree.parse(Array(text.utf8)))?.members else {
            throw .storage("storage: the stored result of idempotency key \(key) is damaged")
        }
        members.set("duplicate", .bool(true))
        return .object(members)
    }

    /// Stores `result` as the answer to every later retry of `key`, and returns it.
    func remember(_ result: JSONTree, key: String, kind: String) throws(LedgerError) -> JSONTree {
        let insert = try statement("INSERT INTO writes (idempotency_key, kind, result) VALUES (?1, ?2, ?3)")
        insert.bind(1, key)
        insert.bind(2, kind)
        insert.bind(3, result.jsonText)
        try insert.execute()
        return result
    }

    // MARK: roll-ups

    /// Adds an interaction's usage to its hour and day, its day's quarter-hour profile and, when it has
    /// one, its escalation reason's counts. Profiles and reasons are kept per agent and for the whole
    /// outlet too: queries without an agent read one row per outlet instead of one per agent.
    func addToRollups(_ usage: UsageVector, key: RollupKey, at startedMs: Int64, reason: String?) throws(LedgerError) {
        for level in LedgerSchema.levels {
            let slot = CivilTime.floorDiv(startedMs, level) * level
            let select = try statement("SELECT usage FROM rollups WHERE level = ?1 AND slot = ?2 AND outlet_id = ?3 AND agent_id = ?4")
            select.bind(1, level); select.bind(2, slot); select.bind(3, key.outletId); select.bind(4, key.agentId)
            var sum = usage
            if try select.next() {
                guard let stored = select.withBlob(0, { UsageVector(encoded: $0) }) else {
                    select.reset()
                    throw .storage("storage: a roll-up row is damaged (level \(level), slot \(slot))")
                }
                sum.add(stored)
            }
            select.reset()
            let upsert = try statement("""
                INSERT INTO rollups (level, slot, outlet_id, agent_id, usage) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (level, slot, outlet_id, agent_id) DO UPDATE SET usage = excluded.usage
                """)
            upsert.bind(1, level); upsert.bind(2, slot); upsert.bind(3, key.outletId); upsert.bind(4, key.agentId)
            upsert.bind(5, blob: sum.encoded)
            try upsert.execute()

            if let reason {
                for owner in [key.agentId, RollupKey.outletWide] {
                    let reasons = try statement("""
                        INSERT INTO reason_rollups (level, slot, outlet_id, agent_id, reason, calls, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)
                        ON CONFLICT (agent_id, level, slot, outlet_id, reason)
                        DO UPDATE SET calls = reason_rollups.calls + 1, duration_ms = reason_rollups.duration_ms + ?6
                        """)
                    reasons.bind(1, level); reasons.bind(2, slot); reasons.bind(3, key.outletId); reasons.bind(4, owner)
                    reasons.bind(5, reason); reasons.bind(6, usage[.durationMs])
                    try reasons.execute()
                }
            }
        }

        let day = CivilTime.floorDiv(startedMs, CivilTime.msPerDay) * CivilTime.msPerDay
        let quarter = Int((startedMs - day) / CivilTime.msPerQuarter)
        for owner in [key.agentId, RollupKey.outletWide] {
            let select = try statement("SELECT quarters FROM day_profiles WHERE day = ?1 AND outlet_id = ?2 AND agent_id = ?3")
            select.bind(1, day); select.bind(2, key.outletId); select.bind(3, owner)
            var profile = DayProfile()
            if try select.next() {
                guard let stored = select.withBlob(0, { DayProfile(encoded: $0) }) else {
                    select.reset()
                    throw .storage("storage: a day profile is damaged (day \(CivilTime.isoDate(days: day / CivilTime.msPerDay)))")
                }
                profile = stored
            }
            select.reset()
            profile.add(quarter: quarter, usage)
            let upsert = try statement("""
                INSERT INTO day_profiles (day, outlet_id, agent_id, quarters) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (agent_id, day, outlet_id) DO UPDATE SET quarters = excluded.quarters
                """)
            upsert.bind(1, day); upsert.bind(2, key.outletId); upsert.bind(3, owner)
            upsert.bind(4, blob: profile.encoded)
            try upsert.execute()
        }
    }
}

extension JSONTree {
    var jsonBytes: [UInt8] {
        var writer = JSONWriter(capacity: 512)
        write(into: &writer)
        return writer.bytes
    }
}

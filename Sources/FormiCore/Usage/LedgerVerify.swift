// `verify`: rebuilds every roll-up from the stored interactions and every balance from the stored
// charges and credit operations, and reports any difference. The kill test and the fuzz targets use
// it to show that no write was ever half applied.

extension Ledger {
    func verify(_ q: inout FieldReader, _ w: inout JSONWriter) throws(LedgerError) {
        try q.finish()
        var problems: [String] = []
        var rollups: [Int64: [RollupSlot: UsageVector]] = [:]
        var profiles: [RollupSlot: DayProfile] = [:]
        var reasons: [ReasonSlot: (calls: Int64, durationMs: Int64)] = [:]
        var charged: [RollupKey: Int64] = [:]
        var interactions: Int64 = 0

        let scan = try statement("SELECT outlet_id, agent_id, started_ms, ended_ms, escalation_reason, usage FROM interactions")
        while try scan.next() {
            interactions += 1
            let key = RollupKey(outletId: scan.text(0) ?? "", agentId: scan.text(1) ?? "")
            let started = scan.int(2)
            guard let usage = scan.withBlob(5, { UsageVector(encoded: $0) }) else {
                problems.append("an interaction's usage vector is damaged")
                continue
            }
            // Stored values: wrapping arithmetic, so a damaged store is reported, never a trap.
            if usage[.durationMs] != scan.int(3) &- started { problems.append("an interaction's duration disagrees with its times") }
            for level in LedgerSchema.levels {
                let slot = RollupSlot(slot: CivilTime.floorDiv(started, level) &* level, key: key)
                rollups[level, default: [:]][slot, default: UsageVector()].add(usage)
                if let reason = scan.text(4) {
                    for owner in [key.agentId, RollupKey.outletWide] {
                        let reasonSlot = ReasonSlot(level: level, slot: RollupSlot(slot: slot.slot, key: RollupKey(outletId: key.outletId, agentId: owner)), reason: reason)
                        let sum = reasons[reasonSlot] ?? (0, 0)
                        reasons[reasonSlot] = (sum.calls &+ 1, sum.durationMs &+ usage[.durationMs])
                    }
                }
            }
            let day = CivilTime.floorDiv(started, CivilTime.msPerDay) &* CivilTime.msPerDay
            for owner in [key.agentId, RollupKey.outletWide] {
                let slot = RollupSlot(slot: day, key: RollupKey(outletId: key.outletId, agentId: owner))
                profiles[slot, default: DayProfile()].add(quarter: Int((started &- day) / CivilTime.msPerQuarter), usage)
            }
            charged[key, default: 0] &+= usage[.chargedMicro]
        }

        let stored = try statement("SELECT level, slot, outlet_id, agent_id, usage FROM rollups")
        var storedRollups = 0
        while try stored.next() {
            storedRollups += 1
            let slot = RollupSlot(slot: stored.int(1), key: RollupKey(outletId: stored.text(2) ?? "", agentId: stored.text(3) ?? ""))
            let usage = stored.withBlob(4) { UsageVector(encoded: $0) }
            if usage == nil || rollups[stored.int(0)]?[slot] != usage { problems.append("roll-up (level \(stored.int(0)), slot \(slot.slot)) differs from its interactions") }
        }
        if storedRollups != rollups.values.reduce(0, { $0 + $1.count }) { problems.append("roll-up rows are missing") }

        let storedProfiles = try statement("SELECT day, outlet_id, agent_id, quarters FROM day_profiles")
        var profileRows = 0
        while try storedProfiles.next() {
            profileRows += 1
            let slot = RollupSlot(slot: storedProfiles.int(0), key: RollupKey(outletId: storedProfiles.text(1) ?? "", agentId: storedProfiles.text(2) ?? ""))
            if profiles[slot] != storedProfiles.withBlob(3, { DayProfile(encoded: $0) }) { problems.append("day profile \(slot.slot) differs from its interactions") }
        }
        if profileRows != profiles.count { problems.append("day profile rows are missing") }

        let storedReasons = try statement("SELECT level, slot, outlet_id, agent_id, reason, calls, duration_ms FROM reason_rollups")
        var reasonRows = 0
        while try storedReasons.next() {
            reasonRows += 1
            let slot = RollupSlot(slot: storedReasons.int(1), key: RollupKey(outletId: storedReasons.text(2) ?? "", agentId: storedReasons.text(3) ?? ""))
            let expected = reasons[ReasonSlot(level: storedReasons.int(0), slot: slot, reason: storedReasons.text(4) ?? "")]
            if expected?.calls != storedReasons.int(5) || expected?.durationMs != storedReasons.int(6) { problems.append("escalation reason roll-up differs from its interactions") }
        }
        if reasonRows != reasons.count { problems.append("escalation reason rows are missing") }

        var recharged: [RollupKey: Int64] = [:]
        var debited: [RollupKey: Int64] = [:]
        let ops = try statement("SELECT outlet_id, agent_id, op, amount, change FROM credit_ops")
        while try ops.next() {
            let key = RollupKey(outletId: ops.text(0) ?? "", agentId: ops.text(1) ?? "")
            if ops.text(2) == "debit" { debited[key, default: 0] &+= ops.int(3) } else { recharged[key, default: 0] &+= ops.int(4) }
        }
        let balances = try statement("SELECT outlet_id, agent_id, balance, total_recharge, total_usage FROM balances")
        while try balances.next() {
            let key = RollupKey(outletId: balances.text(0) ?? "", agentId: balances.text(1) ?? "")
            let b = Balance(balance: balances.int(2), totalRecharge: balances.int(3), totalUsage: balances.int(4))
            if b.balance != b.totalRecharge &- b.totalUsage { problems.append("balance of \(key.agentId) at \(key.outletId) is not recharge - usage") }
            if b.totalRecharge != recharged[key, default: 0] { problems.append("total_recharge of \(key.agentId) at \(key.outletId) differs from its credit operations") }
            if b.totalUsage != charged[key, default: 0] &+ debited[key, default: 0] { problems.append("total_usage of \(key.agentId) at \(key.outletId) differs from its charges and debits") }
        }

        w.beginObject()
        w.key("success"); w.bool(true)
        w.key("ok"); w.bool(problems.isEmpty)
        w.field("interactions", interactions)
        w.key("problems")
        w.beginArray()
        for problem in problems.prefix(100) { w.string(problem) }
        w.endArray()
        w.endObject()
    }
}

struct RollupSlot: Hashable {
    var slot: Int64
    var key: RollupKey
}

struct ReasonSlot: Hashable {
    var level: Int64
    var slot: RollupSlot
    var reason: String
}

// Reading sums over a time range from the roll-ups. A range [a, b) is cut into whole UTC days, then
// whole hours, then the ragged ends, which come from the interactions themselves; so the answer is
// exactly what a scan would give, reading at most ~2 x 23 hour rows and two partial hours of
// interactions beyond one row per day (per outlet and agent).

struct RollupKey: Hashable, Comparable {
    var outletId: String
    var agentId: String

    /// The agent id of a profile or reason row that sums every agent of its outlet (agent ids are
    /// never empty).
    static let outletWide = ""

    static func < (a: RollupKey, b: RollupKey) -> Bool { (a.outletId, a.agentId) < (b.outletId, b.agentId) }
}

/// Which outlets and agents a query covers (nil: all).
struct KeyFilter {
    var outletId: String?
    var agentId: String?

    /// The agent column to read in the tables kept per agent and per outlet (profiles, reasons).
    var profileOwner: String { agentId ?? RollupKey.outletWide }
}

/// Calls, resolved calls and call duration for each quarter hour of a UTC day.
struct DayProfile: Equatable {
    static let quarters = 96
    static let fields = 3
    private(set) var values = Array(repeating: Int64(0), count: DayProfile.quarters * DayProfile.fields)

    init() {}

    init?(encoded bytes: UnsafeRawBufferPointer) {
        guard Varints.decode(bytes, into: &values, signed: false) else { return nil }
    }

    var encoded: [UInt8] { Varints.encode(values, signed: false) }

    mutating func add(quarter: Int, _ usage: UsageVector) {
        guard (0..<Self.quarters).contains(quarter) else { return }
        values[quarter * 3] &+= usage[.calls]
        values[quarter * 3 + 1] &+= usage[.resolved]
        values[quarter * 3 + 2] &+= usage[.durationMs]
    }

    func calls(_ quarter: Int) -> Int64 { values[quarter * 3] }
    func resolved(_ quarter: Int) -> Int64 { values[quarter * 3 + 1] }
    func durationMs(_ quarter: Int) -> Int64 { values[quarter * 3 + 2] }
}

/// Calls at an instant (an interaction's start or a quarter hour's), for days and hours of the day.
struct TimedCalls {
    var atMs: Int64
    var key: RollupKey
    var calls: Int64
    var resolved: Int64
    var durationMs: Int64
}

enum TimeSplit {
    /// `range` cut into pieces: a level (slot length in ms) for runs of whole slots, nil for the ends
    /// that must come from the interactions. Levels go from coarse to fine.
    static func pieces(_ range: Range<Int64>, levels: ArraySlice<Int64>) -> [(level: Int64?, range: Range<Int64>)] {
        guard !range.isEmpty else { return [] }
        guard let unit = levels.first else { return [(nil, range)] }
        let first = CivilTime.floorDiv(range.lowerBound + unit - 1, unit) * unit
        let last = CivilTime.floorDiv(range.upperBound, unit) * unit
        let finer = levels.dropFirst()
        guard first < last else { return pieces(range, levels: finer) }
        return pieces(range.lowerBound..<first, levels: finer) + [(unit, first..<last)] + pieces(last..<range.upperBound, levels: finer)
    }
}

extension Ledger {
    /// Usage sums per (outlet, agent) of the interactions that started in `range`.
    func sums(in range: Range<Int64>, _ filter: KeyFilter) throws(LedgerError) -> [RollupKey: UsageVector] {
        var sums: [RollupKey: UsageVector] = [:]
        for piece in TimeSplit.pieces(range, levels: LedgerSchema.levels[...]) {
            let select: any LedgerStatement
            if let level = piece.level {
                select = try statement("""
                    SELECT outlet_id, agent_id, usage FROM rollups WHERE level = ?1 AND slot >= ?2 AND slot < ?3
                    AND (?4 IS NULL OR outlet_id = ?4) AND (?5 IS NULL OR agent_id = ?5)
                    """)
                select.bind(1, level)
            } else {
                select = try statement("""
                    SELECT outlet_id, agent_id, usage FROM interactions WHERE started_ms >= ?2 AND started_ms < ?3
                    AND (?4 IS NULL OR outlet_id = ?4) AND (?5 IS NULL OR agent_id = ?5)
                    """)
            }
            select.bind(2, piece.range.lowerBound); select.bind(3, piece.range.upperBound)
            select.bind(4, filter.outletId); select.bind(5, filter.agentId)
            while try select.next() {
                let key = RollupKey(outletId: select.text(0) ?? "", agentId: select.text(1) ?? "")
                guard let usage = select.withBlob(2, { UsageVector(encoded: $0) }) else {
                    select.reset()
                    throw .storage("storage: a stored usage vector is damaged")
                }
                sums[key, default: UsageVector()].add(usage)
            }
        }
        return sums
    }

    /// Calls in `range` at quarter-hour resolution (exact at the ends), for local days and hours under
    /// any offset that is a whole number of quarter hours. Without an agent filter the pieces are whole
    /// outlets (their `key.agentId` is empty).
    func timedCalls(in range: Range<Int64>, _ filter: KeyFilter, _ visit: (TimedCalls) -> Void) throws(LedgerError) {
        for piece in TimeSplit.pieces(range, levels: [CivilTime.msPerQuarter]) {
            if piece.level == nil {
                let select = try statement("""
                    SELECT outlet_id, agent_id, started_ms, usage FROM interactions WHERE started_ms >= ?1 AND started_ms < ?2
                    AND (?3 IS NULL OR outlet_id = ?3) AND (?4 IS NULL OR agent_id = ?4)
                    """)
                select.bind(1, piece.range.lowerBound); select.bind(2, piece.range.upperBound)
                select.bind(3, filter.outletId); select.bind(4, filter.agentId)
                while try select.next() {
                    guard let usage = select.withBlob(3, { UsageVector(encoded: $0) }) else {
                        select.reset()
                        throw .storage("storage: a stored usage vector is damaged")
                    }
                    visit(TimedCalls(atMs: select.int(2), key: RollupKey(outletId: select.text(0) ?? "", agentId: select.text(1) ?? ""),
                                     calls: usage[.calls], resolved: usage[.resolved], durationMs: usage[.durationMs]))
                }
                continue
            }
            let firstDay = CivilTime.floorDiv(piece.range.lowerBound, CivilTime.msPerDay) * CivilTime.msPerDay
            let select = try statement("""
                SELECT outlet_id, agent_id, day, quarters FROM day_profiles WHERE day >= ?1 AND day < ?2
                AND (?3 IS NULL OR outlet_id = ?3) AND agent_id = ?4
                """)
            select.bind(1, firstDay); select.bind(2, piece.range.upperBound)
            select.bind(3, filter.outletId); select.bind(4, filter.profileOwner)
            while try select.next() {
                let key = RollupKey(outletId: select.text(0) ?? "", agentId: select.text(1) ?? "")
                let day = select.int(2)
                guard let profile = select.withBlob(3, { DayProfile(encoded: $0) }) else {
                    select.reset()
                    throw .storage("storage: a day profile is damaged")
                }
                for quarter in 0..<DayProfile.quarters where profile.calls(quarter) > 0 {
                    let at = day + Int64(quarter) * CivilTime.msPerQuarter
                    guard piece.range.contains(at) else { continue }
                    visit(TimedCalls(atMs: at, key: key, calls: profile.calls(quarter), resolved: profile.resolved(quarter),
                                     durationMs: profile.durationMs(quarter)))
                }
            }
        }
    }

    /// Escalation reasons of the interactions that started in `range`: calls and duration per reason.
    func reasons(in range: Range<Int64>, _ filter: KeyFilter) throws(LedgerError) -> [String: (calls: Int64, durationMs: Int64)] {
        var totals: [String: (calls: Int64, durationMs: Int64)] = [:]
        for piece in TimeSplit.pieces(range, levels: LedgerSchema.levels[...]) {
            let select: any LedgerStatement
            if let level = piece.level {
                select = try statement("""
                    SELECT reason, calls, duration_ms FROM reason_rollups WHERE level = ?1 AND slot >= ?2 AND slot < ?3
                    AND (?4 IS NULL OR outlet_id = ?4) AND agent_id = ?6
                    """)
                select.bind(1, level)
                select.bind(6, filter.profileOwner)
            } else {
                select = try statement("""
                    SELECT escalation_reason, 1, ended_ms - started_ms FROM interactions WHERE started_ms >= ?2 AND started_ms < ?3
                    AND escalation_reason IS NOT NULL AND (?4 IS NULL OR outlet_id = ?4) AND (?5 IS NULL OR agent_id = ?5)
                    """)
            }
            select.bind(2, piece.range.lowerBound); select.bind(3, piece.range.upperBound)
            select.bind(4, filter.outletId); select.bind(5, filter.agentId)
            while try select.next() {
                let reason = select.text(0) ?? ""
                let sum = totals[reason] ?? (0, 0)
                totals[reason] = (sum.calls &+ select.int(1), sum.durationMs &+ select.int(2))
            }
        }
        return totals
    }
}

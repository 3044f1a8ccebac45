// The agent statistic and metrics queries (docs/ledger.md): totals, days, hours of the day, outcomes, agents,
// AI insights and escalation reasons. Null wherever a ratio has nothing to divide by.

extension Ledger {
    func agentStatistic(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        let range = try QueryRange.instants(&q, required: false)
        try q.finish()
        let u = try total(in: range.range, filter)
        let conversations = u[.calls]
        let tokens = u.allKinds(.inputTokens) &+ u.allKinds(.outputTokens)
        w.beginObject()
        w.key("success"); w.bool(true)
        w.field("conversations", conversations)
        w.field("tokensUsed", tokens)
        w.key("tokensPerConversation"); w.ratio(tokens, conversations)
        w.key("vapiSecondsUsed"); w.ratio(u[.durationMs], 1000)
        w.key("averageCallDuration"); w.ratio(u[.durationMs], conversations &* 1000)
        w.field("smsUsed", u[.sms])
        w.key("smsPerConversation"); w.ratio(u[.sms], conversations)
        w.field("emailsUsed", u[.emails])
        w.key("emailsPerConversation"); w.ratio(u[.emails], conversations)
        w.endObject()
    }

    func metrics(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        let range = try QueryRange.instants(&q, required: true)
        try q.finish()
        let firstDay = range.localDay(range.range.lowerBound)
        let lastDay = range.range.isEmpty ? firstDay - 1 : range.localDay(range.range.upperBound - 1)
        guard lastDay - firstDay < QueryRange.maxDays else { throw .limit("metrics cover at most \(QueryRange.maxDays) days") }

        let perKey = try sums(in: range.range, filter)
        var perAgent: [String: UsageVector] = [:]
        var u = UsageVector()
        for (key, usage) in perKey {
            u.add(usage)
            if usage[.calls] > 0 { perAgent[key.agentId, default: UsageVector()].add(usage) }
        }
        var days = Array(repeating: (calls: Int64(0), resolved: Int64(0)), count: Int(max(0, lastDay - firstDay + 1)))
        var hours = Array(repeating: (calls: Int64(0), durationMs: Int64(0)), count: 24)
        try timedCalls(in: range.range, filter) { piece in
            let day = Int(range.localDay(piece.atMs) - firstDay)
            if days.indices.contains(day) {
                days[day].calls &+= piece.calls
                days[day].resolved &+= piece.resolved
            }
            let hour = range.localHour(piece.atMs)
            hours[hour].calls &+= piece.calls
            hours[hour].durationMs &+= piece.durationMs
        }
        let reasons = try reasons(in: range.range, filter).sorted { $0.value.calls != $1.value.calls ? $0.value.calls > $1.value.calls : $0.key < $1.key }
        let names = try agentNames(filter)

        w.beginObject()
        w.key("success"); w.bool(true)
        w.key("metrics")
        w.beginObject()
        w.field("totalCalls", u[.calls])
        w.key("totalMinutes"); w.ratio(u[.durationMs], 60_000)
        w.key("resolutionRate"); w.percent(u[.resolved], u[.calls])
        w.key("avgDuration"); w.ratio(u[.durationMs], u[.calls] &* 1000)
        w.field("activeAgents", Int64(perAgent.count))
        w.key("responseTime"); w.ratio(u.llm(.ttftMicros), u.llm(.ttftCount) &* 1000)
        w.key("sentimentPercent"); w.percent(u[.sentimentPositive], u[.sentimentKnown])
        w.key("escalationRate"); w.percent(u[.escalated], u[.calls])
        w.endObject()

        w.key("dailyVolume")
        w.beginArray()
        for (i, day) in days.enumerated() {
            w.beginObject()
            w.field("date", CivilTime.isoDate(days: firstDay + Int64(i)))
            w.field("totalCalls", day.calls)
            w.field("resolvedCalls", day.resolved)
            w.endObject()
        }
        w.endArray()

        w.key("hourlyDistribution")
        w.beginArray()
        for (hour, sum) in hours.enumerated() {
            w.beginObject()
            w.field("hour", hour < 10 ? "0\(hour):00" : "\(hour):00")
            w.field("calls", sum.calls)
            w.key("minutes"); w.ratio(sum.durationMs, 60_000)
            w.endObject()
        }
        w.endArray()

        w.key("resolutionBreakdown")
        w.beginObject()
        w.field("resolved", u[.resolved])
        w.field("transferred", u[.transferred])
        w.field("abandoned", u[.abandoned])
        w.field("other", u[.other])
        w.endObject()

        w.key("agentPerformance")
        w.beginArray()
        let agents = perAgent.sorted { $0.value[.calls] != $1.value[.calls] ? $0.value[.calls] > $1.value[.calls] : $0.key < $1.key }
        for (agent, a) in agents {
            w.beginObject()
            w.field("agentId", agent)
            w.field("agentName", names[agent]?.name)
            w.field("totalCalls", a[.calls])
            w.field("resolved", a[.resolved])
            w.field("transferred", a[.transferred])
            w.field("abandoned", a[.abandoned])
            w.field("other", a[.other])
            w.key("resolvedPercent"); w.percent(a[.resolved], a[.calls])
            w.key("transferredPercent"); w.percent(a[.transferred], a[.calls])
            w.key("abandonedPercent"); w.percent(a[.abandoned], a[.calls])
            w.key("otherPercent"); w.percent(a[.other], a[.calls])
            w.key("avgDuration"); w.ratio(a[.durationMs], a[.calls] &* 1000)
            w.key("sentimentPercent"); w.percent(a[.sentimentPositive], a[.sentimentKnown])
            w.field("status", names[agent]?.status)
            w.endObject()
        }
        w.endArray()

        w.key("aiInsights")
        w.beginObject()
        w.key("intentAccuracy"); w.percent(u[.zeroCorrections], u[.correctionsKnown])
        w.key("contextRetention"); w.percent(u.llm(.cachedTokens), u.llm(.inputTokens))
        w.key("speechRecognition"); w.ratio(u[.stt, .confidencePpm], u[.stt, .confidenceCount] &* 10_000)
        w.key("entityExtraction"); w.percent(u.allKinds(.toolOk), u.allKinds(.toolOk) &+ u.allKinds(.toolFailed))
        w.key("responseLatency"); w.ratio(u.llm(.ttftMicros), u.llm(.ttftCount) &* 1000)
        w.field("trainingSessions", u[.calls])
        w.endObject()

        w.key("escalationReasons")
        w.beginArray()
        for (reason, sum) in reasons {
            w.beginObject()
            w.field("reason", reason)
            w.field("count", sum.calls)
            w.key("percentOfTotal"); w.percent(sum.calls, u[.escalated])
            w.key("avgTimeBeforeEscalation"); w.ratio(sum.durationMs, sum.calls &* 1000)
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }

    /// Names and statuses of agents, as last recorded (an agent in several outlets: the first outlet's).
    private func agentNames(_ filter: KeyFilter) throws(LedgerError) -> [String: (name: String?, status: String?)] {
        let select = try statement("""
            SELECT agent_id, name, status FROM agents WHERE (?1 IS NULL OR outlet_id = ?1) AND (?2 IS NULL OR agent_id = ?2)
            ORDER BY outlet_id DESC
            """)
        select.bind(1, filter.outletId); select.bind(2, filter.agentId)
        var names: [String: (name: String?, status: String?)] = [:]
        while try select.next() {
            names[select.text(0) ?? ""] = (select.text(1), select.text(2))
        }
        return names
    }
}

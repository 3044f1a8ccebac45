#!/usr/bin/env python3
"""Independent oracle for the usage ledger (docs/ledger.md).

Replays tests/ledger/fixture.json with a deliberately plain model (lists and dicts, every query scans
every interaction) and writes tests/ledger/expected.json:

    {"writes": [<result of each write>], "queries": [<answer of each query>]}

An error is written as {"error": "<FORMI_* status name>", "message_contains": "<text>"}; an empty
message_contains means the contract fixes no text for that error.

It was written from docs/ledger.md alone (plus the seeds in shared/ for field names), without looking
at the Swift implementation, so that the implementation can be checked against numbers it did not
compute. Python 3 standard library only. Money is integer micro-credits; every non-count figure is
computed as an exact Fraction of integer sums and rounded once, half away from zero, to 2 decimals.
Numbers are read from the fixture as Decimal (never float) so fractions in the input stay exact.

Run: python3 tests/ledger/oracle.py   (deterministic; rewrites tests/ledger/expected.json)

READINGS (where the contract leaves a detail open; each is marked "# READING:" at its spot below)
 R1  Results of credit ops are not specified. Taken: {"success", "duplicate", "op", "outlet_id",
     "agent_id", "amount", "balance", "total_recharge", "total_usage", "events"}; for op rate_card:
     {"success", "duplicate", "op", "outlet_id"}. A harness may compare only balance/events/duplicate.
 R2  In a record result, `cost` is the integer total (sum of parts) or null; `charged` is what left the
     balance; `unpaid` = cost - charged; `balance` is the balance after the write. Without a rate card:
     cost null, charged 0, unpaid 0, billed seconds 0.
 R3  A retried key returns the first result verbatim (same balance and events as then), only with
     "duplicate": true. Record keys and credit-op keys are separate key spaces (the fixture never
     reuses a key across them, so this does not matter here).
 R4  Entries of the same kind in one interaction are summed first and rounded up once per kind
     ("per model kind ceil(...)"), not once per entry.
 R5  The parts of a cost are {duration, one per kind present}. The sentence "per-kind costs add up to
     it" is read as "the parts add up to it"; a kind's cost in model_utilisation is its kind part only
     (the duration part belongs to no kind). A price missing from the rate card is 0.
 R6  "Charges of interactions" (credits.total_usage, credit_usage) and interaction_utilisation
     .credits_used are the amounts actually charged (cost minus unpaid), so that
     balance = total_recharge - total_usage holds; model_utilisation.cost sums cost parts (what the
     usage cost, paid or not).
 R7  allow_negative false: the charge is min(cost, max(balance, 0)), the rest is unpaid; an
     insufficient_credits event only when unpaid > 0. allow_negative true: the whole cost is charged.
 R8  low_balance applies to every write that changes a balance (records and credit ops) when the
     outlet's card has a threshold; before >= threshold and after < threshold. When one write yields
     both events, low_balance comes first. (No credit op in this fixture crosses the threshold.)
 R9  A refused debit does not store its idempotency key and adds nothing.
 R10 total_recharge / total_usage / available_credits in `credits` are all-time; only
     filtered_credit_usage is limited to the range. from_date / to_date are echoed normalised to
     yyyy-mm-dd, null when absent. A debit belongs to the range by its `at`.
 R11 credits_type: the outlet's rate card's, else "MINUTE_BASED" (also with no card at all).
 R12 Durations: total_duration_seconds, averages, vapiSecondsUsed, minutes use the actual duration
     ended_at - started_at (not billed time), all of it attributed to started_at's day/hour/bucket.
 R13 Groups (interaction_utilisation, model_utilisation) are only those with at least one interaction
     in the range; sorted by outlet_id then agent_id. In model_utilisation kinds appear in the order
     CONVERSATION, TRANSITION, TTS, STT; audio_seconds is a 2-decimal number; average_latency_ms is the
     mean ttft_ms over that kind's entries that carry ttft_ms (null when none). The fixture makes every
     group have model usage, so whether a group without any would be listed is not tested.
 R14 Means over model entries (responseTime / responseLatency, average_latency_ms, speechRecognition)
     are means over entries that carry the field, not per call. contextRetention is the ratio of sums
     sum(cached)/sum(input) of the LLM kinds (the contract's wording, not the seed's "average ratio").
     entityExtraction counts tool calls of every kind (the fixture only has tool calls on LLM kinds).
 R15 sentimentPercent = positive / calls whose sentiment is not null (absent = null = not measured).
 R16 escalationReasons lists reasons of escalated calls that have a non-null reason; percentOfTotal
     divides by ALL escalated calls (transferred or with a reason, including transferred calls with no
     reason), so the percentages need not sum to 100; avgTimeBeforeEscalation is the mean call duration
     in seconds of that reason's calls.
 R17 Agent name and status: the latest given in write order, across all records (not limited by the
     query's range or filters); null when never given. Agents are keyed by agent_id in metrics (the
     fixture's agent ids are unique across outlets). In the fixture the latest name is also the latest
     by started_at, so both readings agree.
 R18 metrics.dailyVolume runs from the local date of startDate to the local date of endDate - 1 ms;
     hours are "HH:00" local. totalMinutes / hourly minutes = duration ms / 60000 (2 decimals).
     avgDuration in seconds. activeAgents = distinct agent ids with calls in the range.
 R19 The answer shapes of `interaction` (not given beyond "the record as stored plus cost parts"):
     {"success", "interaction": {given fields with times as ISO 8601 UTC with milliseconds and numbers
     at their kept precision, "duration_ms", "billed_seconds", "cost": {"total", "duration", <kind>...}
     (null without a rate card), "charged", "unpaid"}}. (Time format and the null cost were aligned
     with the implementation's answer after the first comparison; no figure changed.) The fixture's i08 carries every
     optional field, so null-versus-omitted does not arise for it.
 R20 agent_statistic: tokensUsed = input (which includes cached) + output tokens of every kind;
     vapiSecondsUsed = sum of actual durations in seconds (2 decimals); conversations = interactions
     started in the range.
 R21 usage_stats: the answer is {"success", "aggregate_stats", "previous_interval_stats", "stats"};
     each stats object is {"start_time", "end_time", then the fields in the contract's order}; interaction
     without `messages` count 0 messages; start/end are integers (whole seconds).
 R22 Status names the contract does not fix: missing required argument or a bad utc_offset ->
     FORMI_EINVAL; unknown interaction id -> FORMI_ENOTFOUND (formi.h: "No such name or id"). Only the
     date-order message text is fixed by the contract; the unknown-query message is expected to name
     the query.
 R23 A range that is missing on interaction_utilisation / model_utilisation means all time (not
     exercised by the fixture).

FIXTURE NOTES (tests/ledger/fixture.json cannot carry comments; ids below are interaction ids)
 - o1: first_block F=60 N=6 at 70001/min + token and character prices, threshold 2000000, allow_negative
   left to its default; o2: per_minute 200000/min, allow_negative false, credits_type left to default.
 - i01 is recorded on o2 before o2 has a rate card (cost null); later queried with `interaction`.
 - i05 / i06: last ms before and first ms of 15 March local (+05:30); i09 / i10: last ms of bucket 1 and
   first ms of bucket 2; i30 starts at the exclusive end of the +05:30 range (integer Unix seconds);
   i31 is the last second inside it; i41 starts exactly on a bucket boundary (05:20Z) of the UTC range
   and i32 at its exclusive end (18 March 00:00Z).
 - i13, i14 straddle local midnight (+05:30); i23 straddles UTC midnight; i37, i38, i39 are written
   late but started early (attribution follows started_at, balances follow write order).
 - i08: numeric times, ended_at = ...725.0625 s lands on exactly half a ms (-> 063); every optional field.
 - i10 lasts 400 ms (bills F = 60 s), i11 lasts 0 ms (bills 0 s, cost 0).
 - i14 has two CONVERSATION entries whose per-entry costs would round differently from the per-kind
   sum (12502.5 + 8957.5: per kind 21460, per entry 21461).
 - a2's credits are `set` to 8000000 (total_recharge absorbs the change); a1 has two debits, one inside
   and one outside its +05:30 credits range (by `at`).
 - b1 runs out on i12 (partial charge, unpaid 100000), i18 is wholly unpaid, a debit of 1 at balance 0
   is refused (FORMI_ELIMIT), then an add (retried once; the retry returns the first balance).
 - i17 (inside a 2-record batch) takes a3 from 2222998 to 1888368, below 2000000: low_balance.
 - i06's record is retried after a later a1 record: the retry returns the first balance.
 - Reasons: "billing dispute" x3 and "wants human" x3 tie (order by reason), "refund request" x2 (one
   on a resolved call: still escalated) and "technical issue" x2; i25 is transferred with no reason;
   i20 gives escalation_reason null explicitly; i05 and i31 give sentiment null explicitly.

HAND CHECKS (arithmetic done by hand, matching what the code below prints into expected.json)
 H1 first_block cost of i08 (o1 card: F=60 s, N=6 s, 70001 micro-credits/min):
    started 1710489600 s, ended 1710489725.0625 s -> 1710489725062.5 ms, half away -> ...063 ms;
    d = 125063 ms. Billed = 60 + 6 x ceil((125063 - 60000) / 6000) = 60 + 6 x ceil(10.84) = 60 + 66
    = 126 s. Duration part = ceil(126 x 70001 / 60) = ceil(8820126 / 60) = ceil(147002.1) = 147003.
    CONVERSATION: input 1833, cached 1024 -> uncached 809: 809 x 2.5 + 1024 x 1.25 + 377 x 10
      = 2022.5 + 1280 + 3770 = 7072.5 -> 7073.
    TRANSITION: 212 x 2.5 + 9 x 10 = 530 + 90 = 620.   TTS: 523 chars x 15 = 7845.   STT: 0.
    cost = 147003 + 7073 + 620 + 7845 + 0 = 162541 micro-credits.
 H2 usage_stats bucket boundary, 15/03/2024..17/03/2024 at utc_offset 19800:
    start = 2024-03-15T00:00+05:30 = 1710460800 - 19800 = 1710441000 s; D = 3 days -> buckets of
    3 x 9600 = 28800 s; bucket 2 starts at 1710441000 + 2 x 28800 = 1710498600 s = 2024-03-15T10:30:00Z.
    i10 (started 10:30:00.000Z) falls in bucket 2, i09 (10:29:59.999Z) in bucket 1; i05 (18:29:59.999Z
    on the 14th) is the last ms of previous_interval_stats [1710181800, 1710441000), i06 (18:30:00Z)
    opens bucket 0. The range ends at 1710441000 + 259200 = 1710700200 = i30's start (excluded).
"""

import calendar
import copy
import json
import os
import re
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["CONVERSATION", "TRANSITION", "TTS", "STT"]
LLM_KINDS = ("CONVERSATION", "TRANSITION")
OUTCOMES = ("resolved", "transferred", "abandoned", "other")
DATE_ORDER_MSG = "To Date cannot be before From Date"


class LedgerError(Exception):
    def __init__(self, status, message=""):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------------
# exact arithmetic helpers
# ---------------------------------------------------------------------------------------------------

def half_away(x):
    """Round a Fraction to an integer, half away from zero."""
    x = Fraction(x)
    q, r = divmod(abs(x.numerator), x.denominator)
    if 2 * r >= x.denominator:
        q += 1
    return q if x >= 0 else -q


def ceil_div(a, b):
    """ceil(a / b) for integers, b > 0."""
    return -((-a) // b)


def r2(x):
    """Exact value -> Decimal with 2 decimals, half away from zero (emitted as a JSON number)."""
    return Decimal(half_away(Fraction(x) * 100)).scaleb(-2)


def ratio2(num, den, scale=1):
    """num / den x scale rounded to 2 decimals; null with a zero denominator."""
    if den == 0:
        return None
    return r2(Fraction(num) * scale / den)


def exact(v):
    """A JSON number (int or Decimal, never float) as a Fraction."""
    if isinstance(v, bool) or not isinstance(v, (int, Decimal)):
        raise LedgerError("FORMI_EINVAL", "number expected")
    return Fraction(v)


def kept(v, per_unit):
    """A number kept to 1/per_unit of its unit, as an integer count of that fraction (half away)."""
    return half_away(exact(v) * per_unit)


# ---------------------------------------------------------------------------------------------------
# times and ranges
# ---------------------------------------------------------------------------------------------------

ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def parse_time(v):
    """A time (ISO 8601 with a zone, or Unix seconds) -> integer ms since the epoch."""
    if isinstance(v, str):
        m = ISO_RE.match(v)
        if not m:
            raise LedgerError("FORMI_EINVAL", "bad time " + v)
        y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
        secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        frac = Fraction(int(m.group(7)), 10 ** len(m.group(7))) if m.group(7) else Fraction(0)
        zone = m.group(8)
        off = 0
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            off = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        return (secs - off) * 1000 + half_away(frac * 1000)
    # Unix seconds, fractions allowed, kept to the ms, rounded half away from zero
    return half_away(exact(v) * 1000)


def parse_date(s):
    m = re.match(r"^(\d{2})/(\d{2})/(\d{4})$", s)
    if m:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", s)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    raise LedgerError("FORMI_EINVAL", "bad date " + s)


def utc_offset_of(q):
    off = q.get("utc_offset", 0)
    # READING: a bad utc_offset (not whole quarter hours, or beyond +-18 h) is FORMI_EINVAL.
    if isinstance(off, bool) or not isinstance(off, int) or off % 900 != 0 or abs(off) > 18 * 3600:
        raise LedgerError("FORMI_EINVAL", "")  # no message text is specified
    return off


def local_midnight_ms(d, off):
    """UTC ms of local midnight starting date d at utc offset off (seconds)."""
    return (calendar.timegm((d.year, d.month, d.day, 0, 0, 0, 0, 0, 0)) - off) * 1000


def local_dt(ms, off):
    return datetime(1970, 1, 1) + timedelta(milliseconds=ms + off * 1000)


def date_range(q, default_days=None):
    """dates form: [local midnight of from_date, local midnight after to_date)."""
    off = utc_offset_of(q)
    fd, td = q.get("from_date"), q.get("to_date")
    if fd is None and td is None and default_days is None:
        return None  # READING: no range given means all time (credits says so; see R23 for the others)
    if default_days is not None:
        # usage_stats defaults: to_date today, from_date two days before (local)
        today = local_dt(int(datetime.now(timezone.utc).timestamp() * 1000), off).date()
        tdd = parse_date(td) if td is not None else today
        fdd = parse_date(fd) if fd is not None else tdd - timedelta(days=default_days)
    else:
        if fd is None or td is None:
            raise LedgerError("FORMI_EINVAL", "from_date and to_date go together")
        fdd, tdd = parse_date(fd), parse_date(td)
    if tdd < fdd:
        raise LedgerError("FORMI_EINVAL", DATE_ORDER_MSG)
    start = local_midnight_ms(fdd, off)
    end = local_midnight_ms(tdd + timedelta(days=1), off)
    return {"start": start, "end": end, "from": fdd, "to": tdd, "days": (tdd - fdd).days + 1, "off": off}


def instant_range(q):
    if "startDate" not in q or "endDate" not in q:
        raise LedgerError("FORMI_EINVAL", "startDate and endDate are required")
    s, e = parse_time(q["startDate"]), parse_time(q["endDate"])
    if e < s:
        raise LedgerError("FORMI_EINVAL", DATE_ORDER_MSG)
    return s, e


# ---------------------------------------------------------------------------------------------------
# the model: plain lists and dicts
# ---------------------------------------------------------------------------------------------------

class Ledger:
    def __init__(self):
        self.rate_cards = {}          # outlet_id -> rate card dict (as given)
        self.accounts = {}            # (outlet_id, agent_id) -> {"recharge": int, "usage": int}
        self.interactions = []        # stored interactions, in write order
        self.debits = []              # (outlet_id, agent_id, at_ms, amount)
        self.record_keys = {}         # idempotency_key -> first result
        self.credit_keys = {}         # idempotency_key -> first result
        self.agent_name = {}          # agent_id -> latest agent_name given
        self.agent_status = {}        # agent_id -> latest agent_status given

    # -- accounts -----------------------------------------------------------------------------------
    def account(self, outlet, agent):
        return self.accounts.setdefault((outlet, agent), {"recharge": 0, "usage": 0})

    def balance(self, outlet, agent):
        a = self.account(outlet, agent)
        return a["recharge"] - a["usage"]

    def low_balance_event(self, outlet, agent, before, after):
        card = self.rate_cards.get(outlet)
        t = card.get("low_balance_threshold") if card else None
        if t is not None and before >= t and after < t:
            return [{"type": "low_balance", "outlet_id": outlet, "agent_id": agent, "balance": after,
                     "threshold": t}]
        return []

    # -- recording ----------------------------------------------------------------------------------
    def record(self, inp):
        if isinstance(inp, list):
            saved = copy.deepcopy(self.__dict__)
            try:
                results = [self.record_one(o) for o in inp]
            except LedgerError:
                self.__dict__ = saved  # all or nothing
                raise
            return {"success": True, "results": results}
        return self.record_one(inp)

    def record_one(self, o):
        validate_record(o)
        key = o["idempotency_key"]
        if key in self.record_keys:
            # READING: a retried key returns the first result verbatim, with "duplicate": true (R3).
            first = copy.deepcopy(self.record_keys[key])
            first["duplicate"] = True
            return first
        iid = o["interaction_id"]
        if any(i["interaction_id"] == iid for i in self.interactions):
            raise LedgerError("FORMI_EINVAL", "interaction id recorded under another key")
        start, end = parse_time(o["started_at"]), parse_time(o["ended_at"])
        if end < start:
            raise LedgerError("FORMI_EINVAL", "ended_at before started_at")
        outlet, agent = o["outlet_id"], o["agent_id"]
        d = end - start
        mu = [normalise_entry(e) for e in o.get("model_usage", [])]
        card = self.rate_cards.get(outlet)
        before = self.balance(outlet, agent)
        if card is None:
            # READING: no rate card: cost null, nothing charged, 0 billed seconds (R2).
            billed, parts, cost, charged, unpaid = 0, None, None, 0, 0
        else:
            billed = billed_seconds(card, d)
            parts = cost_parts(card, billed, mu)
            cost = sum(parts.values())
            if card.get("allow_negative", False) or before - cost >= 0:
                charged = cost
            else:
                # READING: the balance stops at zero, the rest is unpaid (R7).
                charged = min(cost, max(before, 0))
            unpaid = cost - charged
        self.account(outlet, agent)["usage"] += charged
        after = self.balance(outlet, agent)
        events = self.low_balance_event(outlet, agent, before, after)
        if unpaid > 0:
            events.append({"type": "insufficient_credits", "outlet_id": outlet, "agent_id": agent,
                           "unpaid": unpaid})
        msg = o.get("messages") or {}
        self.interactions.append({
            "input": o, "interaction_id": iid, "outlet_id": outlet, "agent_id": agent,
            "start": start, "end": end, "dur": d, "outcome": o["outcome"],
            "reason": o.get("escalation_reason"), "sentiment": o.get("sentiment"),
            "corrections": o.get("user_corrections"),
            "msg": {k: msg.get(k, 0) for k in ("received", "unhandled", "ambiguous", "mismatched_ambiguous",
                                                 "interventions")},
            "counters": o.get("counters") or {}, "mu": mu,
            "billed": billed, "parts": parts, "cost": cost, "charged": charged, "unpaid": unpaid,
        })
        # READING: "the latest given" = latest in write order (R17).
        if o.get("agent_name") is not None:
            self.agent_name[agent] = o["agent_name"]
        if o.get("agent_status") is not None:
            self.agent_status[agent] = o["agent_status"]
        result = {"success": True, "duplicate": False, "interaction_id": iid, "outlet_id": outlet,
                  "agent_id": agent, "cost": cost, "charged": charged, "unpaid": unpaid, "balance": after,
                  "events": events}
        self.record_keys[key] = copy.deepcopy(result)
        return result

    # -- credits --------------------------------------------------------------------------------------
    def credit(self, o):
        op = o.get("op")
        key = o.get("idempotency_key")
        if not isinstance(key, str) or not (1 <= len(key.encode()) <= 200):
            raise LedgerError("FORMI_EINVAL", "idempotency_key")
        if key in self.credit_keys:
            first = copy.deepcopy(self.credit_keys[key])
            first["duplicate"] = True
            return first
        if op == "rate_card":
            check_keys(o, {"op", "idempotency_key", "outlet_id", "rate_card"})
            self.rate_cards[o["outlet_id"]] = o["rate_card"]
            # READING: result shape of a rate_card op is not in the contract (R1).
            result = {"success": True, "duplicate": False, "op": "rate_card", "outlet_id": o["outlet_id"]}
            self.credit_keys[key] = copy.deepcopy(result)
            return result
        check_keys(o, {"op", "idempotency_key", "outlet_id", "agent_id", "amount", "at"})
        outlet, agent, amount = o["outlet_id"], o["agent_id"], o["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise LedgerError("FORMI_EINVAL", "amount")
        if "at" not in o:
            raise AssertionError("the fixture gives every `at` explicitly")
        at = parse_time(o["at"])
        acct = self.account(outlet, agent)
        before = self.balance(outlet, agent)
        if op == "add":
            if amount <= 0:
                raise LedgerError("FORMI_EINVAL", "amount")
            acct["recharge"] += amount
        elif op == "set":
            if amount < 0:
                raise LedgerError("FORMI_EINVAL", "amount")
            acct["recharge"] += amount - before  # "the changes made by set" count as recharge
        elif op == "debit":
            if amount <= 0:
                raise LedgerError("FORMI_EINVAL", "amount")
            card = self.rate_cards.get(outlet)
            if before - amount < 0 and not (card and card.get("allow_negative", False)):
                # READING: nothing changes, the key is not kept (R9); no message text is specified.
                raise LedgerError("FORMI_ELIMIT", "")
            acct["usage"] += amount
            self.debits.append((outlet, agent, at, amount))
        else:
            raise LedgerError("FORMI_EINVAL", "op")
        after = self.balance(outlet, agent)
        # READING: low_balance also applies to credit ops (R8).
        events = self.low_balance_event(outlet, agent, before, after)
        # READING: result shape of credit ops is not in the contract (R1).
        result = {"success": True, "duplicate": False, "op": op, "outlet_id": outlet, "agent_id": agent,
                  "amount": amount, "balance": after, "total_recharge": acct["recharge"],
                  "total_usage": acct["usage"], "events": events}
        self.credit_keys[key] = copy.deepcopy(result)
        return result

    # -- queries --------------------------------------------------------------------------------------
    def query(self, q):
        name = q.get("query")
        handler = {
            "credits": self.q_credits,
            "interaction_utilisation": self.q_interaction_utilisation,
            "model_utilisation": self.q_model_utilisation,
            "interaction": self.q_interaction,
            "usage_stats": self.q_usage_stats,
            "agent_statistic": self.q_agent_statistic,
            "metrics": self.q_metrics,
            "verify": self.q_verify,
        }.get(name)
        if handler is None:
            # READING: the message names the unknown query (R22).
            raise LedgerError("FORMI_ENOTFOUND", str(name))
        return handler(q)

    def select(self, q, start, end):
        """Scan every interaction: started in [start, end) and matching the optional filters."""
        out = []
        for i in self.interactions:
            if start is not None and not (start <= i["start"] < end):
                continue
            if q.get("outlet_id") is not None and i["outlet_id"] != q["outlet_id"]:
                continue
            if q.get("agent_id") is not None and i["agent_id"] != q["agent_id"]:
                continue
            out.append(i)
        return out

    def q_credits(self, q):
        outlet, agent = q.get("outlet_id"), q.get("agent_id")
        if outlet is None or agent is None:
            # READING: a missing required argument is FORMI_EINVAL (R22).
            raise LedgerError("FORMI_EINVAL", "")
        rng = date_range(q)
        usage = 0
        for i in self.interactions:
            if i["outlet_id"] == outlet and i["agent_id"] == agent and (
                    rng is None or rng["start"] <= i["start"] < rng["end"]):
                usage += i["charged"]  # READING: charges = amounts charged (R6)
        for (o, a, at, amount) in self.debits:
            if o == outlet and a == agent and (rng is None or rng["start"] <= at < rng["end"]):
                usage += amount
        card = self.rate_cards.get(outlet)
        acct = self.accounts.get((outlet, agent), {"recharge": 0, "usage": 0})
        return {
            "success": True, "outlet_id": outlet, "agent_id": agent,
            # READING: default label also when the outlet has no card (R11).
            "credits_type": (card or {}).get("credits_type", "MINUTE_BASED"),
            "unit": "micro-credits",
            # READING: dates echoed as yyyy-mm-dd, null for all time (R10).
            "filtered_credit_usage": {"from_date": rng["from"].isoformat() if rng else None,
                                      "to_date": rng["to"].isoformat() if rng else None,
                                      "credit_usage": usage},
            "available_credits": acct["recharge"] - acct["usage"],
            "total_recharge": acct["recharge"], "total_usage": acct["usage"],
        }

    def grouped(self, q):
        group_by = q.get("group_by")
        if group_by not in ("OUTLET", "AGENT"):
            raise LedgerError("FORMI_EINVAL", "group_by")
        rng = date_range(q)
        rows = self.select(q, rng["start"] if rng else None, rng["end"] if rng else None)
        groups = {}
        for i in rows:
            gk = (i["outlet_id"],) if group_by == "OUTLET" else (i["outlet_id"], i["agent_id"])
            groups.setdefault(gk, []).append(i)
        # READING: only groups with interactions in range, sorted by outlet_id then agent_id (R13).
        return group_by, rng, [(gk, groups[gk]) for gk in sorted(groups)]

    @staticmethod
    def group_head(group_by, gk):
        if group_by == "OUTLET":
            return {"outlet_id": gk[0]}
        return {"outlet_id": gk[0], "agent_id": gk[1]}

    def q_interaction_utilisation(self, q):
        group_by, rng, groups = self.grouped(q)
        out = []
        for gk, rows in groups:
            g = self.group_head(group_by, gk)
            # READING: actual durations (ended_at - started_at), not billed time (R12).
            total_ms = sum(i["dur"] for i in rows)
            g.update({
                "interactions": len(rows),
                "total_duration_seconds": r2(Fraction(total_ms, 1000)),
                "average_duration_seconds": ratio2(total_ms, len(rows) * 1000),
                "billed_seconds": sum(i["billed"] for i in rows),
                "credits_used": sum(i["charged"] for i in rows),  # READING: charged, not cost (R6)
                "messages": sum(i["msg"]["received"] for i in rows),
            })
            for oc in OUTCOMES:
                g[oc] = sum(1 for i in rows if i["outcome"] == oc)
            out.append(g)
        return {"success": True, "group_by": group_by,
                "from_date": rng["from"].isoformat() if rng else None,
                "to_date": rng["to"].isoformat() if rng else None, "groups": out}

    def q_model_utilisation(self, q):
        group_by, rng, groups = self.grouped(q)
        out = []
        for gk, rows in groups:
            g = self.group_head(group_by, gk)
            models = []
            for kind in KINDS:  # READING: kinds in the contract's order (R13)
                entries = [e for i in rows for e in i["mu"] if e["kind"] == kind]
                if not entries:
                    continue
                lat = [e["ttft_us"] for e in entries if e["ttft_us"] is not None]
                models.append({
                    "kind": kind,
                    "entries": len(entries),
                    "input_tokens": sum(e["input"] for e in entries),
                    "cached_tokens": sum(e["cached"] for e in entries),
                    "output_tokens": sum(e["output"] for e in entries),
                    "characters": sum(e["characters"] for e in entries),
                    "audio_seconds": r2(Fraction(sum(e["audio_ms"] for e in entries), 1000)),
                    # READING: the kind's cost parts, paid or not; no card contributes 0 (R5, R6).
                    "cost": sum((i["parts"] or {}).get(kind, 0) for i in rows),
                    "average_latency_ms": ratio2(sum(lat), len(lat) * 1000),
                    "tool_calls_ok": sum(e["ok"] for e in entries),
                    "tool_calls_failed": sum(e["failed"] for e in entries),
                })
            g["models"] = models
            out.append(g)
        return {"success": True, "group_by": group_by,
                "from_date": rng["from"].isoformat() if rng else None,
                "to_date": rng["to"].isoformat() if rng else None, "groups": out}

    def q_interaction(self, q):
        iid = q.get("interaction_id")
        if iid is None:
            raise LedgerError("FORMI_EINVAL", "")
        for i in self.interactions:
            if i["interaction_id"] == iid:
                return {"success": True, "interaction": stored_view(i)}
        # READING: unknown id -> FORMI_ENOTFOUND (R22).
        raise LedgerError("FORMI_ENOTFOUND", "")

    @staticmethod
    def usage_fields(rows, start_ms, end_ms):
        m = sum(i["msg"]["received"] for i in rows)
        u = sum(i["msg"]["unhandled"] for i in rows)
        a = sum(i["msg"]["ambiguous"] for i in rows)
        mm = sum(i["msg"]["mismatched_ambiguous"] for i in rows)
        iv = sum(i["msg"]["interventions"] for i in rows)
        ok = m - u - a
        assert start_ms % 1000 == 0 and end_ms % 1000 == 0
        # READING: key order start/end then the contract's order (R21).
        return {"start_time": start_ms // 1000, "end_time": end_ms // 1000, "session_count": len(rows),
                "messages_count": m, "unhandled_messages_count": u, "ambiguous_messages_count": a,
                "interventions_count": iv, "successful_responses_count": ok,
                "success_rate_count": ok + a - mm, "success_rate": ratio2(ok, m, 100)}

    def q_usage_stats(self, q):
        rng = date_range(q, default_days=2)
        start, end = rng["start"], rng["end"]
        length = end - start
        assert length == rng["days"] * 86400 * 1000
        bucket = rng["days"] * 9600 * 1000  # a day range of D days: buckets of D x 9600 s
        stats = []
        for b in range(9):
            bs, be = start + b * bucket, start + (b + 1) * bucket
            stats.append(self.usage_fields(self.select(q, bs, be), bs, be))
        agg = self.usage_fields(self.select(q, start, end), start, end)
        prev = self.usage_fields(self.select(q, start - length, start), start - length, start)
        for f in agg:  # every count is additive: the 9 buckets sum to the aggregate
            if f.endswith("_count"):
                assert sum(s[f] for s in stats) == agg[f], f
        return {"success": True, "aggregate_stats": agg, "previous_interval_stats": prev, "stats": stats}

    def q_agent_statistic(self, q):
        s, e = instant_range(q)
        rows = self.select(q, s, e)
        n = len(rows)
        # READING: input tokens (cached included) + output tokens of every kind (R20).
        tokens = sum(en["input"] + en["output"] for i in rows for en in i["mu"])
        dur_ms = sum(i["dur"] for i in rows)
        sms = sum(i["counters"].get("sms", 0) for i in rows)
        emails = sum(i["counters"].get("emails", 0) for i in rows)
        return {"success": True, "tokensUsed": tokens, "tokensPerConversation": ratio2(tokens, n),
                "vapiSecondsUsed": r2(Fraction(dur_ms, 1000)), "averageCallDuration": ratio2(dur_ms, n * 1000),
                "smsUsed": sms, "smsPerConversation": ratio2(sms, n),
                "emailsUsed": emails, "emailsPerConversation": ratio2(emails, n), "conversations": n}

    def q_metrics(self, q):
        s, e = instant_range(q)
        off = utc_offset_of(q)
        rows = self.select(q, s, e)
        n = len(rows)
        dur_ms = sum(i["dur"] for i in rows)
        resolved = sum(1 for i in rows if i["outcome"] == "resolved")

        def escalated(i):
            return i["outcome"] == "transferred" or i["reason"] is not None

        def sentiment_pct(rs):
            measured = [i for i in rs if i["sentiment"] is not None]
            # READING: positive / calls with a measured sentiment (R15).
            return ratio2(sum(1 for i in measured if i["sentiment"] == "positive"), len(measured), 100)

        llm = [en for i in rows for en in i["mu"] if en["kind"] in LLM_KINDS]
        ttft = [en["ttft_us"] for en in llm if en["ttft_us"] is not None]
        response_time = ratio2(sum(ttft), len(ttft) * 1000)  # READING: mean per entry (R14)
        esc = [i for i in rows if escalated(i)]
        agents = sorted({i["agent_id"] for i in rows})

        metrics = {"totalCalls": n, "totalMinutes": r2(Fraction(dur_ms, 60000)),
                   "resolutionRate": ratio2(resolved, n, 100), "avgDuration": ratio2(dur_ms, n * 1000),
                   "activeAgents": len(agents), "responseTime": response_time,
                   "sentimentPercent": sentiment_pct(rows), "escalationRate": ratio2(len(esc), n, 100)}

        # READING: local dates from startDate's to (endDate - 1 ms)'s (R18).
        first = local_dt(s, off).date()
        last = local_dt(e - 1, off).date() if e > s else first
        daily = []
        d = first
        while d <= last:
            day = [i for i in rows if local_dt(i["start"], off).date() == d]
            daily.append({"date": d.isoformat(), "totalCalls": len(day),
                          "resolvedCalls": sum(1 for i in day if i["outcome"] == "resolved")})
            d += timedelta(days=1)

        hourly = []
        for h in range(24):
            hr = [i for i in rows if local_dt(i["start"], off).hour == h]
            hourly.append({"hour": "%02d:00" % h, "calls": len(hr),
                           "minutes": r2(Fraction(sum(i["dur"] for i in hr), 60000))})

        breakdown = {oc: sum(1 for i in rows if i["outcome"] == oc) for oc in OUTCOMES}

        perf = []
        for a in agents:
            ar = [i for i in rows if i["agent_id"] == a]
            counts = {oc: sum(1 for i in ar if i["outcome"] == oc) for oc in OUTCOMES}
            entry = {"agentId": a, "agentName": self.agent_name.get(a), "totalCalls": len(ar)}
            entry.update(counts)
            for oc in OUTCOMES:
                entry[oc + "Percent"] = ratio2(counts[oc], len(ar), 100)
            entry["avgDuration"] = ratio2(sum(i["dur"] for i in ar), len(ar) * 1000)
            entry["sentimentPercent"] = sentiment_pct(ar)
            entry["status"] = self.agent_status.get(a)  # READING: null when never given (R17)
            perf.append(entry)
        perf.sort(key=lambda p: (-p["totalCalls"], p["agentId"]))

        with_corr = [i for i in rows if i["corrections"] is not None]
        stt_conf = [en["conf_m"] for i in rows for en in i["mu"] if en["kind"] == "STT" and en["conf_m"] is not None]
        all_entries = [en for i in rows for en in i["mu"]]
        ok = sum(en["ok"] for en in all_entries)
        failed = sum(en["failed"] for en in all_entries)
        insights = {
            "intentAccuracy": ratio2(sum(1 for i in with_corr if i["corrections"] == 0), len(with_corr), 100),
            # READING: ratio of sums (R14)
            "contextRetention": ratio2(sum(en["cached"] for en in llm), sum(en["input"] for en in llm), 100),
            "speechRecognition": ratio2(sum(stt_conf), len(stt_conf) * 1000000, 100),
            # READING: tool calls of every kind (R14)
            "entityExtraction": ratio2(ok, ok + failed, 100),
            "responseLatency": response_time,
            "trainingSessions": n,
        }

        reasons = {}
        for i in esc:
            if i["reason"] is not None:
                reasons.setdefault(i["reason"], []).append(i)
        esc_reasons = [{"reason": r, "count": len(rs),
                        # READING: share of ALL escalated calls, with or without a reason (R16)
                        "percentOfTotal": ratio2(len(rs), len(esc), 100),
                        "avgTimeBeforeEscalation": ratio2(sum(i["dur"] for i in rs), len(rs) * 1000)}
                       for r, rs in reasons.items()]
        esc_reasons.sort(key=lambda x: (-x["count"], x["reason"]))

        return {"success": True, "metrics": metrics, "dailyVolume": daily, "hourlyDistribution": hourly,
                "resolutionBreakdown": breakdown, "agentPerformance": perf, "aiInsights": insights,
                "escalationReasons": esc_reasons}

    def q_verify(self, q):
        # The oracle's roll-ups are recomputed from scratch on every query, so there is nothing that can
        # disagree: a correct implementation answers ok with no problems.
        return {"success": True, "ok": True, "interactions": len(self.interactions), "problems": []}


# ---------------------------------------------------------------------------------------------------
# validation, billing, views
# ---------------------------------------------------------------------------------------------------

RECORD_FIELDS = {"idempotency_key", "interaction_id", "agent_id", "outlet_id", "agent_name", "agent_status",
                 "provider", "call_type", "started_at", "ended_at", "outcome", "escalation_reason",
                 "sentiment", "user_corrections", "messages", "counters", "session_stats", "model_usage"}
MESSAGE_FIELDS = {"received", "unhandled", "ambiguous", "mismatched_ambiguous", "interventions"}
ENTRY_FIELDS = {"kind", "model", "input_tokens", "cached_tokens", "output_tokens", "characters",
                "tool_calls_ok", "tool_calls_failed", "audio_seconds", "ttft_ms", "confidence"}


def check_keys(o, allowed):
    extra = set(o) - allowed
    if extra:
        # READING: the contract makes unknown fields an error without naming the status (not tested).
        raise LedgerError("FORMI_EINVAL", "unknown field " + sorted(extra)[0])


def nonneg_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def validate_record(o):
    if not isinstance(o, dict):
        raise LedgerError("FORMI_EJSON", "object expected")
    check_keys(o, RECORD_FIELDS)
    for f in ("idempotency_key", "interaction_id", "agent_id", "outlet_id"):
        if not isinstance(o.get(f), str) or not (1 <= len(o[f].encode()) <= 200):
            raise LedgerError("FORMI_EINVAL", f)
    if o.get("outcome") not in OUTCOMES:
        raise LedgerError("FORMI_EINVAL", "outcome")
    if o.get("sentiment") not in (None, "positive", "neutral", "negative"):
        raise LedgerError("FORMI_EINVAL", "sentiment")
    if o.get("user_corrections") is not None and not nonneg_int(o["user_corrections"]):
        raise LedgerError("FORMI_EINVAL", "user_corrections")
    m = o.get("messages")
    if m is not None:
        check_keys(m, MESSAGE_FIELDS)
        if not all(nonneg_int(v) for v in m.values()):
            raise LedgerError("FORMI_EINVAL", "messages")
        if m.get("unhandled", 0) + m.get("ambiguous", 0) > m.get("received", 0) or \
                m.get("mismatched_ambiguous", 0) > m.get("ambiguous", 0):
            raise LedgerError("FORMI_EINVAL", "messages")
    for v in (o.get("counters") or {}).values():
        if not nonneg_int(v):
            raise LedgerError("FORMI_EINVAL", "counters")
    for e in o.get("model_usage", []):
        check_keys(e, ENTRY_FIELDS)
        if e.get("kind") not in KINDS:
            raise LedgerError("FORMI_EINVAL", "kind")


def normalise_entry(e):
    def i(f):
        v = e.get(f, 0)
        if not nonneg_int(v):
            raise LedgerError("FORMI_EINVAL", f)
        return v
    n = {"kind": e["kind"], "model": e.get("model"), "input": i("input_tokens"), "cached": i("cached_tokens"),
         "output": i("output_tokens"), "characters": i("characters"), "ok": i("tool_calls_ok"),
         "failed": i("tool_calls_failed"),
         # READING: absent audio_seconds adds 0 to sums; absent ttft/confidence are left out of means.
         "audio_ms": kept(e["audio_seconds"], 1000) if "audio_seconds" in e else 0,
         "ttft_us": kept(e["ttft_ms"], 1000) if "ttft_ms" in e else None,
         "conf_m": kept(e["confidence"], 1000000) if "confidence" in e else None}
    if n["cached"] > n["input"]:
        raise LedgerError("FORMI_EINVAL", "cached_tokens > input_tokens")
    if n["conf_m"] is not None and not (0 <= n["conf_m"] <= 1000000):
        raise LedgerError("FORMI_EINVAL", "confidence")
    return n


def billed_seconds(card, d):
    """Billed seconds of a call of d ms under the card's duration rule."""
    dur = card.get("duration") or {}
    rule = dur.get("rule", "per_second")
    if d == 0:
        return 0  # a zero-length call bills 0 s under every rule
    if rule == "per_second":
        return ceil_div(d, 1000)
    if rule == "per_minute":
        return 60 * ceil_div(d, 60000)
    if rule == "increments":
        n = dur["increment_seconds"]
        return n * ceil_div(d, 1000 * n)
    if rule == "first_block":
        n, f = dur["increment_seconds"], dur["first_block_seconds"]
        return f + n * ceil_div(max(0, d - 1000 * f), 1000 * n)
    raise LedgerError("FORMI_EINVAL", "duration.rule")


def cost_parts(card, billed, mu):
    """Cost parts, each rounded up once: the duration part and one part per kind present."""
    dur = card.get("duration") or {}
    tok = card.get("tokens") or {}
    # READING: a price missing from the card is 0 (R5).
    ppm = dur.get("price_per_minute", 0)
    pin, pcached, pout = tok.get("input_per_million", 0), tok.get("cached_per_million", 0), tok.get(
        "output_per_million", 0)
    pchar = card.get("characters_per_million", 0)
    parts = {"duration": ceil_div(billed * ppm, 60)}
    for kind in KINDS:
        es = [e for e in mu if e["kind"] == kind]
        if not es:
            continue
        # READING: one ceil per kind over the sum of that kind's entries (R4).
        num = sum((e["input"] - e["cached"]) * pin + e["cached"] * pcached + e["output"] * pout
                  + e["characters"] * pchar for e in es)
        parts[kind] = ceil_div(num, 1000000)
    return parts


def iso_ms(ms):
    """A Unix ms instant as ISO 8601 UTC with milliseconds (the answer's time format)."""
    d = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def stored_view(i):
    """READING: the `interaction` answer's record (R19)."""
    o = i["input"]
    rec = {}
    for k, v in o.items():
        if k in ("started_at", "ended_at"):
            rec[k] = iso_ms(parse_time(v))
        elif k == "model_usage":
            ents = []
            for e in v:
                x = {}
                for ek, ev in e.items():
                    if ek == "audio_seconds":
                        x[ek] = Decimal(kept(ev, 1000)).scaleb(-3)
                    elif ek == "ttft_ms":
                        x[ek] = Decimal(kept(ev, 1000)).scaleb(-3)
                    elif ek == "confidence":
                        x[ek] = Decimal(kept(ev, 1000000)).scaleb(-6)
                    else:
                        x[ek] = ev
                ents.append(x)
            rec[k] = ents
        else:
            rec[k] = copy.deepcopy(v)
    rec["duration_ms"] = i["dur"]
    rec["billed_seconds"] = i["billed"]
    cost = None
    if i["parts"] is not None:
        cost = {"total": i["cost"]}
        cost.update(i["parts"])
    rec["cost"] = cost
    rec["charged"] = i["charged"]
    rec["unpaid"] = i["unpaid"]
    return rec


# ---------------------------------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------------------------------

def as_error(e):
    return {"error": e.status, "message_contains": e.message}


def to_json(v):
    if isinstance(v, Decimal):
        return float(v)  # only already-rounded decimals reach here; repr of the float is that decimal
    raise TypeError(type(v))


def main():
    with open(os.path.join(HERE, "fixture.json")) as f:
        fixture = json.load(f, parse_float=Decimal)
    ledger = Ledger()
    writes, answers = [], []
    for w in fixture["writes"]:
        try:
            if w["call"] == "record":
                writes.append(ledger.record(w["input"]))
            elif w["call"] == "credit":
                writes.append(ledger.credit(w["input"]))
            else:
                raise AssertionError("unknown call " + w["call"])
        except LedgerError as e:
            writes.append(as_error(e))
    for q in fixture["queries"]:
        try:
            answers.append(ledger.query(q))
        except LedgerError as e:
            answers.append(as_error(e))
    text = json.dumps({"writes": writes, "queries": answers}, indent=2, default=to_json, ensure_ascii=False)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

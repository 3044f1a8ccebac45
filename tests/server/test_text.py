"""Text interactions on the flow engine (TextInteractions.swift, through `formi-server --text`): the demo
flow answers typed messages as it answers spoken ones, and each interaction is recorded once in the
ledger as the text channel. Run by `make test-server`."""
from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import List

import formi

from conftest import SERVER


def converse(data: Path, *messages: str) -> List[dict]:
    args = [SERVER, "--data-dir", str(data), "--log-level", "warning"]
    for m in messages:
        args += ["--text", m]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def recorded(data: Path, interaction: str) -> dict:
    ledger = formi.Ledger(str(data / "usage.db"))
    try:
        return ledger.query({"query": "interaction", "interaction_id": interaction})["interaction"]
    finally:
        ledger.close()


def test_typed_booking(tmp_path: Path) -> None:
    replies = converse(tmp_path, "Book a table, please!", "four", "Yes")
    start, *steps, answer = replies
    assert start["state"] == "greeting" and start["actions"] == [{"type": "say", "text": "Welcome to Luigi's."}]
    assert [r["state"] for r in steps] == ["party size", "confirm", "booked"]
    assert steps[1]["prompt"].startswith("A table for four.")
    assert steps[-1]["ended"] and steps[-1]["actions"] == [{"type": "end_call"}]
    assert answer["success"] and answer["interaction_id"] == start["interaction_id"]
    record = recorded(tmp_path, start["interaction_id"])
    assert record["call_type"] == "text" and record["outcome"] == "resolved"
    assert record["session_stats"]["channel"] == "text" and record["session_stats"]["flow_path"] == [1, 2, 4, 5]
    assert record["messages"]["received"] == 3
    con = sqlite3.connect(str(tmp_path / "usage.db"))
    try:
        assert con.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 1
    finally:
        con.close()


def test_not_understood_stays_and_ends_abandoned(tmp_path: Path) -> None:
    start, reply, answer = converse(tmp_path, "what is the weather like")
    assert reply["state"] == "greeting" and reply["prompt"] == start["prompt"] and not reply["ended"]
    assert recorded(tmp_path, start["interaction_id"])["outcome"] == "abandoned"


def test_transfer_is_recorded(tmp_path: Path) -> None:
    start, reply, answer = converse(tmp_path, "I want to talk to a person")
    assert reply["state"] == "person" and reply["actions"] == [{"type": "transfer", "to": "front desk"}]
    record = recorded(tmp_path, start["interaction_id"])
    assert record["outcome"] == "transferred" and record["escalation_reason"] == "transfer to front desk"

"""formi-server with its ledger on PostgreSQL (--ledger URL): two instances share one ledger, each call is
one record in it, the balance falls by the sum of the charges, and /readyz names the ledger without its
password. Needs FORMI_TEST_PG_URL (make test-server starts a PostgreSQL with scripts/pg.sh)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import pytest

import formi
from formi.sim import simulate

from conftest import Server

PG_URL = os.environ.get("FORMI_TEST_PG_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="FORMI_TEST_PG_URL is not set")


def test_two_instances_share_one_ledger(tmp_path, silence) -> None:
    schema = "srv_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c", f"CREATE SCHEMA {schema}"], check=True)
    url = f"{PG_URL}?options=-c%20search_path%3D{schema}"
    shown = url.replace("postgresql://formi@", "postgresql://formi:secret@")  # a password libpq ignores under trust
    servers = [Server(tmp_path / f"instance{i}", "--ledger", shown) for i in range(2)]
    try:
        status, body = servers[0].get("/readyz")
        assert status == 200 and "secret" not in body and "postgresql://formi:***@" in body, body
        ledger = formi.Ledger(url)
        try:
            # Both instances provisioned the same configured credits: applied once, not twice.
            before = ledger.query(query="credits", outlet_id="1", agent_id="1")
            assert before["total_recharge"] == before["available_credits"] == 100_000_000, before
            for server in servers + servers:
                report = asyncio.run(simulate(server.url("twilio"), silence(2), speed=4, tail=0.5))
                assert report.calls[0].ok, report.calls[0].error
            for server in servers:
                server.settle()
            check = ledger.verify()
            assert check["ok"] and check["interactions"] == 4, check
            after = ledger.query(query="credits", outlet_id="1", agent_id="1")
            day = lambda offset: time.strftime("%d/%m/%Y", time.gmtime(time.time() + offset * 86400))
            usage = ledger.query(query="interaction_utilisation", group_by="AGENT", from_date=day(-1), to_date=day(1))
            charged = sum(g["credits_used"] for g in usage["groups"])
            assert usage["groups"][0]["interactions"] == 4
            assert before["available_credits"] - after["available_credits"] == charged == after["total_usage"] > 0, (after, usage)
        finally:
            ledger.close()
    finally:
        for server in servers:
            server.stop()

"""Schemathesis against the server's own /openapi.json: generated requests for every operation (a
bounded number each, a fixed seed), and no answer may be a 5xx, break its documented schema, or come
with another content type. Runs with an outlet's token, so the requests reach past authentication."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import Client

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))


def test_schemathesis_finds_no_server_error_and_no_schema_violation(api: Client) -> None:
    token = api.login(1)
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(cli), "run", f"http://127.0.0.1:{api.server.port}/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
         "--max-examples", str(EXAMPLES), "--seed", "24", "--generation-database", "none",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "20"],
        capture_output=True, text=True, timeout=900)
    tail = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    operations = sum(len(item) for item in api.get("/openapi.json")[1]["paths"].values())
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) == operations, tail
    # The server is still up and answering.
    assert api.get("/healthz")[0] == 200

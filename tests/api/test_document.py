"""The OpenAPI document: the committed file is what scripts/openapi.py writes, the server serves it, and
every operation has an id, a summary and an error answer in the API's shape."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import Client

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_document_is_the_generated_one(api: Client) -> None:
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (ROOT / "Sources" / "formi-server" / "API" / "openapi.json").read_text()
    assert committed == script.text(), "run python3 scripts/openapi.py and commit the document"
    served = api.get("/openapi.json")[1]
    assert served == json.loads(committed) and served["openapi"] == "3.1.0"
    ids = [op["operationId"] for item in served["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for item in served["paths"].values():
        for op in item.values():
            assert op["summary"] and any(code.startswith("4") for code in op["responses"]), op

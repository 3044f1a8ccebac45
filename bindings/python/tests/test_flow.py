"""Flows, runs and prompt templates: the sample booking flow end to end, validation, edits, errors."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import formi

SEED = {"states": [{"state_id": 1, "name": "Greeting", "template_id": 3, "state_prompt": "Greet.",
                    "variables": {"tone": "friendly"}, "initial": True}],
        "edges": [{"edge_id": 1, "from_node": 1, "to_node": 5, "prompt": "If the user says goodbye, transition.",
                   "transition_metadata": {}}]}
SMALL = {"inputs": ["who"],
         "states": [{"state_id": 1, "name": "a", "initial": True, "state_prompt": "Hi {{who}}"},
                    {"state_id": 2, "name": "b", "terminal": True}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "condition": 'event.type == "dtmf"'}]}


@pytest.fixture
def booking(repo):
    return repo / "tests" / "flows" / "booking.json"


def test_booking_flow_run(booking):
    assert formi.Flow.validate(booking.read_text()) == {"valid": True, "errors": [], "warnings": []}
    with formi.Flow.from_file(booking) as flow:
        # JSON out reads back in and writes the same.
        as_dict = flow.to_json()
        assert as_dict["name"] == "table booking" and len(as_dict["states"]) == 7
        with formi.Flow(as_dict) as copy:
            assert copy.to_json() == as_dict
        dot = flow.to_dot()
        assert dot.startswith("digraph flow {")
        if shutil.which("dot"):
            assert subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True).returncode == 0

        # greeting -> (DTMF 1) party size -> (party of 4) confirm -> (yes) booked
        with flow.run({"outlet": "Luigi's", "caller": "Asha"}) as run:
            state = run.state()
            assert state["prompt"].startswith("You are the host of Luigi's. Greet Asha in a warm tone")
            assert state["pending_actions"] == [{"phase": "entry", "state_id": 1,
                                                 "action": {"type": "say", "text": "Welcome to Luigi's!"}}]
            step = run.step({"type": "dtmf", "digit": "1", "at_ms": 500})
            assert step["transition"]["edge_id"] == 2 and step["transition"]["from"] == 1 and step["transition"]["to"] == 2
            assert step["transition"]["reason"] == "condition" and step["prompt"].startswith("Ask for the number of guests")
            assert "cancelled_actions" in step
            step = run.step(type="interrupted", at_ms=700)  # keywords work too
            assert step["transition"] is None and step["interrupted_actions"][0]["state_id"] == 2
            step = run.step({"type": "user", "text": "four", "party_size": 4, "at_ms": 900})
            assert step["transition"]["edge_id"] == 6 and step["prompt"].startswith("Read back a table for 4")
            step = run.step('{"type":"judged","edge_id":1}')  # JSON text too: a stale verdict is ignored
            assert step["ignored_verdict"] is True and step["transition"] is None
            step = run.step({"type": "user"}, text="yes")  # a dict merged with keywords
            assert step["transition"]["edge_id"] == 8 and step["ended"] is True and step["end_reason"] == "terminal"
            booked = [a["action"] for a in step["actions"] if a["action"].get("name") == "book_table"]
            assert booked == [{"type": "function", "name": "book_table", "arguments": {"party_size": "4", "outlet": "Luigi's"}}]
            with pytest.raises(formi.StateError) as info:
                run.step(type="user")
            assert "ended" in info.value.message
            history = run.history()
            assert history[0] == {"step": 1, "at_ms": 500, "event": "dtmf", "transition": history[0]["transition"]}
            assert [h["transition"]["edge_id"] for h in history] == [2, 6, 8]
            assert run.state()["ended"] is True

        # Edits: a run keeps its flow; the flow may be closed before the run.
        second = flow.start(outlet="Luigi's")
        done = flow.edit({"op": "create_state_from_template", "template_id": 101, "variables": {"slot": "date"}})
        assert done["state_id"] == 8 and any(w["code"] == "unreachable_state" for w in done["warnings"])
        with pytest.raises(formi.TemplateError) as info:
            flow.edit(op="create_edge", from_node=1, to_node=99, condition="true")
        assert "edge_to_missing_state" in info.value.message
        with pytest.raises(formi.JSONError):
            flow.edit(op="paint")
        with pytest.raises(formi.NotFound):
            flow.edit(op="delete_edge", edge_id=404)
    assert flow.closed
    with second:
        assert second.step(type="dtmf", digit="2")["transition"]["to"] == 3


def test_validation_reports_every_problem():
    report = formi.Flow.validate(SEED)
    assert report["valid"] is False
    assert {"code": "edge_to_missing_state", "message": "edge 1 leads to state 5, which does not exist",
            "state_ids": [5], "edge_ids": [1]} in report["errors"]
    with pytest.raises(formi.TemplateError) as info:
        formi.Flow(SEED)
    assert info.value.status == -12 and "edge_to_missing_state" in info.value.message

    report = formi.Flow.validate('{"states":')
    assert report["valid"] is False and report["errors"][0]["code"] == "invalid_json"
    with pytest.raises(formi.JSONError):
        formi.Flow('{"states":')
    with pytest.raises(formi.JSONError):
        formi.Flow("")
    typed = {"states": [{"state_id": 1, "initial": True}],
             "edges": [{"edge_id": 1, "from_node": 1, "to_node": 1, "condition": 'turns == "3"'}]}
    with pytest.raises(formi.TemplateError, match="compares a number with a string"):
        formi.Flow(typed)
    with pytest.raises(TypeError):
        formi.Flow({"states": {1, 2}})  # not JSON-serialisable: refused before the library
    with pytest.raises(ValueError):
        formi.Flow({"max_transitions": float("nan")})


def test_run_errors():
    with formi.Flow(SMALL) as flow:
        with pytest.raises(formi.NotFound, match="who"):
            flow.run()
        with pytest.raises(formi.JSONError):
            flow.run([1])
        with pytest.raises(formi.JSONError):
            flow.run('{"who":')
        with pytest.raises(TypeError):
            flow.run("text", who="x")  # keywords only merge into a dict
        with flow.run(who="Ravi") as run:
            for bad in ("", "{", {"digit": 1}, {"type": "tick", "at_ms": -1}, {"type": "judged", "edge_id": "x"}):
                with pytest.raises(formi.JSONError):
                    run.step(bad)
            with pytest.raises(formi.NotFound):
                run.step(type="judged", edge_id=9)
            assert run.step(type="tick", at_ms=50)["transition"] is None
            with pytest.raises(formi.StateError):
                run.step(type="tick", at_ms=10)  # the clock went back
            state = run.state()
            assert state["prompt"] == "Hi Ravi" and state["steps"] == 1
    with pytest.raises(TypeError):
        formi.FlowRun("not a flow")


def test_templates():
    t = "Hello {{name|there}}, table for {{size}} at {{place.city}} \\{{not}}"
    assert formi.template_render(t, {"size": 4, "place": {"city": "Pune"}}) == "Hello there, table for 4 at Pune {{not}}"
    assert formi.template_render(t, '{"size":4,"place":{"city":"Pune"}}').endswith("Pune {{not}}")
    with pytest.raises(formi.NotFound) as info:
        formi.template_render(t)
    assert "{{size}}, {{place.city}}" in info.value.message
    with pytest.raises(formi.TemplateError, match="column 1"):
        formi.template_render("{{a")
    for bad in ([], "[]", "{"):
        with pytest.raises(formi.JSONError):
            formi.template_render(t, bad)
    with pytest.raises(formi.InvalidArgument):
        formi.template_render(b"\xff{{a}}")  # not UTF-8
    assert formi.template_render("") == ""
    assert formi.template_render("héllo {{x}}", {"x": "wörld"}) == "héllo wörld"
    with pytest.raises(TypeError):
        formi.template_render(None)
    with pytest.raises(TypeError):
        formi.template_render(42)

    assert formi.template_variables(t) == [{"name": "name", "default": "there"}, {"name": "size", "default": None},
                                           {"name": "place.city", "default": None}]
    with pytest.raises(formi.TemplateError):
        formi.template_variables("{{ }}")
    assert formi.template_variables("") == []
    with pytest.raises(TypeError):
        formi.template_variables(None)


def test_flow_json_round_trip_keeps_unknown_fields(booking):
    data = json.loads(booking.read_text())
    data["x_custom"] = {"kept": True}
    with formi.Flow(data) as flow:
        assert flow.to_json()["x_custom"] == {"kept": True}

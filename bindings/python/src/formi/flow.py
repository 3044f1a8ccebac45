"""Agent flows (conversation state machines in JSON), their runs, and prompt templates.

    flow = formi.Flow.from_file("tests/flows/booking.json")
    with flow.run({"outlet": "Luigi's"}) as run:
        step = run.step(type="dtmf", digit="1")       # {"transition": {...}, "prompt": "...", ...}
"""
from __future__ import annotations

import ctypes
import os
from typing import Any, Dict, List, Optional, Union

from . import _abi
from ._core import Handle, JSONInput, check, json_in, new_handle, out_call, take_json

__all__ = ["Flow", "FlowRun", "template_render", "template_variables"]


def _request(request: Optional[JSONInput], fields: Dict[str, Any], what: str) -> bytes:
    """A JSON request from a dict/str/bytes, or from keyword fields (merged into a dict request)."""
    if request is None:
        return json_in(fields, what)
    if fields:
        if not isinstance(request, dict):
            raise TypeError(f"{what}: keyword fields can only be merged into a dict, not {type(request).__name__}")
        request = {**request, **fields}
    return json_in(request, what)


def template_render(template: str, variables: Optional[JSONInput] = None) -> str:
    """Renders a prompt template: {{name}}, {{name|default}}, {{a.b}}; \\{{ is a literal "{{".
    `variables` is a dict (or JSON object text). NotFound names every variable with neither value nor
    default; TemplateError gives the column of bad syntax. Thread-safe; releases the GIL during work."""
    text = json_in(template, "template") if isinstance(template, (str, bytes)) else None
    if text is None:
        raise TypeError(f"template must be a str, not {type(template).__name__}")
    variables_json = json_in(variables, "variables") if variables is not None else None
    return out_call(_abi.lib().formi_template_render, text, len(text), variables_json,
                    len(variables_json) if variables_json is not None else 0, parse=False)


def template_variables(template: str) -> List[Dict[str, Any]]:
    """A template's variables in order of first use: [{"name": "caller", "default": "there"}, ...]."""
    if not isinstance(template, (str, bytes)):
        raise TypeError(f"template must be a str, not {type(template).__name__}")
    text = json_in(template, "template")
    return out_call(_abi.lib().formi_template_variables, text, len(text), what="template variables")


class Flow(Handle):
    """An agent flow: states with prompt templates and edges between them, loaded from a dict or JSON
    text and validated as a whole (JSONError for malformed JSON, TemplateError for a broken rule; use
    Flow.validate for the full report). Read (to_json, to_dot, run) from any thread; edit() changes it
    all or nothing. Runs keep the flow they started with. Releases the GIL during work.
    """

    _what = "Flow"

    def __init__(self, definition: JSONInput) -> None:
        data = json_in(definition, "flow")
        L = _abi.lib()
        pointer = new_handle(lambda status: L.formi_flow_from_json(data, len(data), status))
        self._adopt(pointer, L.formi_flow_free)

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"]) -> "Flow":
        """A flow from a JSON file."""
        with open(path, "rb") as f:
            return cls(f.read())

    @staticmethod
    def validate(definition: JSONInput) -> Dict[str, Any]:
        """Every problem of a flow at once: {"valid": bool, "errors": [...], "warnings": [...]}, each
        problem {"code", "message", "state_ids", "edge_ids"}. Raises only for bad arguments."""
        data = json_in(definition, "flow")
        report = ctypes.c_void_p()
        status = _abi.lib().formi_flow_validate_json(data, len(data), ctypes.byref(report))
        if report.value:
            return take_json(report, "flow report")
        check(status)
        raise AssertionError("unreachable: formi_flow_validate_json succeeded without a report")

    def to_json(self) -> Dict[str, Any]:
        """The flow as a dict (the shape Flow() reads; unknown fields kept)."""
        with self._lock:
            return out_call(_abi.lib().formi_flow_to_json, self._handle(), what="flow")

    def to_dot(self) -> str:
        """The flow as Graphviz DOT, for `dot -Tpng`."""
        with self._lock:
            return out_call(_abi.lib().formi_flow_to_dot, self._handle(), parse=False)

    def edit(self, edit: Optional[JSONInput] = None, /, **fields: Any) -> Dict[str, Any]:
        """One edit, all or nothing, e.g. edit(op="delete_edge", edge_id=4) or
        edit({"op": "create_state_from_template", "template_id": 101}). Returns what was done, e.g.
        {"state_id": 12, "warnings": [...]}. JSONError (malformed, unknown op), NotFound (no such id or
        template), TemplateError (the result would break a rule). Runs already started are unaffected."""
        data = _request(edit, fields, "edit")
        with self._lock:
            return out_call(_abi.lib().formi_flow_edit, self._handle(), data, len(data), what="edit result")

    def run(self, inputs: Optional[JSONInput] = None, /, **fields: Any) -> "FlowRun":
        """Starts a run (one conversation) in the initial state; `inputs` (a dict, or keywords) must give
        every name in the flow's "inputs" (NotFound otherwise)."""
        return FlowRun(self, inputs, **fields)

    start = run


class FlowRun(Handle):
    """One conversation through a Flow: step() takes one event at a time and says what happened.
    It keeps the flow it started with (the Flow may be closed or edited). One thread at a time (a lock
    enforces it); releases the GIL during work."""

    _what = "FlowRun"

    def __init__(self, flow: Flow, inputs: Optional[JSONInput] = None, /, **fields: Any) -> None:
        if not isinstance(flow, Flow):
            raise TypeError(f"flow must be a formi.Flow, not {type(flow).__name__}")
        data: Optional[bytes] = None
        if inputs is not None or fields:
            data = _request(inputs, fields, "inputs")
        L = _abi.lib()
        with flow._lock:
            handle = flow._handle()
            pointer = new_handle(lambda status: L.formi_flow_run_new(handle, data, len(data) if data else 0, status))
        self._adopt(pointer, L.formi_flow_run_free)

    def step(self, event: Optional[JSONInput] = None, /, **fields: Any) -> Dict[str, Any]:
        """Takes one event, a dict with a "type" (user, dtmf, judged, interrupted, actions_done, tick, or
        your own) and an optional "at_ms" — or the same as keywords: step(type="dtmf", digit="1").
        Returns the step: {"step", "event", "state_id", "state", "transition", "prompt", "actions", ...,
        "ended", "end_reason"}. Errors change nothing: JSONError, NotFound, StateError (ended; clock
        went back)."""
        data = _request(event, fields, "event")
        with self._lock:
            return out_call(_abi.lib().formi_flow_run_step, self._handle(), data, len(data), what="step")

    def state(self) -> Dict[str, Any]:
        """The run now: state_id, name, prompt, missing_variables, turns, steps, transitions,
        previous_state_id, return_stack, entered_at_ms, pending_actions, variables, ended, end_reason."""
        with self._lock:
            return out_call(_abi.lib().formi_flow_run_state, self._handle(), what="run state")

    def history(self) -> List[Dict[str, Any]]:
        """Every transition taken, in order: [{"step", "at_ms", "event", "transition"}, ...]."""
        with self._lock:
            return out_call(_abi.lib().formi_flow_run_history, self._handle(), what="run history")

"""A step of a run on a 100-state, 1000-edge flow: libformi through its C ABI (bench-flow) against a
plain Python state machine doing the same work per step (json.loads of the event, the current state's
edges tried in priority order as precompiled Python lambdas, the default edge, on a transition the new
state's prompt and entry actions rendered, json.dumps of the step's result). Same flow, same events,
rounds alternating; medians and their ratio are printed.

usage: python3 bench/flow.py build/bench-flow
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = 7
STEPS = 100_000
STATES = 100
EDGES_PER_STATE = 10


def make_flow():
    states, edges = [], []
    for i in range(1, STATES + 1):
        states.append({"state_id": i, "name": f"state {i}", "initial": i == 1,
                       "state_prompt": f"State {i}: help the caller with {{{{topic}}}} for {{{{outlet|our restaurant}}}}.",
                       "variables": {"topic": f"t{i}"},
                       "on_entry": [{"type": "say", "text": f"Now in {i} for {{{{outlet|us}}}}"}]})
        for k in range(EDGES_PER_STATE - 1):
            if k % 3 == 0:
                condition = f'event.type == "dtmf" && event.digit == "{k}"'
            elif k % 3 == 1:
                condition = f'event.type == "user" && event.text contains "word{k}"'
            else:
                condition = f'event.party_size > {10 + k} && vars.topic == "t{i}"'
            edges.append({"edge_id": len(edges) + 1, "from_node": i, "to_node": (i * 7 + k) % STATES + 1,
                          "priority": k, "condition": condition})
        edges.append({"edge_id": len(edges) + 1, "from_node": i, "to_node": i % STATES + 1, "default": True})
    return {"states": states, "edges": edges, "max_transitions": 1_000_000_000}


EVENTS = [
    '{"type":"user","text":"hello there, how are you today"}',
    '{"type":"tool_result","party_size":4}',
    '{"type":"dtmf","digit":"3"}',
    '{"type":"tick"}',
    '{"type":"user","text":"I would like word4 please"}',
    '{"type":"dtmf","digit":"9"}',
    '{"type":"tool_result","party_size":30}',
    '{"type":"user","text":"nothing relevant here"}',
    '{"type":"interrupted"}',
    '{"type":"dtmf","digit":"0"}',
]


class PythonMachine:
    """The same semantics for this flow's conditions, written the way a Python host would."""

    PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\|([^}]*))?\}\}")

    def __init__(self, flow):
        self.states = {s["state_id"]: s for s in flow["states"]}
        self.edges, self.defaults = {}, {}
        for e in flow["edges"]:
            if e.get("default"):
                self.defaults[e["from_node"]] = e
            else:
                self.edges.setdefault(e["from_node"], []).append((e["priority"], e["edge_id"], self.compile(e["condition"]), e))
        for edges in self.edges.values():
            edges.sort(key=lambda t: (t[0], t[1]))
        self.current = next(s["state_id"] for s in flow["states"] if s.get("initial"))
        self.vars, self.turns, self.steps = {}, 0, 0

    @staticmethod
    def compile(condition):
        m = re.fullmatch(r'event.type == "(\w+)" && event.digit == "(\w+)"', condition)
        if m:
            t, d = m.groups()
            return lambda ev, v: ev.get("type") == t and ev.get("digit") == d
        m = re.fullmatch(r'event.type == "(\w+)" && event.text contains "(\w+)"', condition)
        if m:
            t, w = m.groups()
            return lambda ev, v: ev.get("type") == t and isinstance(ev.get("text"), str) and w in ev["text"]
        m = re.fullmatch(r'event.party_size > (\d+) && vars.topic == "(\w+)"', condition)
        n, topic = int(m.group(1)), m.group(2)
        return lambda ev, v: isinstance(ev.get("party_size"), (int, float)) and ev["party_size"] > n and v.get("topic") == topic

    def render(self, text, variables):
        return self.PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), m.group(2) or "")), text)

    def step(self, text):
        event = json.loads(text)
        self.steps += 1
        kind = event["type"]
        if kind in ("user", "dtmf"):
            self.turns += 1
        state = self.states[self.current]
        scope = {**self.vars, **state["variables"]}
        taken = None
        for _, _, condition, edge in self.edges.get(self.current, ()):
            if condition(event, scope):
                taken = (edge, "condition")
                break
        if taken is None and kind in ("user", "dtmf", "judged") and self.current in self.defaults:
            taken = (self.defaults[self.current], "default")
        result = {"step": self.steps, "event": kind, "state_id": self.current, "state": state["name"], "transition": None, "actions": []}
        if taken:
            edge, reason = taken
            self.current, self.turns = edge["to_node"], 0
            new = self.states[self.current]
            scope = {**self.vars, **new["variables"]}
            result.update(state_id=self.current, state=new["name"],
                          transition={"edge_id": edge["edge_id"], "from": edge["from_node"], "to": edge["to_node"], "reason": reason},
                          prompt=self.render(new["state_prompt"], scope),
                          actions=[{"phase": "entry", "state_id": self.current,
                                    "action": {k: self.render(v, scope) if isinstance(v, str) else v for k, v in a.items()}}
                                   for a in new.get("on_entry", ())])
        result["ended"] = False
        return json.dumps(result)


def python_round(flow, n):
    machine = PythonMachine(flow)
    start = time.perf_counter()
    transitions = 0
    for i in range(n):
        out = machine.step(EVENTS[i % len(EVENTS)])
        transitions += '"transition": {' in out
    return n / (time.perf_counter() - start), transitions


def main():
    binary = sys.argv[1]
    flow = make_flow()
    with tempfile.TemporaryDirectory() as work:
        flow_path, events_path = os.path.join(work, "flow.json"), os.path.join(work, "events.txt")
        with open(flow_path, "w") as f:
            json.dump(flow, f)
        with open(events_path, "w") as f:
            f.write("\n".join(EVENTS))
        ours, theirs = [], []
        for _ in range(ROUNDS):
            run = subprocess.run([binary, flow_path, events_path, "1", str(STEPS)], capture_output=True, text=True, check=True)
            ours.append(float(run.stdout.split()[0]))
            ours_transitions = int(run.stderr.split()[-1])
            rate, python_transitions = python_round(flow, STEPS)
            theirs.append(rate)
    assert ours_transitions == python_transitions, (ours_transitions, python_transitions)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"flow step on {STATES} states / {len(flow['edges'])} edges ({ours_transitions} transitions in {STEPS} steps), median of {ROUNDS} rounds")
    print(f"  libformi (C ABI, JSON in and out): {a:12,.0f} steps/s  {1e6 / a:6.2f} us/step")
    print(f"  Python state machine:              {b:12,.0f} steps/s  {1e6 / b:6.2f} us/step")
    print(f"  ratio: {a / b:.1f}x")


if __name__ == "__main__":
    main()

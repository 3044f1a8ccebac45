// The embedded default: what `make demo` runs with no configuration file. A flow written to be heard
// (the prompts are what the caller hears; the keypad or the caller's words drive it: each `event.text`
// condition names a phrase the recogniser listens for in that state, and typed text matches it too), one agent, one outlet with credits and
// a rate card of one credit a minute billed per second.

enum DemoDefaults {
    static let rateCard: ConfigJSON = .object([
        "credits_type": .string("MINUTE_BASED"),
        "duration": .object(["rule": .string("per_second"), "price_per_minute": .number(1_000_000)]),
        "characters_per_million": .number(0),
        "low_balance_threshold": .number(5_000_000),
    ])

    /// `builtin:NAME` flows.
    static func flow(named name: String) -> String? {
        switch name {
        case "demo": demoFlow
        default: nil
        }
    }

    static let demoFlow = #"""
    {
      "name": "demo line",
      "inputs": ["outlet"],
      "variables": {"party_size": null},
      "fallback_state": 7,
      "max_transitions": 40,
      "states": [
        {"state_id": 1, "name": "greeting", "initial": true,
         "on_entry": [{"type": "say", "text": "Welcome to {{outlet}}."}],
         "state_prompt": "Say book a table, or press 1. Say opening hours, or press 2. Say talk to a person, or press 0, at any time.",
         "max_turns": 3, "timeout_ms": 30000},
        {"state_id": 2, "name": "party size",
         "state_prompt": "How many guests? Say or press a number from 1 to 9.",
         "max_turns": 3, "timeout_ms": 30000},
        {"state_id": 3, "name": "opening hours",
         "state_prompt": "We are open every day from noon until eleven at night. Say book a table, or press 1. Say goodbye, or press 9, to end the call.",
         "max_turns": 3, "timeout_ms": 30000},
        {"state_id": 4, "name": "confirm",
         "state_prompt": "A table for {{party_size}}. Say yes or press 1 to confirm; say no or press 2 to change it.",
         "max_turns": 3, "timeout_ms": 30000},
        {"state_id": 5, "name": "booked", "terminal": true,
         "state_prompt": "Your table for {{party_size}} is booked. Thank you for calling, goodbye.",
         "on_entry": [{"type": "end_call"}]},
        {"state_id": 6, "name": "goodbye", "terminal": true,
         "state_prompt": "Thank you for calling {{outlet}}. Goodbye.",
         "on_entry": [{"type": "end_call"}]},
        {"state_id": 7, "name": "person", "terminal": true,
         "state_prompt": "Please hold, a colleague will take over.",
         "on_entry": [{"type": "transfer", "to": "front desk"}]}
      ],
      "edges": [
        {"edge_id": 1, "from_node": 1, "to_node": 2,
         "condition": "event.type == \"dtmf\" && event.digit == \"1\" || event.text contains \"book a table\""},
        {"edge_id": 2, "from_node": 1, "to_node": 3,
         "condition": "event.type == \"dtmf\" && event.digit == \"2\" || event.text contains \"opening hours\""},
        {"edge_id": 3, "from_node": 2, "to_node": 4,
         "condition": "event.type == \"dtmf\" && event.digit in [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\"]",
         "assign": {"party_size": "event.digit"}},
        {"edge_id": 9, "from_node": 2, "to_node": 4,
         "condition": "event.text in [\"one\", \"two\", \"three\", \"four\", \"five\", \"six\", \"seven\", \"eight\", \"nine\"]",
         "assign": {"party_size": "event.text"}},
        {"edge_id": 4, "from_node": 3, "to_node": 2,
         "condition": "event.type == \"dtmf\" && event.digit == \"1\" || event.text contains \"book a table\""},
        {"edge_id": 5, "from_node": 3, "to_node": 6, "condition": "event.type == \"dtmf\" && event.digit == \"9\""},
        {"edge_id": 6, "from_node": 4, "to_node": 5,
         "condition": "event.type == \"dtmf\" && event.digit == \"1\" || event.text == \"yes\""},
        {"edge_id": 7, "from_node": 4, "to_node": 2,
         "condition": "event.type == \"dtmf\" && event.digit == \"2\" || event.text == \"no\""},
        {"edge_id": 8, "from_node": null, "to_node": 7, "global": true, "priority": 5,
         "condition": "event.type == \"dtmf\" && event.digit == \"0\" || event.text contains \"talk to a person\""},
        {"edge_id": 10, "from_node": null, "to_node": 6, "global": true, "priority": 4,
         "condition": "event.text contains \"goodbye\""}
      ]
    }
    """#
}

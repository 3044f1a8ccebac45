"""Providers: built-ins, custom templates, validation, mapping every recorded session, bad input."""
from __future__ import annotations

import base64
import json

import pytest

import formi
from conftest import frame_of, load_session, subset

SEED = {"provider": "your_provider_name", "events": {"incoming": {"message_patterns": {
    "connected": {"detection_pattern": {"event": "connection_established"}, "extraction_map": {"status": "connection.status"}},
    "start": {"detection_pattern": {"event": "call_started"}, "extraction_map": {"call_id": "call.id", "direction": "call.direction"}},
    "media": {"detection_pattern": {"event": "audio_data"}, "extraction_map": {"audio": "payload.audio_data"}},
    "clear": {"detection_pattern": {"event": "buffer_clear"}, "extraction_map": {"action": "control.action"}}}}}}

BROKEN = {"audio": {"encoding": "opus", "sample_rate": 7000, "channels": 3},
          "transport": {"text": "xml"},
          "events": {"incoming": {"message_patterns": {
              "media": {"detection_pattern": {"event": "media"}, "extraction_map": {"audio": "media..payload"}}}}}}


@pytest.mark.parametrize("name", formi.BUILTIN_PROVIDERS)
def test_builtin_providers(name):
    with formi.Provider(name) as provider:
        assert provider.name == name and repr(provider) == f"<formi.Provider {name!r}>"
    assert formi.Provider.builtin(name).name == name


@pytest.mark.parametrize("name", formi.BUILTIN_PROVIDERS)
def test_every_recorded_session_maps_as_expected(repo, name):
    """tests/sessions/<name>.jsonl: every frame maps to its "expect" (a subset of map_json's answer),
    and map() agrees with map_json() on the kind, the ids and the audio."""
    lines = load_session(repo, name)
    assert len(lines) >= 6
    with formi.Provider(name) as provider:
        for number, line in enumerate(lines, 1):
            data, binary = frame_of(line)
            mapped = provider.map_json(data, binary=binary)
            assert not subset(line["expect"], mapped), f"{name} line {number}: {subset(line['expect'], mapped)}"
            event = provider.map(data, binary=binary)
            assert event.name == mapped["event"], f"{name} line {number}"
            if "audio" in mapped:
                assert event.audio == base64.b64decode(mapped["audio"]["base64"])
            for field in ("stream_id", "call_id", "digit", "mark", "error"):
                if field in mapped:
                    assert getattr(event, field) == mapped[field], f"{name} line {number} {field}"


def test_twilio_events_in_detail(repo, twilio):
    lines = load_session(repo, "twilio")
    start = twilio.map(lines[1]["text"])
    assert start.kind is formi.EventKind.START and start.name == "start"
    assert (start.stream_id, start.call_id, start.account_id, start.sequence) == ("MZ11", "CA11", "AC11", 1)
    assert start.custom_parameters == {"caller": "+15550100", "lang": "en"}
    assert start.format == formi.Format(formi.Encoding.ULAW, 8000, 1)
    assert start.pattern == "start" and start.error is None and start.duration_ms is None

    media = twilio.map(lines[2]["text"].encode())  # bytes work as well as str
    assert media.kind is formi.EventKind.MEDIA and len(media.audio) == 160
    assert (media.chunk, media.timestamp, media.track) == (1, 0, "inbound")
    payload = json.loads(lines[2]["text"])["media"]["payload"]
    assert media.audio == formi.base64_decode(payload)

    dtmf = twilio.map(bytearray(lines[5]["text"].encode()))
    assert dtmf.kind is formi.EventKind.DTMF and dtmf.digit == "1"

    bad = twilio.map('{"event":"media","media":{"payload":"@@@@"}}')
    assert bad.kind is formi.EventKind.ERROR and "base64" in bad.error
    assert twilio.map(b"\x01\x02", binary=True).kind is formi.EventKind.ERROR
    assert twilio.map("").kind is formi.EventKind.ERROR
    assert twilio.map("{").kind is formi.EventKind.ERROR
    assert twilio.map("\udcff".encode("utf-8", "surrogatepass")).kind is formi.EventKind.ERROR


def test_custom_provider_from_a_template():
    assert formi.Provider.validate(SEED) == []
    with formi.Provider.from_json(SEED) as provider:
        assert provider.name == "your_provider_name"
        event = provider.map('{"event":"call_started","call":{"id":"c9","direction":"inbound"}}')
        assert event.kind is formi.EventKind.START and event.call_id == "c9" and event.direction == "inbound"
        mapped = provider.map_json('{"event":"buffer_clear","control":{"action":"flush"}}')
        assert mapped["event"] == "clear" and mapped["extras"] == {"action": "flush"}
    # JSON text works as well as a dict.
    with formi.Provider.from_json(json.dumps(SEED)) as provider:
        assert provider.name == "your_provider_name"


def test_validation_names_every_field():
    problems = formi.Provider.validate(BROKEN)
    fields = {p["field"] for p in problems}
    assert {"provider", "transport.text", "audio.encoding", "audio.sample_rate", "audio.channels"} <= fields
    assert all(p["message"] for p in problems)
    with pytest.raises(formi.TemplateError) as info:
        formi.Provider.from_json(BROKEN)
    assert info.value.status == -12 and "audio.sample_rate" in info.value.message


def test_malformed_templates():
    problems = formi.Provider.validate("{")
    assert problems and problems[0]["message"].startswith("not valid JSON")
    with pytest.raises((formi.JSONError, formi.TemplateError)):
        formi.Provider.from_json("{")
    with pytest.raises((formi.JSONError, formi.TemplateError)):
        formi.Provider.from_json("")
    assert formi.Provider.validate([])[0]["field"] == "(template)"
    with pytest.raises(TypeError):
        formi.Provider.from_json({"not json": object()})


def test_unknown_and_bad_names():
    with pytest.raises(formi.NotFound) as info:
        formi.Provider("skype")
    assert info.value.status == -10 and "twilio" in info.value.message  # the known names are listed
    assert isinstance(info.value, LookupError)
    with pytest.raises(formi.NotFound):
        formi.Provider("")
    with pytest.raises(formi.InvalidArgument):
        formi.Provider("twi\0lio")
    with pytest.raises(TypeError):
        formi.Provider(None)
    with pytest.raises(TypeError):
        formi.Provider(42)


def test_map_bad_arguments(twilio):
    for bad in (None, 42, 3.5, ["x"]):
        with pytest.raises(TypeError):
            twilio.map(bad)
        with pytest.raises(TypeError):
            twilio.map_json(bad)

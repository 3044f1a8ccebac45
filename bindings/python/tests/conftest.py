"""Shared fixtures. The tests import the *installed* formi package (pip install ./bindings/python); when
it is not installed they fall back to the source tree (bindings/python/src) so they also run in place.
The library comes from FORMI_LIBRARY or the package's own lookup."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

HERE = Path(__file__).resolve().parent

try:
    import formi  # noqa: F401
except ImportError:  # not installed: test the source tree
    sys.path.insert(0, str(HERE.parent / "src"))
    import formi  # noqa: F401


def _find_repo() -> Path | None:
    """The libformi source tree: FORMI_REPO, or the folder above this one holding include/formi.h."""
    env = os.environ.get("FORMI_REPO")
    if env:
        return Path(env)
    for parent in HERE.parents:
        if (parent / "include" / "formi.h").is_file() and (parent / "tests" / "sessions").is_dir():
            return parent
    return None


REPO = _find_repo()


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (skips the test when the package is tested outside its source tree)."""
    if REPO is None:
        pytest.skip("the libformi source tree (include/formi.h, tests/) is not available; set FORMI_REPO")
    return REPO


def load_session(repo: Path, provider: str) -> List[Dict[str, Any]]:
    """The recorded frames of tests/sessions/<provider>.jsonl."""
    with open(repo / "tests" / "sessions" / f"{provider}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def frame_of(line: Dict[str, Any]) -> tuple:
    """(data, binary) of one recorded frame."""
    import base64

    if "binary" in line:
        return base64.b64decode(line["binary"]), True
    return line["text"], False


def subset(expected: Any, actual: Any, path: str = "$") -> List[str]:
    """Differences where `expected` is not a subset of `actual` (dicts by key, the rest by equality)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        found: List[str] = []
        for key, value in expected.items():
            if key not in actual:
                found.append(f"{path}.{key}: missing")
            else:
                found += subset(value, actual[key], f"{path}.{key}")
        return found
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


@pytest.fixture
def twilio():
    """A built-in Twilio provider, closed after the test."""
    with formi.Provider("twilio") as provider:
        yield provider


def pytest_report_header(config):
    """Which formi package and which libformi the run tests."""
    try:
        path, how = formi.library_path()
    except formi.LibraryNotFoundError as error:
        path, how = f"NOT FOUND: {error}", "-"
    return [f"formi package: {Path(formi.__file__).parent}", f"libformi: {path} (found by {how})"]


def write_wav(path: Path, samples: List[int], rate: int) -> str:
    """Writes mono 16-bit samples as a WAV file; returns its path as text."""
    import struct
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return str(path)

"""The package itself: every public name exists and is documented, the py.typed marker ships, and the
docstrings say the GIL is released."""
from __future__ import annotations

import inspect
from pathlib import Path

import formi


def test_every_public_name_exists_and_is_documented():
    for name in formi.__all__:
        obj = getattr(formi, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if callable(target):
                    assert target.__doc__ and target.__doc__.strip(), f"{name}.{attr}"


def test_py_typed_marker_is_installed():
    assert (Path(formi.__file__).parent / "py.typed").is_file()


def test_the_gil_is_documented():
    assert "GIL" in formi.__doc__
    for name in ("ulaw_encode", "Resampler", "Transcoder", "Provider", "Session", "Flow", "Ledger"):
        assert "GIL" in getattr(formi, name).__doc__, name


def test_bindings_version():
    # The version's one home is include/formi.h; the package mirrors it (test_abi_layout holds them equal).
    assert formi.version().split(".")[0] == formi.__version__.split(".")[0]


def test_the_namespace_holds_the_api_and_its_modules_only():
    """dir(formi): the names of __all__, and the package's own modules; no stray imports."""
    import types

    stray = [n for n in dir(formi) if not n.startswith("__") and n not in formi.__all__
             and not isinstance(getattr(formi, n), types.ModuleType)]
    assert stray == []

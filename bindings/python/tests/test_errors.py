"""The exception hierarchy: one subclass per FORMI_E* status, messages from the library, pickling."""
from __future__ import annotations

import pickle

import pytest

import formi
from formi import errors

EXPECTED = {
    -1: (formi.InvalidArgument, ValueError), -2: (formi.OutOfMemory, MemoryError), -3: (formi.BufferTooSmall, None),
    -4: (formi.LengthError, ValueError), -5: (formi.SizeOverflow, OverflowError), -6: (formi.Base64Error, ValueError),
    -7: (formi.JSONError, ValueError), -8: (formi.Unsupported, None), -9: (formi.StateError, None),
    -10: (formi.NotFound, LookupError), -11: (formi.LimitExceeded, None), -12: (formi.TemplateError, ValueError),
    -13: (formi.StorageError, None), -14: (formi.InternalError, None), -15: (formi.Busy, None),
}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_every_status_has_its_class(status):
    cls, builtin = EXPECTED[status]
    error = errors.error_for(status, "detail")
    assert type(error) is cls and cls.STATUS == status
    assert isinstance(error, formi.FormiError) and error.status == status and error.message == "detail"
    if builtin is not None:
        assert isinstance(error, builtin)
    assert error.name == errors.status_name(status) and str(error) == f"detail ({error.name})"
    assert formi.strerror(status) and formi.strerror(status) != formi.strerror(12345)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls and (copy.status, copy.message) == (status, "detail")


def test_unknown_status_is_internal():
    error = errors.error_for(-99, "?")
    assert isinstance(error, formi.InternalError) and error.status == -99 and error.name == "FORMI_E?(-99)"
    assert formi.strerror(-99) == "unknown status code"
    with pytest.raises(formi.InvalidArgument):
        formi.strerror(2 ** 40)


def test_messages_come_from_the_library():
    with pytest.raises(formi.Base64Error) as info:
        formi.base64_decode("QU%D")
    assert "offset 2" in info.value.message
    assert formi.last_error() == info.value.message  # formi_last_error of this thread
    # Successful calls leave it unchanged, like errno.
    formi.base64_decode("QUJD")
    assert formi.last_error() == info.value.message
    assert repr(info.value).startswith("Base64Error(-6, ")


def test_closed_error():
    error = formi.ClosedError("Session")
    assert isinstance(error, formi.StateError) and isinstance(error, ValueError) and error.status == -9
    assert str(error) == "Session is closed (FORMI_ESTATE)"
    assert pickle.loads(pickle.dumps(error)).message == "Session is closed"


def test_last_error_is_per_thread():
    import threading

    with pytest.raises(formi.Base64Error):
        formi.base64_decode("Zg=")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(formi.last_error()))
    worker.start()
    worker.join()
    assert seen == [""] and formi.last_error()

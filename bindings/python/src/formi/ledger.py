"""The usage ledger: durable records of finished interactions and credit operations, and the usage and
analytics queries (docs/ledger.md is the contract). Everything crosses as dicts.

    with formi.Ledger("usage.db") as ledger:             # Ledger() for a private in-memory one
                                                          # Ledger("postgresql://user@host/db"): shared
        ledger.credit(op="add", idempotency_key="pay-1", outlet_id="o1", agent_id="a1", amount=50_000_000)
        ledger.record({...})                              # {"cost": ..., "balance": ..., "events": [...]}
        ledger.query(query="usage_stats", from_date="01/04/2024", to_date="03/04/2024")
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

from . import _abi
from ._core import Handle, JSONInput, c_int, c_string, check, json_in, new_handle, out_call
from .flow import _request

__all__ = ["Ledger"]


def _redacted(location: str) -> str:
    """A PostgreSQL URL without its password (user:secret@ and password=secret)."""
    if not location.startswith(("postgresql://", "postgres://")):
        return location
    import re
    return re.sub(r"(password=)[^&]*", r"\1***", re.sub(r"^(postgres(?:ql)?://[^:/@?]*:)[^@/?]*@", r"\1***@", location))


class Ledger(Handle):
    """A ledger on a file (SQLite, WAL, each write acknowledged once on disk; created if missing), on
    PostgreSQL (a "postgresql://" or "postgres://" URL in libpq's syntax: one ledger shared by every host
    and process that opens it; its tables are created on first use) or, with no path, in memory. Money is integer micro-credits; every write carries an idempotency key (a retry
    returns the first result with "duplicate": True).

    Errors change nothing stored and raise: JSONError (not JSON), InvalidArgument (missing, misspelt or
    mistyped field), NotFound (unknown query or interaction), LimitExceeded (a debit beyond the balance,
    an oversize batch), StateError (an interaction id recorded under another key), StorageError
    (including a file moved away while open), Busy (another process kept the file locked past the busy
    timeout: nothing was done, retry).
    One thread at a time per Ledger (a lock enforces it; open one per thread for parallel use); releases
    the GIL during work.
    """

    _what = "Ledger"

    def __init__(self, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        self.path = None if path is None else os.fspath(path)
        encoded = c_string(self.path, "path", optional=True) if path is not None else None
        L = _abi.lib()
        pointer = new_handle(lambda status: L.formi_ledger_open(encoded, status))
        self._adopt(pointer, L.formi_ledger_close)

    def _error(self) -> str:
        raw = _abi.lib().formi_ledger_last_error(self._ptr)
        return raw.decode("utf-8", "replace") if raw else ""

    def _json_call(self, function: str, data: bytes, what: str) -> Any:
        with self._lock:
            return out_call(getattr(_abi.lib(), function), self._handle(), data, len(data), handle_error=self._error,
                            what=what)

    def record(self, record: JSONInput) -> Dict[str, Any]:
        """Records one interaction (a dict) or a batch (a list of up to 10,000, one transaction).
        Returns {"success", "duplicate", "interaction_id", "outlet_id", "agent_id", "cost", "charged",
        "unpaid", "balance", "events"} (a batch: {"success": True, "results": [...]})."""
        return self._json_call("formi_ledger_record", json_in(record, "record"), "record result")

    def credit(self, operation: Optional[JSONInput] = None, /, **fields: Any) -> Dict[str, Any]:
        """A credit operation, as a dict or keywords: op "set", "add", "debit" (LimitExceeded beyond the
        balance unless the rate card allows negative) or "rate_card". Returns balance, total_recharge,
        total_usage and events."""
        return self._json_call("formi_ledger_credit", _request(operation, fields, "credit operation"),
                               "credit result")

    def query(self, query: Optional[JSONInput] = None, /, **fields: Any) -> Dict[str, Any]:
        """A query on one consistent snapshot, as a dict or keywords: query(query="usage_stats",
        from_date="01/04/2024", to_date="03/04/2024", utc_offset=19800). Queries: credits,
        interaction_utilisation, model_utilisation, interaction, usage_stats, agent_statistic, metrics,
        verify. Ratios with nothing to divide by are None."""
        return self._json_call("formi_ledger_query", _request(query, fields, "query"), "query answer")

    def set_busy_timeout(self, milliseconds: int) -> None:
        """How long a call waits for another process's lock on the file before raising Busy (default
        30000 ms; 0: not at all)."""
        with self._lock:
            timeout = c_int(milliseconds, "milliseconds", lo=0)
            check(_abi.lib().formi_ledger_set_busy_timeout(self._handle(), timeout), self._error)

    def verify(self) -> Dict[str, Any]:
        """Recomputes every roll-up from the stored interactions: {"success", "ok", "interactions",
        "problems"}."""
        return self.query(query="verify")

    @property
    def last_error(self) -> str:
        """The message of the last failed call on this ledger ("" if none)."""
        with self._lock:
            self._handle()
            return self._error()

    def __repr__(self) -> str:
        where = "in memory" if self.path is None else repr(_redacted(self.path))
        return f"<formi.Ledger {where}{' closed' if self.closed else ''}>"

"""Fault injection rules and the request log, both thread-safe and free of HTTP.

A fault makes the next N matching API requests misbehave the way a real network or Twilio can:
an error status (429 with or without Retry-After, 500, 503, ...), a delay, or a dropped
connection, either *before* the request takes effect or *after* it (the change is made and the
response is lost). The request log records what was asked and answered, never bodies, headers or
anything secret, so tests can assert on retries and call counts.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

_SPEC_FIELDS = {"method", "path", "times", "status", "retry_after", "delay", "drop", "when", "body"}


class FaultSpecError(ValueError):
    """A fault description is malformed; the message names the offending field."""


@dataclass
class Fault:
    """One injection rule. ``path`` is a regex searched (``re.search``) in the raw request path."""

    id: str
    method: str | None
    path: str
    times: int
    status: int | None
    retry_after: str | None
    delay: float
    drop: bool
    when: Literal["before", "after"]
    body: Any

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)

    def matches(self, method: str, raw_path: str) -> bool:
        """True if this rule applies to ``method`` on ``raw_path`` (percent-encoded, no query)."""
        return (self.method is None or self.method == method) and self._regex.search(raw_path) is not None

    def describe(self) -> dict[str, Any]:
        """The rule as JSON, with ``remaining`` = how many more requests it will hit."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "remaining": self.times,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop": self.drop,
            "when": self.when,
            "body": self.body,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Fault:
        """Validate a JSON fault description (see the emulator README) and build the rule."""
        if not isinstance(spec, Mapping):
            raise FaultSpecError("fault must be a JSON object")
        unknown = set(spec) - _SPEC_FIELDS
        if unknown:
            raise FaultSpecError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        path = spec.get("path")
        if not isinstance(path, str):
            raise FaultSpecError("path is required and must be a regular expression string")
        try:
            re.compile(path)
        except re.error as exc:
            raise FaultSpecError(f"path is not a valid regular expression: {exc}") from None
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise FaultSpecError("method must be a string")
        times = spec.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise FaultSpecError("times must be an integer >= 1")
        status = spec.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise FaultSpecError("status must be an integer")
        if status is not None and not 400 <= status <= 599:
            raise FaultSpecError("status must be between 400 and 599")
        retry_after = spec.get("retry_after")
        if retry_after is not None:
            if isinstance(retry_after, bool) or not isinstance(retry_after, (str, int, float)):
                raise FaultSpecError("retry_after must be a string or a number")
            retry_after = str(retry_after)
        delay = spec.get("delay", 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 300:
            raise FaultSpecError("delay must be a number of seconds between 0 and 300")
        drop = spec.get("drop", False)
        if not isinstance(drop, bool):
            raise FaultSpecError("drop must be true or false")
        if drop and status is not None:
            raise FaultSpecError("drop and status are mutually exclusive")
        when = spec.get("when", "before")
        if when not in ("before", "after"):
            raise FaultSpecError('when must be "before" or "after"')
        return cls(
            id="FA" + uuid.uuid4().hex,
            method=method.upper() if method else None,
            path=path,
            times=times,
            status=status,
            retry_after=retry_after,
            delay=float(delay),
            drop=drop,
            when=when,
            body=spec.get("body"),
        )


class FaultBook:
    """The active faults, consumed one count per matching request, first added first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: Mapping[str, Any]) -> Fault:
        """Validate and add a rule; raises FaultSpecError."""
        fault = Fault.from_spec(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, raw_path: str) -> Fault | None:
        """Consume one count of the first rule matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, raw_path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def remove(self, fault_id: str) -> bool:
        """Remove one rule by id; False if there was none."""
        with self._lock:
            for fault in self._faults:
                if fault.id == fault_id:
                    self._faults.remove(fault)
                    return True
        return False

    def describe(self) -> list[dict[str, Any]]:
        """The active rules with their remaining counts."""
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._faults.clear()


class RequestLog:
    """What the emulator was asked and answered: method, raw path, status, time. Nothing else.

    Entries are ``{"method", "path", "status", "time", "duration_ms", "fault", "in_flight"}``;
    ``status`` is None when the connection was dropped, ``fault`` is True when a fault rule hit the
    request, ``in_flight`` is how many API requests the emulator held when it arrived (itself
    included). :meth:`peak_in_flight` is the largest of those since the log was last cleared.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        time: float,
        duration_ms: float,
        fault: bool,
        in_flight: int = 1,
    ) -> None:
        """Append one entry; ``path`` must already be stripped of its query string."""
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "time": time,
            "duration_ms": round(duration_ms, 3),
            "fault": fault,
            "in_flight": in_flight,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the log, oldest first."""
        with self._lock:
            return [dict(e) for e in self._entries]

    def peak_in_flight(self) -> int:
        """The most API requests the emulator held at once (0 when the log is empty)."""
        with self._lock:
            return max((e["in_flight"] for e in self._entries), default=0)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


class Traffic:
    """Every API request's time on the wire (``latency``) and Twilio's concurrency limit.

    A request counts as in flight from its arrival until it is answered, whatever the answer. With
    a ``limit``, a request that arrives while ``limit`` others are in flight is answered 429 (code
    20429, ``Retry-After``) and not processed, as Twilio does above an account's limit.
    """

    def __init__(self, latency: float = 0.0, limit: int | None = None) -> None:
        if not 0 <= latency <= 60:
            raise ValueError("latency must be between 0 and 60 seconds")
        if limit is not None and limit < 1:
            raise ValueError("concurrency limit must be 1 or more")
        self.latency = latency
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0

    def arrive(self) -> tuple[int, bool]:
        """Count a request in; returns (requests in flight now, itself included; over the limit?)."""
        with self._lock:
            self._in_flight += 1
            count = self._in_flight
        return count, self.limit is not None and count > self.limit

    def leave(self) -> None:
        """Count a request out (it has been answered or dropped)."""
        with self._lock:
            self._in_flight -= 1

"""What every benchmark shares: the provider-host harness, an emulator process, statistics, tables.

The provider host harness is the one the tests use (``tests/_host.py``): imported, not copied, so the
benchmarks drive the host exactly as the provider-host tests do.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
# tests/ is not a package: its modules import each other as top-level names (``from _host import``).
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from _host import (  # noqa: E402
    KINDS,
    PROVIDER_KEY,
    Engine,
    ProviderHost,
    State,
    engine_view,
    from_struct,
    new_provider,
    to_struct,
    urn_for,
)
from _host import TOKENS as KIND_TOKENS  # noqa: E402 - needs the path above

from microvisor_pulumi.emulator import (  # noqa: E402
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_DEVICES,
)

__all__ = [
    "KINDS",
    "PROVIDER_KEY",
    "Engine",
    "EmulatorProcess",
    "ProviderHost",
    "State",
    "Table",
    "cpu_seconds",
    "drive_bounded",
    "engine_view",
    "from_struct",
    "percentile",
    "to_struct",
    "urn_for",
]

TOKENS = {
    **KIND_TOKENS,
    "Null": "pulumi-python:dynamic:Resource",
    "RawHttp": "pulumi-python:dynamic:Resource",
    "RawHttpSecret": "pulumi-python:dynamic:Resource",
}
DEVICE_SIDS = [sid for sid, _ in DEFAULT_DEVICES]


def provider_for(kind: str) -> Any:
    """A fresh provider instance of one kind (imported late: cold start must not pay for it)."""
    if kind == "Null":
        from benchmarks.null_provider import NullProvider

        return NullProvider()
    if kind in ("RawHttp", "RawHttpSecret"):
        from benchmarks import raw_provider

        return getattr(raw_provider, f"{kind}Provider")()
    return new_provider(kind)


class EmulatorProcess:
    """The emulator in its own process, driven through its ``/_emulator`` hooks.

    Not in-process: the benchmark's own client threads would then share one GIL with the server, and
    the raw-requests baseline (run in this process) would be slowed by the very server it measures.
    """

    def __init__(self, *options: str) -> None:
        self.account_sid = DEFAULT_ACCOUNT_SID
        self.auth_token = DEFAULT_AUTH_TOKEN
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "microvisor_pulumi.emulator", "--port", "0", *options],
            stdout=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line.split()[-1]
        self._hooks = requests.Session()

    def session(self) -> requests.Session:
        """A pooled Session authenticated as the emulator's account: the raw baseline."""
        session = requests.Session()
        session.auth = (self.account_sid, self.auth_token)
        return session

    def request_log(self) -> list[dict[str, Any]]:
        response = self._hooks.get(f"{self.url}/_emulator/requests")
        response.raise_for_status()
        return list(response.json()["requests"])

    def peak_in_flight(self) -> int:
        response = self._hooks.get(f"{self.url}/_emulator/requests")
        response.raise_for_status()
        return int(response.json()["peak_in_flight"])

    def clear_request_log(self) -> None:
        self._hooks.delete(f"{self.url}/_emulator/requests").raise_for_status()

    def reset(self) -> None:
        self._hooks.delete(f"{self.url}/_emulator/state").raise_for_status()

    def close(self) -> None:
        self._hooks.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_host(emulator: EmulatorProcess, **config: str) -> ProviderHost:
    """A provider host configured for the emulator, as `pulumi up` would configure it."""
    host = ProviderHost()
    host.configure(
        {
            "twilio:accountSid": emulator.account_sid,
            "twilio:authToken": emulator.auth_token,
            "twilio:endpoint": emulator.url,
            **config,
        }
    )
    return host


def start_plugin(emulator: EmulatorProcess, **config: Any) -> Any:
    """The provider plugin (tests/_plugin.py's harness) configured for the emulator as the engine
    would configure it: settings by bare name (microvisor:*), the auth token a secret."""
    from _plugin import Plugin
    from pulumi.runtime import rpc

    plugin = Plugin()
    try:
        plugin.configure(
            {
                "accountSid": emulator.account_sid,
                "authToken": rpc.wrap_rpc_secret(emulator.auth_token),
                "endpoint": emulator.url,
                **config,
            }
        )
    except BaseException:
        plugin.close()
        raise
    return plugin


@contextmanager
def running(emulator: EmulatorProcess | None = None) -> Iterator[tuple[EmulatorProcess, ProviderHost]]:
    """An emulator (given or new) and a host configured for it; both stopped after (a given one is kept)."""
    own = emulator is None
    emu = emulator or EmulatorProcess()
    host = None
    try:
        host = start_host(emu)
        yield emu, host
    finally:
        if host is not None:
            host.close()
        if own:
            emu.close()


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default does."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """Seconds one call took, and what it returned."""
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


@dataclass
class Table:
    """One printed table: a title, column names, rows of text, notes below it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [
            f"### {self.title}",
            "",
            line(self.columns),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ]
        out += [line(row) for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {note}" for note in self.notes]
        return "\n".join(out)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return float("nan")


def drive_bounded(requests: Iterable[Any], send: Callable[[Any], Any], outstanding: int) -> None:
    """Send every request (`send` returns a gRPC future) with at most `outstanding` unanswered, as
    the engine keeps its parallelism's worth of calls in flight; fail if any answer failed or has no id.

    `requests` is consumed one at a time, each before its slot is taken: what it does to make a
    request (a Check, a Struct copy) is not counted as outstanding, and no list of n requests is
    kept. Each answer is checked and dropped as it arrives: holding 10,000 finished futures would
    make the garbage collector (and so the run) slower at 10,000 than at 1,000 for reasons of our own.
    """
    slots = threading.Semaphore(outstanding)
    failures: list[BaseException] = []

    def finished(future: Any) -> None:
        try:
            error = future.exception()
            if error is not None or not future.result().id:
                failures.append(error or RuntimeError("a create returned no id"))
        finally:
            slots.release()

    for request in requests:
        slots.acquire()
        send(request).add_done_callback(finished)
    for _ in range(outstanding):  # every slot back: every answer is in
        slots.acquire()
    assert not failures, failures[:3]


def verdict(ok: bool | None) -> str:
    """The "met" column: yes, NO (loud, so a miss is seen), or a dash for figures with no target."""
    return "-" if ok is None else ("yes" if ok else "NO")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"

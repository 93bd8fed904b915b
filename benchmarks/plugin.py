"""The provider plugin against the dynamic provider host: ``python -m benchmarks.plugin [--quick]``.

Both serve the same provider classes; this measures what each face costs around them. Against the
emulator in its own process with every request delayed 150 ms, each path creates N DeviceSecrets
(Check, then Create, as the engine sends them, with more Creates outstanding than maxConcurrency so
the server's own limit shows), at the default `maxConcurrency` (32). Reported per path: requests in
flight (the emulator's peak, and N x latency / wall), creates per second, and the server process's
CPU per operation (Check + Create), read from /proc before and after (user + system time of the
plugin or host process only: not the emulator's nor this driver's).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.proto import provider_pb2 as pb

from benchmarks._harness import (
    DEVICE_SIDS,
    TOKENS,
    EmulatorProcess,
    Engine,
    Table,
    cpu_seconds,
    drive_bounded,
    engine_view,
    provider_for,
    start_host,
    start_plugin,
    verdict,
)

LATENCY = 0.15
OUTSTANDING = 64  # Creates sent and not yet answered: the engine's default parallelism is larger
IN_FLIGHT_TARGET = 28
PLUGIN_CPU_TARGET_MS = 3.0
VALUE = "c2VjcmV0LXRva2VuLWZvci1kZXZpY2UtMDEyMzQ1Njc4OWFi"


@dataclass
class Result:
    path: str
    n: int
    wall: float
    peak: int
    cpu_ms: float  # server CPU per Check + Create

    @property
    def in_flight(self) -> float:
        return self.n * LATENCY / self.wall


def run_dynamic(emu: EmulatorProcess, n: int) -> Result:
    host = start_host(emu)
    try:
        eng = Engine(host, provider_for("DeviceSecret"), TOKENS["DeviceSecret"])
        eng.create({"device_sid": DEVICE_SIDS[0], "key": "warm", "value": VALUE})  # loads the provider

        def check(name: str) -> Any:
            return engine_view(eng.check({"device_sid": DEVICE_SIDS[0], "key": name, "value": VALUE}).inputs)

        def create(name: str, checked: Any) -> Any:
            urn = f"urn:pulumi:dev::fleet::{eng.type_token}::{name}"
            return eng.stub.Create.future(pb.CreateRequest(urn=urn, properties=checked))

        return _measure("dynamic provider host", host.proc.pid, emu, n, check, create)
    finally:
        host.close()


def run_plugin(emu: EmulatorProcess, n: int) -> Result:
    # tests/ is on sys.path once benchmarks._harness is imported: the harness the plugin tests use.
    from _plugin import PluginEngine

    plugin = start_plugin(emu)
    try:
        eng = PluginEngine(plugin, "DeviceSecret")
        eng.create({"device_sid": DEVICE_SIDS[0], "key": "warm", "value": VALUE})

        def check(name: str) -> Any:
            return eng.check({"device_sid": DEVICE_SIDS[0], "key": name, "value": VALUE}).inputs

        def create(name: str, checked: Any) -> Any:
            urn = f"urn:pulumi:dev::fleet::{eng.type}::{name}"
            return plugin.stub.Create.future(pb.CreateRequest(urn=urn, type=eng.type, properties=checked))

        return _measure("provider plugin", plugin.proc.pid, emu, n, check, create)
    finally:
        plugin.close()


def _measure(
    label: str,
    pid: int,
    emu: EmulatorProcess,
    n: int,
    check: Callable[[str], Any],
    create: Callable[[str, Any], Any],
) -> Result:
    emu.clear_request_log()
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    named = (f"{label[:3]}-{i}" for i in range(n))
    drive_bounded(((name, check(name)) for name in named), lambda pair: create(*pair), OUTSTANDING)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    return Result(label, n, wall, emu.peak_in_flight(), cpu / n * 1000)


def table(results: Sequence[Result]) -> Table:
    t = Table(
        f"Creates through each face at {LATENCY * 1000:.0f} ms per request (maxConcurrency 32)",
        ["path", "creates", "wall", "creates/s", "peak in flight", "N x latency / wall", "server CPU / op"],
        [],
        [
            "peak in flight: the emulator's own count of requests open at once; target >= "
            f"{IN_FLIGHT_TARGET} for the plugin",
            "server CPU / op: user + system time of the plugin or host process over the run, divided by "
            f"the creates (Check + Create each); target <= {PLUGIN_CPU_TARGET_MS:g} ms for the plugin",
        ],
    )
    for r in results:
        plugin = r.path == "provider plugin"
        t.rows.append(
            [
                r.path,
                str(r.n),
                f"{r.wall:.2f} s",
                f"{r.n / r.wall:.0f}",
                f"{r.peak} {verdict(r.peak >= IN_FLIGHT_TARGET) if plugin else ''}".strip(),
                f"{r.in_flight:.1f}",
                f"{r.cpu_ms:.2f} ms {verdict(r.cpu_ms <= PLUGIN_CPU_TARGET_MS) if plugin else ''}".strip(),
            ]
        )
    return t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plugin", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 creates per path, one round")
    parser.add_argument("-n", type=int, default=None, help="creates per path and round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (each path in turn)")
    args = parser.parse_args(argv)
    n = args.n or (200 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 3)
    print(
        f"## Plugin against dynamic host: {n} DeviceSecret creates per round, {LATENCY * 1000:.0f} ms per "
        f"request, maxConcurrency 32 (default), {OUTSTANDING} Creates outstanding, {rounds} round(s)\n"
    )
    print(
        f"Targets: plugin keeps >= {IN_FLIGHT_TARGET} creates in flight; plugin CPU per Check + Create "
        f"<= {PLUGIN_CPU_TARGET_MS:g} ms.\n"
    )
    emu = EmulatorProcess("--latency", str(LATENCY))
    results: list[Result] = []
    try:
        for _ in range(rounds):
            # Alternated, so that a noisy neighbour on a shared machine weighs on both paths alike.
            for run in (run_dynamic, run_plugin):
                emu.reset()
                results.append(run(emu, n))
    finally:
        emu.close()
    print(table(results).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

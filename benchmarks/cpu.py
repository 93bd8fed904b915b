"""Host CPU per operation: ``python -m benchmarks.cpu [--quick] [--repeat N]``.

Drives check, create, read, update and delete of N DeviceConfigs through the real provider host
(``python -m pulumi.dynamic``) with 1, 32 and 64 gRPC calls outstanding, against the emulator in its
own process with every API request delayed (``--latency``, 150 ms by default, as a real link), and
reads the host process's CPU (user + system, /proc) around each phase: CPU seconds / N is what one
operation costs the host. The null provider (``benchmarks/null_provider.py``: no HTTP, no code) runs
the same phases: its figures are the SDK's own floor per call (gRPC, property (de)serialization).

The machine may be shared: CPU time is charged to the host process alone, but a busy machine still
moves it (cache, frequency, lock hand-offs). ``--repeat`` runs everything N times, interleaving ours
and the null provider, and prints the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2 as pb

from benchmarks._harness import (
    DEVICE_SIDS,
    TOKENS,
    EmulatorProcess,
    Engine,
    Table,
    cpu_seconds,
    engine_view,
    provider_for,
    start_host,
    urn_for,
)
from benchmarks.fleet import _drive, _plain


def _cpu_ns(pid: int) -> float:
    """CPU seconds of a process's live threads at nanosecond resolution (/proc/<pid>/task/*/schedstat).

    /proc/<pid>/stat counts in 10 ms ticks: too coarse for 40 sequential calls. The host's threads
    (gRPC's pool, widened by _host_threads) live as long as the host, so none of their time is lost.
    """
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_seconds(pid)


OPS = ("check", "create", "read", "update", "delete")
LEVELS = (1, 32, 64)
VALUE = "dGhlLXZhbHVlLW9mLWEtY29uZmlnLWZvci1hLWRldmljZQ=="


def _phases(engine: Engine, label: str, n: int) -> dict[str, Any]:
    """Request builders for each phase; later phases use what the earlier ones returned."""
    template = engine_view(
        engine.check({"device_sid": DEVICE_SIDS[0], "key": "template", "value": VALUE}).inputs
    )
    news = engine.news({"device_sid": DEVICE_SIDS[0], "key": "template", "value": VALUE})
    news = engine_view(news)
    states: list[tuple[str, str, struct_pb2.Struct, struct_pb2.Struct]] = []

    def props(i: int, value: str = VALUE) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        out.CopyFrom(template)
        out.fields["key"].string_value = f"{label}-{i}"
        out.fields["value"].string_value = value
        return out

    def check(i: int) -> Any:
        raw = struct_pb2.Struct()
        raw.CopyFrom(news)
        raw.fields["key"].string_value = f"{label}-{i}"
        return pb.CheckRequest(
            urn=urn_for(engine.type_token, f"{label}-{i}"), olds=struct_pb2.Struct(), news=raw
        )

    def create(i: int) -> Any:
        return pb.CreateRequest(urn=urn_for(engine.type_token, f"{label}-{i}"), properties=props(i))

    def read(i: int) -> Any:
        rid, urn, outs, ins = states[i]
        return pb.ReadRequest(id=rid, urn=urn, properties=outs, inputs=ins)

    def update(i: int) -> Any:
        rid, urn, outs, _ = states[i]
        return pb.UpdateRequest(id=rid, urn=urn, olds=outs, news=props(i, VALUE + "x"))

    def delete(i: int) -> Any:
        rid, urn, outs, _ = states[i]
        return pb.DeleteRequest(id=rid, urn=urn, properties=outs)

    return {
        "check": check,
        "create": create,
        "read": read,
        "update": update,
        "delete": delete,
        "states": states,
    }


def run(emulator: EmulatorProcess, kind: str, level: int, n: int) -> dict[str, float]:
    """CPU ms per operation of each phase for n items with `level` calls outstanding (fresh host)."""
    emulator.reset()
    host = start_host(emulator)
    figures: dict[str, float] = {}
    try:
        engine = Engine(host, provider_for(kind), TOKENS[kind])
        # Configure the host, warm its caches (device, connections) and every code path once.
        warm = engine.create({"device_sid": DEVICE_SIDS[0], "key": "warm-up", "value": VALUE})
        engine.refresh(warm)
        label = f"c{level}"
        build = _phases(engine, label, n)
        states = build["states"]
        stub = host.stub
        calls = {"check": stub.Check, "create": stub.Create, "read": stub.Read, "update": stub.Update,
                 "delete": stub.Delete}  # fmt: skip
        for op in OPS:
            before = _cpu_ns(host.proc.pid)
            answers, failed = _drive(calls[op], build[op], n)
            figures[op] = (_cpu_ns(host.proc.pid) - before) / n * 1000
            if failed:
                raise RuntimeError(f"{kind} {op} at {level} in flight: {failed} of {n} failed")
            if op == "create":
                for i, answer in enumerate(answers):
                    urn = urn_for(engine.type_token, f"{label}-{i}")
                    states.append((answer.id, urn, _plain(answer.properties), build["create"](i).properties))
            elif op in ("read", "update"):
                for i, answer in enumerate(answers):
                    rid, urn, _, ins = states[i]
                    states[i] = (rid, urn, _plain(answer.properties), ins)
    finally:
        host.close()
    return figures


def measure(
    latency: float, sizes: dict[int, int], repeat: int
) -> dict[tuple[str, int], dict[str, list[float]]]:
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    emulator = EmulatorProcess("--latency", str(latency))
    null_emulator = EmulatorProcess()
    try:
        for r in range(repeat):
            for level in LEVELS:
                for kind, emu in (("DeviceConfig", emulator), ("Null", null_emulator)):
                    figures = run(emu, kind, level, sizes[level])
                    slot = results.setdefault((kind, level), {op: [] for op in OPS})
                    for op, value in figures.items():
                        slot[op].append(value)
                    print(
                        f"  run {r + 1} {kind:<12} {level:>2} in flight: "
                        + "  ".join(f"{op} {figures[op]:.2f}" for op in OPS),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        emulator.close()
        null_emulator.close()
    return results


def table(
    results: dict[tuple[str, int], dict[str, list[float]]], latency: float, sizes: dict[int, int]
) -> Table:
    rows = []
    for op in OPS:
        row = [op]
        for level in LEVELS:
            ours = statistics.median(results[("DeviceConfig", level)][op])
            null = statistics.median(results[("Null", level)][op])
            row.append(f"{ours:.2f} ({ours - null:+.2f})")
        for level in LEVELS:
            row.append(f"{statistics.median(results[('Null', level)][op]):.2f}")
        rows.append(row)
    repeat = len(next(iter(results.values()))["check"])
    return Table(
        "Host CPU per operation (ms; DeviceConfig)",
        ["op", *(f"ours, {lv} in flight (over null)" for lv in LEVELS), *(f"null, {lv}" for lv in LEVELS)],
        rows,
        [
            "ours = DeviceConfigProvider through the provider host; null = benchmarks/null_provider.py "
            "through a host of its own (the SDK's floor per call: gRPC, property (de)serialization). "
            "(over null) = ours minus null: what our code and the HTTP client cost.",
            f"Host CPU = user + system time of the host process (/proc) over the phase / items; "
            f"{', '.join(f'{sizes[lv]} items at {lv} in flight' for lv in LEVELS)}; every API request "
            f"takes {latency * 1000:.0f} ms in the emulator. Median of {repeat} run(s).",
            "update changes the value (one POST); read is a refresh (one GET); check makes no HTTP call.",
        ],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few items: a smoke run")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per request (default 0.15)")
    parser.add_argument("--repeat", type=int, default=1, help="runs to take the median of (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = {1: 10, 32: 64, 64: 128} if args.quick else {1: 40, 32: 320, 64: 640}
    started = time.perf_counter()
    results = measure(args.latency, sizes, args.repeat)
    from benchmarks.__main__ import machine

    print("## Host CPU per operation\n")
    print(machine())
    print(
        f"- Command: python -m benchmarks.cpu{' --quick' if args.quick else ''} (latency {args.latency} s, "
        f"repeat {args.repeat})\n"
    )
    print(table(results, args.latency, sizes).render())
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

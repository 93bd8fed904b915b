"""Fleet throughput on a real-latency link: ``python -m benchmarks.fleet [--quick]``.

Creates, refreshes and deletes N DeviceSecrets through the real provider host (``python -m
pulumi.dynamic``), driven with ENGINE_CALLS concurrent gRPC calls as ``pulumi up --parallel 64``
would, against the emulator in its own process with every API request delayed (``--latency``).
Each ``twilio:maxConcurrency`` setting gets a host of its own; at the settings with a target the
provider plugin and the floor (benchmarks/wait_provider.py through the host: the most any provider
keeps in flight there) run too, each fresh. Then the default setting runs again against an emulator
that enforces Twilio's concurrency limit (``--concurrency-limit``).

Per phase: wall time, operations in flight (N x latency / wall: how many requests were out on
average), the host or plugin process's CPU (user + system, from /proc), failed operations, and from the
emulator's request log the peak of requests in flight and the number of 429s. Prints Markdown; with
matplotlib installed (the ``bench`` extra) also draws the PNG chart that sits beside BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb

from benchmarks._harness import (
    DEVICE_SIDS,
    ROOT,
    TOKENS,
    EmulatorProcess,
    Engine,
    Table,
    cpu_seconds,
    engine_view,
    provider_for,
    start_host,
    start_plugin,
    urn_for,
    verdict,
)

ENGINE_CALLS = 64  # gRPC calls kept outstanding against the host, as `pulumi up --parallel 64`
SETTINGS = (4, 10, 32, 64)  # the SDK's stock pool, Terraform's default parallelism, ours, and more
DEFAULT_SETTING = 32
LIMITED_SETTING = 32  # the run under Twilio's concurrency limit uses the default setting
# Operations in flight wanted at 150 ms per request (issue 20): most of each setting's cap, with
# the rest of an operation's time spent in the host. Under the 20-request limit: near the limit.
TARGETS_IN_FLIGHT = {32: 28, 64: 48}
LIMITED_TARGET = 17
PHASES = ("create", "refresh", "delete")
# The ways the runs serve DeviceSecrets: ours through the dynamic provider host, ours through the
# provider plugin, and benchmarks/wait_provider.py through the dynamic host (the host's own ceiling:
# a provider that only waits the request's latency). The last two run at the settings with targets.
DYNAMIC, PLUGIN, FLOOR = "dynamic host", "plugin", "floor"
FACES = (DYNAMIC, PLUGIN, FLOOR)
VALUE = "c2VjcmV0LXRva2VuLWZvci1kZXZpY2UtMDEyMzQ1Njc4OWFi"
CHART = ROOT / "BENCHMARKS-fleet.png"


@dataclass
class Phase:
    """One phase of one run: what it took and what the emulator saw."""

    wall: float
    cpu: float
    failed: int
    peak: int
    throttled: int
    first_throttle_in_flight: int | None = None
    peak_after_throttle: int | None = None


@dataclass
class Run:
    label: str
    setting: int
    limit: int | None
    n: int
    face: str = "dynamic host"
    phases: dict[str, Phase] = field(default_factory=dict)


def _plain(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """What the engine sends back to a provider that does not accept secrets: secrets unwrapped.

    The same as ``engine_view`` but in protobuf directly: that one builds an event loop per call,
    which at 10,000 resources would make the driver, not the host, the bottleneck.
    """
    out = struct_pb2.Struct()
    out.CopyFrom(struct)
    for name, value in struct.fields.items():
        inner = value.struct_value.fields if value.HasField("struct_value") else None
        if inner is not None and inner.get(rpc._special_sig_key) == struct_pb2.Value(
            string_value=rpc._special_secret_sig
        ):
            out.fields[name].CopyFrom(inner["value"])
    return out


def _drive(stub_call: Callable[[Any], Any], requests: Callable[[int], Any], n: int) -> tuple[list[Any], int]:
    """Send n requests with ENGINE_CALLS outstanding at a time; the answers (None if failed) and failures."""
    slots = threading.Semaphore(ENGINE_CALLS)
    answers: list[Any] = [None] * n
    failures = [0]
    remaining = [n]
    lock = threading.Lock()
    done = threading.Event()

    def finished(i: int, future: Any) -> None:
        error = future.exception()
        with lock:
            if error is None:
                answers[i] = future.result()
            else:
                failures[0] += 1
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()
        slots.release()

    for i in range(n):
        request = requests(i)
        slots.acquire()
        stub_call.future(request).add_done_callback(lambda f, i=i: finished(i, f))  # type: ignore[attr-defined]
    done.wait()
    return answers, failures[0]


def _throttle_figures(log: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """Requests in flight when the first 429 came back, and the peak of arrivals after that moment."""
    throttled = [e for e in log if e["status"] == 429]
    if not throttled:
        return None, None
    first_back = min(e["time"] + e["duration_ms"] / 1000 for e in throttled)
    out = sum(1 for e in log if e["time"] <= first_back < e["time"] + e["duration_ms"] / 1000)
    later = [e["in_flight"] for e in log if e["time"] > first_back]
    return out + 1, max(later, default=0)  # +1: the 429 itself was out until that moment


@dataclass
class Face:
    """One way of serving the provider, started for one run: what the driver needs of it."""

    pid: int
    stub: Any
    type_token: str
    template: struct_pb2.Struct  # checked inputs of one item, as the engine would send them
    # (Requests name the type, as the engine's do: the plugin needs it, the dynamic host ignores it.)
    view: Callable[[struct_pb2.Struct], struct_pb2.Struct]  # outputs as the engine sends them back
    close: Callable[[], None]


def _dynamic_face(emulator: EmulatorProcess, setting: int, latency: float, floor: bool) -> Face:
    host = start_host(emulator, **{"twilio:maxConcurrency": str(setting)})
    try:
        if floor:
            from benchmarks.wait_provider import WaitProvider

            engine = Engine(host, WaitProvider(), "pulumi-python:dynamic:Resource")
            item: dict[str, Any] = {
                "device_sid": DEVICE_SIDS[0],
                "value": VALUE,
                "overwrite": False,
                "wait": latency,
            }
        else:
            engine = Engine(host, provider_for("DeviceSecret"), TOKENS["DeviceSecret"])
            item = {"device_sid": DEVICE_SIDS[0], "value": VALUE}
        engine.create({**item, "key": "warm-up"})  # configure, cache
        template = engine_view(engine.check({**item, "key": "template"}).inputs)
    except BaseException:
        host.close()
        raise
    return Face(host.proc.pid, host.stub, engine.type_token, template, _plain, host.close)


def _plugin_face(emulator: EmulatorProcess, setting: int) -> Face:
    from _plugin import PluginEngine  # tests/ is on sys.path once the harness is imported

    plugin = start_plugin(emulator, maxConcurrency=str(setting))
    try:
        engine = PluginEngine(plugin, "DeviceSecret")
        engine.create({"device_sid": DEVICE_SIDS[0], "key": "warm-up", "value": VALUE})
        template = engine.check({"device_sid": DEVICE_SIDS[0], "key": "template", "value": VALUE}).inputs
    except BaseException:
        plugin.close()
        raise
    # The plugin accepts secrets: the engine sends its outputs back as they came.
    return Face(plugin.proc.pid, plugin.stub, engine.type, template, _as_sent, plugin.close)


def _as_sent(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    return struct


def run_one(
    emulator: EmulatorProcess,
    latency: float,
    setting: int,
    limit: int | None,
    n: int,
    label: str,
    face_name: str = DYNAMIC,
) -> Run:
    """Create, refresh and delete n DeviceSecrets through a fresh host (or plugin) with this setting."""
    emulator.reset()
    if face_name == PLUGIN:
        face = _plugin_face(emulator, setting)
    else:
        face = _dynamic_face(emulator, setting, latency, floor=face_name == FLOOR)
    run = Run(label, setting, limit, n, face_name)
    try:
        prefix = f"s{setting}-"

        def urn(i: int) -> str:
            return urn_for(face.type_token, f"{prefix}{i}")

        def create_request(i: int) -> Any:
            props = struct_pb2.Struct()
            props.CopyFrom(face.template)
            props.fields["key"].string_value = f"{prefix}{i}"
            return pb.CreateRequest(urn=urn(i), properties=props, type=face.type_token)

        states: list[tuple[str, str, struct_pb2.Struct]] = []

        def read_request(i: int) -> Any:
            rid, urn, outs = states[i]
            return pb.ReadRequest(id=rid, urn=urn, properties=outs, type=face.type_token)

        def delete_request(i: int) -> Any:
            rid, urn, outs = states[i]
            return pb.DeleteRequest(id=rid, urn=urn, properties=outs, type=face.type_token)

        stub = face.stub
        for phase, call, build in (
            ("create", stub.Create, create_request),
            ("refresh", stub.Read, read_request),
            ("delete", stub.Delete, delete_request),
        ):
            emulator.clear_request_log()
            cpu = cpu_seconds(face.pid)
            started = time.perf_counter()
            answers, failed = _drive(call, build, n)
            wall = time.perf_counter() - started
            cpu = cpu_seconds(face.pid) - cpu
            log = emulator.request_log()
            first, after = _throttle_figures(log)
            run.phases[phase] = Phase(
                wall=wall,
                cpu=cpu,
                failed=failed,
                peak=max((e["in_flight"] for e in log), default=0),
                throttled=sum(1 for e in log if e["status"] == 429),
                first_throttle_in_flight=first,
                peak_after_throttle=after,
            )
            if phase == "create":
                states = [
                    (a.id, urn(i), face.view(a.properties))
                    for i, a in enumerate(answers)
                    if a is not None and a.id
                ]
                n_next = len(states)
                if n_next != n:
                    print(f"  ({n - n_next} creates failed; refresh and delete use the {n_next} made)")
            elif phase == "refresh":
                states = [
                    (states[i][0], states[i][1], face.view(a.properties))
                    for i, a in enumerate(answers)
                    if a is not None
                ]
            print(
                f"  {face_name:<8} {label:<28} n={n:<6} {phase:<8} {wall:7.2f} s  in flight"
                f" {n * latency / wall:5.1f}  CPU {cpu:6.1f} s  failed {failed}"
                f"  peak {run.phases[phase].peak}  429s {run.phases[phase].throttled}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        face.close()
    return run


def measure(sizes: Sequence[int], settings: Sequence[int], latency: float, limit: int) -> list[Run]:
    """Every setting, then the limited run, for each size in turn (so a long run gives whole sizes)."""
    runs: list[Run] = []
    emulator = EmulatorProcess("--latency", str(latency))
    limited = EmulatorProcess("--latency", str(latency), "--concurrency-limit", str(limit))
    try:
        for n in sizes:
            for setting in settings:
                label = f"maxConcurrency={setting}" + (" (default)" if setting == DEFAULT_SETTING else "")
                for face in FACES if setting in TARGETS_IN_FLIGHT else (DYNAMIC,):
                    runs.append(run_one(emulator, latency, setting, None, n, label, face))
            label = f"maxConcurrency={LIMITED_SETTING}, limit {limit}"
            runs.append(run_one(limited, latency, LIMITED_SETTING, limit, n, label))
    finally:
        emulator.close()
        limited.close()
    return runs


def _in_flight(run: Run, phase: str, latency: float) -> float:
    return run.n * latency / run.phases[phase].wall


def tables(runs: list[Run], latency: float, limit: int) -> list[Table]:
    rows = []
    for run in runs:
        if run.limit is not None:
            continue
        for phase in PHASES:
            p = run.phases[phase]
            flying = _in_flight(run, phase, latency)
            target = None if run.face == FLOOR else TARGETS_IN_FLIGHT.get(run.setting)
            rows.append(
                [f"{run.n:,}", run.face, run.label, phase, f"{p.wall:.1f}", f"{run.n / p.wall:,.0f}",
                 f"{flying:.1f}", "-" if run.face == FLOOR else str(p.peak),
                 f"{p.cpu:.1f} ({p.cpu / p.wall:.0%})", str(p.failed), f">= {target}" if target else "-",
                 verdict(flying >= target and p.failed == 0) if target else verdict(None)]
            )  # fmt: skip
    main = Table(
        f"Fleet throughput at {latency * 1000:.0f} ms per request (DeviceSecrets)",
        ["items", "face", "setting", "phase", "wall s", "ops/s", "ops in flight", "peak in flight",
         "server CPU s", "failed", "target", "met"],
        rows,
        [
            f"Every API request takes {latency * 1000:.0f} ms in the emulator (`--latency {latency}`), which "
            "runs in its own process; the provider host (`python -m pulumi.dynamic`) is driven over gRPC "
            f"with {ENGINE_CALLS} calls outstanding, as `pulumi up --parallel {ENGINE_CALLS}` would.",
            "ops in flight = items x latency / wall: the average number of operations out at once. "
            "peak in flight = the most API requests the emulator held at once (its request log).",
            "face: `dynamic host` is ours through the dynamic provider host; `plugin` is ours through the "
            "provider plugin `pulumi-resource-microvisor` (its own gRPC server, no event loop per call); "
            "`floor` is benchmarks/wait_provider.py through the dynamic provider host: a provider that "
            f"only waits {latency * 1000:.0f} ms per operation and answers with a DeviceSecret's outputs. "
            "No provider keeps more operations in flight through that host on this machine: the floor "
            "is the ceiling the SDK's own per-call cost leaves.",
            "server CPU = user + system seconds of the host or plugin process in that phase (% of one core).",
            "maxConcurrency=4 is what the SDK's stock host allows (4 gRPC worker threads); 10 is "
            "Terraform's default parallelism; 32 is our default.",
            "Check is not timed: it makes no HTTP call (see the latency table) and the engine runs it "
            "before the create phase.",
        ],
    )  # fmt: skip
    limited_rows = []
    for run in runs:
        if run.limit is None:
            continue
        for phase in PHASES:
            p = run.phases[phase]
            flying = _in_flight(run, phase, latency)
            bound = run.limit + (p.first_throttle_in_flight or 0)
            ok = p.failed == 0 and p.peak <= bound and flying >= LIMITED_TARGET
            limited_rows.append(
                [f"{run.n:,}", phase, f"{p.wall:.1f}", f"{flying:.1f}", str(p.failed), str(p.throttled),
                 str(p.peak), "-" if p.first_throttle_in_flight is None else str(p.first_throttle_in_flight),
                 "-" if p.peak_after_throttle is None else str(p.peak_after_throttle),
                 f">= {LIMITED_TARGET} in flight, 0 failed, peak <= {bound}", verdict(ok)]
            )  # fmt: skip
    limited = Table(
        f"Under Twilio's concurrency limit ({limit} requests, maxConcurrency={LIMITED_SETTING})",
        ["items", "phase", "wall s", "ops in flight", "failed", "429s", "peak in flight",
         "in flight at first 429", "peak after first 429", "target", "met"],
        limited_rows,
        [
            f"The emulator answers 429 (code 20429, Retry-After: 1) to a request arriving while {limit} "
            "others are in flight (`--concurrency-limit`), and does not process it.",
            "in flight at first 429 = requests out (the 429 included) when the first 429 came back; "
            f"the target bound is {limit} + that. peak after first 429 = the most requests the emulator "
            "held at once among those arriving after it: what the adaptive limiter let out.",
        ],
    )  # fmt: skip
    return [main, limited]


def chart(runs: list[Run], latency: float, path: Path) -> str:
    """Draw ops in flight per setting and phase for the largest size; returns a note for the output."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(no chart: install the `bench` extra for matplotlib)"
    n = max(run.n for run in runs)
    chosen = [run for run in runs if run.n == n]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    width = 0.8 / len(PHASES)
    for k, phase in enumerate(PHASES):
        xs = [i + (k - 1) * width for i in range(len(chosen))]
        ax.bar(xs, [_in_flight(run, phase, latency) for run in chosen], width, label=phase)
    for setting, target in TARGETS_IN_FLIGHT.items():
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target at {setting}: {target}")
    ax.set_xticks(range(len(chosen)))
    ax.set_xticklabels(
        [f"{run.face}\n" + run.label.replace(", ", "\n").replace(" (", "\n(") for run in chosen], fontsize=7
    )
    ax.set_ylabel("operations in flight (N x latency / wall)")
    ax.set_title(f"{n:,} DeviceSecrets through one provider host, {latency * 1000:.0f} ms per request")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return f"Chart: {path.name}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100 items at 50 ms: a smoke run of a few seconds"
    )
    parser.add_argument("--sizes", default=None, help="comma-separated item counts (default 1000,10000)")
    parser.add_argument("--settings", default=None, help="maxConcurrency values (default 4,10,32,64)")
    parser.add_argument("--latency", type=float, default=None, help="seconds per request (default 0.15)")
    parser.add_argument("--limit", type=int, default=20, help="the emulator's concurrency limit (default 20)")
    parser.add_argument(
        "--chart", default=None, help=f"PNG to write (default: {CHART.name} on a full run, none with --quick)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("100" if args.quick else "1000,10000")).split(",")]
    settings = [int(s) for s in (args.settings or ",".join(map(str, SETTINGS))).split(",")]
    latency = args.latency if args.latency is not None else (0.05 if args.quick else 0.15)
    started = time.perf_counter()
    runs = measure(sizes, settings, latency, args.limit)
    from benchmarks.__main__ import machine

    print("## Fleet throughput\n")
    print(machine())
    print(
        f"- Command: python -m benchmarks.fleet{' --quick' if args.quick else ''} (sizes "
        f"{','.join(map(str, sizes))}, settings {','.join(map(str, settings))}, latency {latency} s, "
        f"limit {args.limit})\n"
    )
    for table in tables(runs, latency, args.limit):
        print(table.render())
        print()
    if args.chart or not args.quick:
        print(chart(runs, latency, Path(args.chart) if args.chart else CHART))
    print(f"Total run time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

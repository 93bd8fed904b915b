"""Throughput creating DeviceSecrets: many concurrent gRPC Creates on one host vs raw requests, 4 threads.

The SDK's host serves gRPC with a pool of 4 worker threads; ours widens it to twilio:maxConcurrency
(32 by default; benchmarks/fleet.py shows what that does on a slow link). Against the emulator, the
host works through its workers (we keep more Creates in flight than that, as the engine does with
its default parallelism, so a worker never waits for us), the baseline through four threads, each
with its own pooled Session. Only Create is timed: Check is the same floor for both ways of
deploying and is measured in the latency table.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2 as pb

from benchmarks._harness import (
    DEVICE_SIDS,
    TOKENS,
    EmulatorProcess,
    Engine,
    ProviderHost,
    Table,
    drive_bounded,
    engine_view,
    provider_for,
    urn_for,
    verdict,
)

THREADS = 4  # the SDK host's stock ThreadPoolExecutor(max_workers=4)
IN_FLIGHT = 32  # more than the host's workers, so its queue never runs dry
TARGET_RATIO = 0.9
LINEAR_LIMIT = 1.2  # per-item time at the largest size over the smallest: above this is not linear
VALUE = "c2VjcmV0LXRva2VuLWZvci1kZXZpY2UtMDEyMzQ1Njc4OWFi"


def _host_run(engine: Engine, prefix: str, n: int) -> float:
    """Seconds to create n DeviceSecrets through the host with IN_FLIGHT concurrent Creates."""
    checked = engine.check({"device_sid": DEVICE_SIDS[0], "key": "template", "value": VALUE}).inputs
    template = engine_view(checked)

    def requests() -> Iterator[Any]:
        # Built one at a time (a Struct copy: microseconds), so no list of n requests is kept.
        for i in range(n):
            props = struct_pb2.Struct()
            props.CopyFrom(template)
            props.fields["key"].string_value = f"{prefix}{i}"
            yield pb.CreateRequest(urn=urn_for(engine.type_token, f"{prefix}{i}"), properties=props)

    started = time.perf_counter()
    drive_bounded(requests(), engine.stub.Create.future, IN_FLIGHT)
    return time.perf_counter() - started


def _raw_run(emulator: EmulatorProcess, prefix: str, n: int) -> float:
    """Seconds to create n DeviceSecrets with THREADS threads, each with its own warm Session."""
    url = f"{emulator.url}/v1/Devices/{DEVICE_SIDS[0]}/Secrets"
    sessions = [emulator.session() for _ in range(THREADS)]
    for session in sessions:
        session.get(f"{emulator.url}/v1/Devices/{DEVICE_SIDS[0]}").raise_for_status()  # open the connection
    failures: list[int] = []

    def work(t: int) -> None:
        session = sessions[t]
        for i in range(t, n, THREADS):
            response = session.post(url, data={"Key": f"{prefix}{i}", "Value": VALUE})
            if response.status_code != 201:
                failures.append(response.status_code)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for session in sessions:
        session.close()
    assert not failures, failures[:5]
    return elapsed


def measure(
    emulator: EmulatorProcess, host: ProviderHost, sizes: list[int], repeats: int = 3
) -> dict[str, Any]:
    ours = Engine(host, provider_for("DeviceSecret"), TOKENS["DeviceSecret"])
    bare = Engine(host, provider_for("RawHttpSecret"), TOKENS["RawHttpSecret"])
    for n, engine in enumerate((ours, bare)):  # device lookup, provider cache, connection pools
        engine.create({"device_sid": DEVICE_SIDS[0], "key": f"warm-up-{n}", "value": VALUE})
    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        # Small runs are over in a second: repeat them and keep the median, so one hiccup cannot decide.
        runs = repeats if n < 5000 else 1
        times: dict[str, list[float]] = {"host": [], "bare": [], "raw": []}
        for r in range(runs):
            # Every run starts from an empty table, so all three ways insert into the same sizes.
            emulator.reset()
            times["raw"].append(_raw_run(emulator, f"raw{n}-{r}-", n))
            emulator.reset()
            times["host"].append(_host_run(ours, f"host{n}-{r}-", n))
            emulator.reset()
            times["bare"].append(_host_run(bare, f"bare{n}-{r}-", n))
        results[n] = {way: statistics.median(t) for way, t in times.items()}
    emulator.reset()
    return {"sizes": sizes, "results": results}


def table(result: dict[str, Any], cpus: int) -> Table:
    sizes: list[int] = result["sizes"]
    results: dict[int, dict[str, float]] = result["results"]
    rows = []

    def cell(n: int, seconds: float) -> str:
        return f"{seconds:.2f} s ({n / seconds:,.0f}/s, {seconds / n * 1000:.2f} ms/item)"

    for n in sizes:
        host, bare, raw = results[n]["host"], results[n]["bare"], results[n]["raw"]
        ratio, own = raw / host, bare / host  # throughput ratios: our items/s over theirs
        rows.append(
            [f"{n:,}", cell(n, host), cell(n, bare), cell(n, raw), f"{ratio:.2f}", f"{own:.2f}",
             f">= {TARGET_RATIO}", f"{verdict(ratio >= TARGET_RATIO)} / {verdict(own >= TARGET_RATIO)}"]
        )  # fmt: skip
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        for way, label in (("host", "ours"), ("bare", "bare in host"), ("raw", "raw")):
            growth = (results[large][way] / large) / (results[small][way] / small)
            rows.append(
                [f"growth {small:,} -> {large:,} ({label})", f"per-item time x{growth:.2f}", "", "", "", "",
                 f"linear: <= x{LINEAR_LIMIT}", verdict(growth <= LINEAR_LIMIT)]
            )  # fmt: skip
    return Table(
        "Throughput creating DeviceSecrets",
        ["items", "ours through the host", "bare requests in host", f"raw requests, {THREADS} threads",
         "ours / raw", "ours / bare", "target", "met"],
        rows,
        [
            f"ours / bare: {IN_FLIGHT} concurrent gRPC Creates against one host (32 workers), with "
            "DeviceSecretProvider / with benchmarks/raw_provider.py (the same POST, bare requests). raw: "
            f"{THREADS} threads in this process with a pooled Session each. Ratios compare items per second "
            "(>= 0.9 wanted); met = ours/raw target / ours/bare target.",
            "Emulator state is reset before every run; runs under 5,000 items are repeated (median).",
            f"This machine has {cpus} CPU(s) for three busy processes (this driver, the host, the "
            "emulator): the host way spends CPU on gRPC and (de)serialization that the raw way does "
            "not, so with few cores the ratio measures CPU cost as much as concurrency.",
            "growth = per-item time at the largest size / at the smallest; 1.00 is perfectly linear.",
        ],
    )  # fmt: skip

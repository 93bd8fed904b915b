"""``python -m benchmarks [--quick] [--sizes 1000,10000]``: measure and print every figure in one run.

Everything runs against the emulator on loopback, in its own process, and through the real provider
host (``python -m pulumi.dynamic``) driven over gRPC as the Pulumi engine drives it. The output is
Markdown, ready to paste into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata

from benchmarks import calls, cold_start, latency, throughput
from benchmarks._harness import EmulatorProcess, running


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sorted(sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations and small sizes: a smoke run")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="DeviceSecrets to create per throughput run (default 1000,10000)",
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help="latency samples per operation (default 300)"
    )
    parser.add_argument("--cold-runs", type=int, default=None, help="cold-start runs per side (default 7)")
    return parser


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine() -> str:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("pulumi", "grpcio", "requests", "urllib3")
    )
    return (
        f"- Machine: {_cpus()} CPU(s) usable (nproc), {_cpu_model()}, "
        f"{platform.system()} {platform.release()}\n"
        f"- Python {platform.python_version()} ({sys.executable}); {versions}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ([100, 400] if quick else [1000, 10000])
    iterations = args.iterations or (20 if quick else 300)
    warmup = 3 if quick else 20
    cold_runs = args.cold_runs or (2 if quick else 7)
    started = time.perf_counter()

    print("## Benchmark results\n")
    print(machine())
    print(
        f"- Command: python -m benchmarks{' --quick' if quick else ''} (sizes {','.join(map(str, sizes))}, "
        f"{iterations} latency iterations, {cold_runs} cold-start runs)\n"
    )
    sys.stdout.flush()

    # Cold start first, with the machine quiet: no emulator or host running beside it.
    cold = cold_start.measure(cold_runs)

    emulator = EmulatorProcess()
    try:
        # A host of its own: call counts must see the first create of a device (cold device cache).
        with running(emulator) as (emu, host):
            counted = calls.measure(emu, host)
        with running(emulator) as (emu, host):
            lat = latency.measure(emu, host, iterations, warmup)
        with running(emulator) as (emu, host):
            thr = throughput.measure(emu, host, sizes, repeats=1 if quick else 3)
    finally:
        emulator.close()

    for table in (
        latency.table(lat, iterations),
        calls.calls_table(counted),
        calls.sizes_table(counted),
        throughput.table(thr, _cpus()),
        cold_start.table(cold),
    ):
        print(table.render())
        print()
    print(f"Total run time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

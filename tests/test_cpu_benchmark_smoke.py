"""`python -m benchmarks.cpu` runs end to end (--quick, 10 ms per request) and prints every row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cpu_quick_run_prints_every_operation_at_every_level() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu", "--quick", "--latency", "0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "### Host CPU per operation (ms; DeviceConfig)" in out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    for op in ("check", "create", "read", "update", "delete"):
        cells = [c.strip() for c in rows[op].strip().strip("|").split("|")]
        assert len(cells) == 7, rows[op]
        # Every figure is a number of milliseconds: ours with its difference to the null provider.
        for cell in cells[1:4]:
            ours, diff = cell.split(" (")
            assert float(ours) > 0 and diff.endswith(")") and float(diff[:-1]) == float(diff[:-1])
        for cell in cells[4:]:
            assert float(cell) > 0

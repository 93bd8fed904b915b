"""`python -m benchmarks --quick` runs end to end and prints every table with every row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "### Latency per operation (ms)": [
        "| check ",
        "| diff ",
        "| create ",
        "| read ",
        "| update ",
        "| delete ",
    ],
    "### HTTP calls per operation": [
        "| create ",
        "| create (first of its device in the host) ",
        "| read ",
        "| read (first of its device in the host) ",
        "| update ",
        "| replace ",
        "| preview ",
        "| delete ",
    ],
    "### State size per resource (bytes)": [
        "| AccountConfig ",
        "| DeviceConfig ",
        "| AccountSecret ",
        "| DeviceSecret ",
        "| ApiKey ",
    ],
    "### Throughput creating DeviceSecrets": ["| 10 ", "| 30 ", "| growth 10 -> 30 (ours) "],
    "### Provider host cold start": [
        "| python -c imports ",
        "| host start to first Check ",
        "| for scale: `import urllib3` (at first HTTP call) ",
    ],
}


def test_quick_run_prints_every_table_and_row() -> None:
    done = subprocess.run(
        # --quick with the smallest sizes that still print every row: the figures are not the point.
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--sizes",
            "10,30",
            "--iterations",
            "3",
            "--cold-runs",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "- Machine:" in out and "pulumi 3." in out
    for title, rows in EXPECTED.items():
        assert title in out, title
        section = out.split(title, 1)[1].split("### ", 1)[0]
        for row in rows:
            assert row in section, f"{title}: no row {row!r}"
        assert "nan" not in section, f"{title}: a figure is missing"

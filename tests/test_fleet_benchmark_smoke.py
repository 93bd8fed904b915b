"""`python -m benchmarks.fleet` runs end to end (a tiny variant of --quick) and prints both tables whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fleet_quick_run_prints_every_row_with_no_failed_operation() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", "--quick", "--sizes", "40", "--settings", "4,32"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "### Fleet throughput at 50 ms per request (DeviceSecrets)" in out
    assert "### Under Twilio's concurrency limit (20 requests, maxConcurrency=32)" in out
    rows = [line for line in out.splitlines() if line.startswith("| 40 ")]
    assert len(rows) == 3 * 2 + 3  # create/refresh/delete for each setting, then the limited run
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        failed = cells[8] if len(cells) == 11 and cells[1].startswith("maxConcurrency") else cells[4]
        assert failed == "0", row
    # The stock setting never has more than 4 requests out; ours goes beyond it.
    stock = [r for r in rows if "maxConcurrency=4 " in r]
    assert stock and all(r.split("|")[7].strip() == "4" for r in stock)

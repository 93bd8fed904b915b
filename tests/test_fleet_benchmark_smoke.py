"""`python -m benchmarks.fleet` runs end to end (a tiny variant of --quick) and prints both tables whole:
every face (ours through the dynamic host, the plugin, the waiting floor) at the setting with a target."""

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
    main = [r for r in rows if len(r.strip("|").split("|")) == 12]
    limited = [r for r in rows if len(r.strip("|").split("|")) == 11]
    # create/refresh/delete: ours at 4; ours, the plugin and the floor at 32; then the limited run.
    assert len(main) == 3 * (1 + 3) and len(limited) == 3
    faces = [c.strip() for r in main for c in [r.strip("|").split("|")[1]]]
    assert faces.count("dynamic host") == 6 and faces.count("plugin") == 3 and faces.count("floor") == 3
    for row in main:
        assert row.strip("|").split("|")[9].strip() == "0", row
    for row in limited:
        assert row.strip("|").split("|")[4].strip() == "0", row
    # The stock setting never has more than 4 requests out; ours goes beyond it.
    stock = [r for r in main if "maxConcurrency=4 " in r]
    assert stock and all(r.strip("|").split("|")[7].strip() == "4" for r in stock)

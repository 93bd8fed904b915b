"""The plugin benchmark runs end to end at a tiny size: every row prints (not the figures)."""

from __future__ import annotations

import pytest

from benchmarks import plugin


def test_plugin_benchmark_prints_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert plugin.main(["-n", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "creates/s" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["dynamic provider host", "provider plugin"]
    assert all(" ms" in row.split("|")[7] for row in rows)

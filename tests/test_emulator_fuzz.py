"""The emulator under Schemathesis: requests generated from Twilio's own specs (tests/specs/).

One bounded, seeded run per spec (Microvisor, API v2010 Keys, IAM Keys), each a few hundred cases
through every phase (examples, coverage, fuzzing, stateful), against an emulator of its own. Every
run must end with no failed check: no 5xx, no response that breaks the response schema, no wrong
answer to an undeclared method, no ignored auth, no accepted invalid data. On top of Schemathesis'
own schema check, every response also goes through the suite's stricter validator (tests/_openapi.py:
no undeclared fields, Twilio's error shape).

Two checks are left out, because Twilio's specs cannot satisfy them: they document success codes
only, and none of the rules the API enforces.
- ``status_code_conformance``: every 400, 404, 405 or 409 Twilio answers is "undocumented".
- ``positive_data_acceptance``: the specs do not carry Twilio's rules (Key at most 100 characters,
  Value at most 4096, a Value required on update, unique device names, the PageToken format, a key
  that already exists), so a schema-valid request that breaks one is rightly refused with 400/409.

Nor does it send query parameters the spec does not declare (``generation.allow-extra-parameters``
off): Twilio ignores unknown query parameters, so ``negative_data_rejection`` would count each such
request that Twilio, and so the emulator, rightly answers 200. The check itself stays on, for all the
invalid data the specs do describe (a missing Key, a Value of the wrong type, a bad PageSize).

The CLI runs in a subprocess: it is Schemathesis' supported way to run all four phases with one
case budget, and its JSON report gives the counts asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _openapi import SpecValidator

from microvisor_pulumi.emulator import Emulator

SPECS = Path(__file__).parent / "specs"
EXCLUDED_CHECKS = ("status_code_conformance", "positive_data_acceptance")
SEED = 20261123

# spec file, the operations the emulator implements, max examples per operation (the coverage and
# stateful phases add their own cases: with seed 20261123 these give about 520, 230 and 250 cases,
# a few seconds each).
RUNS = [
    pytest.param("twilio_microvisor_v1.json", r"^/v1/(Configs|Secrets|Devices)", 5, id="microvisor"),
    pytest.param(
        "twilio_api_v2010_keys.json", r"^/2010-04-01/Accounts/\{AccountSid\}/Keys", 20, id="v2010-keys"
    ),
    pytest.param("twilio_iam_v1.json", r"^/v1/Keys", 20, id="iam-keys"),
]


def _schemathesis() -> str:
    exe = Path(sys.executable).parent / "schemathesis"
    found = str(exe) if exe.is_file() else shutil.which("schemathesis")
    assert found, "schemathesis is missing: it is in the test extra (pip install -e '.[test]')"
    return found


@pytest.mark.parametrize(("spec", "paths", "max_examples"), RUNS)
def test_fuzzing_from_twilio_spec_finds_nothing(tmp_path, spec, paths, max_examples):
    validator = SpecValidator()
    emu = Emulator(observer=validator.observe).start()
    report_path = tmp_path / "report.json"
    config = tmp_path / "schemathesis.toml"
    config.write_text("[generation]\nallow-extra-parameters = false\n")
    try:
        run = subprocess.run(
            [
                _schemathesis(),
                "--config-file",
                str(config),
                "run",
                str(SPECS / spec),
                "--url",
                emu.url,
                "--auth",
                f"{emu.account_sid}:{emu.auth_token}",
                "--include-path-regex",
                paths,
                "--exclude-checks",
                ",".join(EXCLUDED_CHECKS),
                "--max-examples",
                str(max_examples),
                "--seed",
                str(SEED),
                "--workers",
                "1",  # one worker: the same seed gives the same cases in the same order
                "--generation-database",
                "none",  # no replay of earlier runs' failures: each run is the same run
                "--request-timeout",
                "10",
                "--report",
                "json",
                "--report-json-path",
                str(report_path),
                "--no-color",
            ],
            cwd=tmp_path,  # only our config file is read; reports stay in tmp
            capture_output=True,
            text=True,
            timeout=120,  # the bound: a run takes seconds (--max-time would fuzz until it is spent)
        )
    finally:
        emu.stop()
    assert report_path.is_file(), run.stdout[-4000:] + run.stderr[-2000:]
    report: dict[str, Any] = json.loads(report_path.read_text())
    failures = [(f["code"], f["title"], f["count"], f["operations"]) for f in report["failures"]]
    assert failures == [], run.stdout[-8000:]
    assert report["errors"] == [], run.stdout[-8000:]
    assert report["exit_code"] == 0 and run.returncode == 0, run.stdout[-8000:]
    assert report["complete"] and report["stop_reason"] == "completed", report["stop_reason"]
    # Bounded and real: every selected operation was tested, with a few hundred cases in all.
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0
    assert 150 <= report["test_cases"]["generated"] <= 2000, report["test_cases"]
    phases = {name: (p["status"], p["skip_reason"]) for name, p in report["phases"].items()}
    # Stateful testing needs links between operations, which it infers for Microvisor only.
    stateful = ("success", None) if spec == "twilio_microvisor_v1.json" else ("skip", "not_applicable")
    assert phases == {
        "examples": ("success", None),
        "coverage": ("success", None),
        "fuzzing": ("success", None),
        "stateful": stateful,
    }
    # The emulator saw the traffic, and every response meets the suite's stricter reading of the spec.
    assert validator.checked >= 150, validator.checked
    assert not validator.violations, validator.report()

#!/usr/bin/env bash
# Install the package with its test extra into .venv, lint and type-check it, run the whole suite.
# Needs only Python 3.10+ and pip: no Pulumi CLI, no Twilio account, no network beyond PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The suite starts some 80 Python processes (provider hosts, the emulator's command line, the demo,
# Schemathesis): let them share compiled bytecode even where the environment turns it off.
unset PYTHONDONTWRITEBYTECODE
# Four workers (pytest-xdist) stealing work from each other: much of the suite waits on retry
# back-offs, read timeouts and emulator delays, so four processes keep this 2-core machine busy
# (about 65 s of pytest wall time on 2 cores). Arguments come after: `-n 0` runs it in one
# process.
exec .venv/bin/python -m pytest -n 4 --dist worksteal "$@"

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
# Two workers (pytest-xdist): most of the suite waits on retry back-offs and emulator delays, so a
# second process halves the wall time on this 2-core machine. Arguments come after: `-n 0` runs it
# in one process, `-n 4` with more workers.
exec .venv/bin/python -m pytest -n 2 "$@"

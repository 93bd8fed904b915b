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
exec .venv/bin/python -m pytest "$@"

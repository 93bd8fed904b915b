#!/usr/bin/env bash
# Deploy the demo fleet stack (Pulumi.yaml -> examples/fleet/) against the local Twilio emulator.
# Needs Python 3.10+; without a Pulumi CLI it installs a pinned one into .pulumi-cli/ (a download,
# once). No Twilio account, no Pulumi Cloud login.
#   bash scripts/demo.sh            # deploy (again) and print the outputs
#   bash scripts/demo.sh --destroy  # tear the stack down
# The steps live in scripts/demo.py, where they are tested; this wrapper only prepares .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet -e .
# exec: signals (Ctrl-C, SIGTERM) go straight to the driver, which always stops the emulator.
exec .venv/bin/python scripts/demo.py "$@"

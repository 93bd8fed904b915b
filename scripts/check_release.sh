#!/usr/bin/env bash
# Check the release as users receive it: build the sdist and the wheel, check their metadata
# (twine check --strict), check what the wheel carries, then install the wheel (not editable) into
# a fresh virtualenv and run the example programs' mock tests against that install.
# Run by CI (.ci/run) after scripts/test.sh, whose .venv provides build and twine (the test extra).
# Nothing is kept: everything is built and installed in a temporary directory. pip's cache is
# reused, so a second run installs without downloading.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || { echo "run bash scripts/test.sh first (it creates .venv)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

.venv/bin/python -m build --sdist --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
.venv/bin/twine check --strict "$work"/dist/*
wheels=("$work"/dist/*.whl)
sdists=("$work"/dist/*.tar.gz)
.venv/bin/python scripts/check_dist.py "${wheels[0]}" "${sdists[0]}"
echo "built and checked in $((SECONDS - started)) s"

# A fresh virtualenv with the wheel and only what the example tests import beside it: pytest,
# openapi-core (every emulator response is validated against the specs), pyyaml and requests (the
# tests' own client of the emulator; the package itself no longer needs it).
# .venv's pip installs into it (--python), which spares the new venv a pip of its own.
"$PY" -m venv --without-pip "$work/venv"
.venv/bin/python -m pip --python "$work/venv/bin/python" install --quiet \
    "${wheels[0]}" pytest 'openapi-core>=0.19' pyyaml requests
echo "fresh virtualenv with the wheel installed in $((SECONDS - started)) s"

# The tests and the programs they load, copied where no checkout's microvisor_pulumi/ can shadow
# the installed one; -I keeps the working directory and PYTHON* variables off sys.path.
mkdir "$work/src"
cp -R tests examples Pulumi.yaml "$work/src/"
cd "$work/src"
"$work/venv/bin/python" -I -c '
import sys, microvisor_pulumi, microvisor_pulumi.emulator
where = microvisor_pulumi.__file__
assert where.startswith(sys.prefix) and "site-packages" in where, where
print("testing the installed package:", where)
'
"$work/venv/bin/python" -I -m pytest -q -p no:cacheprovider tests/test_examples.py
echo "release checked in $((SECONDS - started)) s"

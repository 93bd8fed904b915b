"""Run the inventory command in-process against an emulator, and run the program it writes under
mocks, as `pulumi up` would: shared by the single-stack (tests/test_inventory.py) and the sharded
layout's tests (tests/test_shards.py, tests/test_adversary_shards.py, tests/_shards.py)."""

from __future__ import annotations

import io
import runpy
from pathlib import Path

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor

from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.inventory.cli import main


def inventory_env(emu: Emulator) -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": emu.account_sid, "TWILIO_AUTH_TOKEN": emu.auth_token}


def run_inventory(emu: Emulator, out: Path, *extra: str) -> tuple[int, str, str]:
    """`inventory --out OUT --endpoint <emulator> EXTRA...`: its exit code, stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    rc = main(
        ["--out", str(out), "--endpoint", emu.url, *extra],
        environ=inventory_env(emu),
        stdin=io.StringIO(),
        stdout=stdout,
        stderr=stderr,
    )
    return rc, stdout.getvalue(), stderr.getvalue()


def run_program(
    folder: Path,
    mocks: pulumi.runtime.Mocks,
    config: dict[str, str],
    *,
    stack: str = "dev",
    monitor: MockMonitor | None = None,
) -> None:
    """Run the folder's __main__.py as `pulumi up -s STACK` would, with ``config`` as secret stack config."""
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())["name"]
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    full = {f"{project}:{k}": v for k, v in config.items()}
    pulumi.runtime.set_all_config(full, list(full))

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(folder / "__main__.py"), run_name="__main__")

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({}, [])

"""``python -m benchmarks.shards [--devices N] [--devices-per-stack N]``: a fleet in shards, its checkpoints.

1. Seeds an emulator with a demo fleet (3 Configs and 3 Secrets per device, 2 account Configs and an
   account Secret), runs ``microvisor-pulumi inventory --devices-per-stack``, and deploys every
   stack's program through the real provider host (tests/_shards.py: one state per stack), then a
   second ``up`` of each, counting HTTP calls.
2. Writes each stack's checkpoint as the file backend would (``apitype.CheckpointV3`` of
   ``ResourceV3`` records, 4-space indented JSON as ``encoding.JSON`` marshals it, secrets
   encrypted with AES-256-GCM as ``v1:<nonce>:<ciphertext>`` like the passphrase secrets manager)
   and measures the bytes of one resource of each kind: the dynamic face (``__provider`` in inputs
   and outputs, as secrets) and a model of the provider-plugin face (no ``__provider``, a
   ``microvisor:index:<Kind>`` type and a versioned provider reference).
3. Prints the cost of a first ``up`` on the file backend: 2 whole-checkpoint saves per step.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from benchmarks._harness import ROOT, ProviderHost, Table, from_struct
from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.emulator.fleet import fleet_devices, seed_fleet
from microvisor_pulumi.inventory import shards
from microvisor_pulumi.inventory.cli import main as inventory_main

if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
from _shards import ShardMocks  # noqa: E402 - tests/ is on the path from here on

SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
KINDS = ("AccountConfig", "AccountSecret", "DeviceConfig", "DeviceSecret")
CREATED = "2026-11-27T07:12:15.123456789Z"
# What a real project's frames look like once the engine makes them project-relative: the program,
# then the SDK inside the project's virtualenv (`virtualenv: venv` in Pulumi.yaml).
VENV_SITE = "venv/lib/python3.12/site-packages/"


class Crypter:
    """The passphrase secrets manager's symmetric crypter (sdk/go/common/resource/config/crypt.go)."""

    def __init__(self) -> None:
        self.aead = AESGCM(os.urandom(32))

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, plaintext.encode(), None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def secret(self, value: Any) -> dict[str, str]:
        # SerializePropertyValue: the element's JSON (encoding/json, compact) is what gets encrypted.
        plaintext = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return {SECRET_SIG[0]: SECRET_SIG[1], "ciphertext": self.encrypt(plaintext)}


def _frame(uri: str, line: int, folder: Path) -> dict[str, str]:
    """A frame as the engine stores it: its path relative to the project folder (filepath.Rel).

    This run's packages live outside the project; in a real one they sit in the project's
    virtualenv (our package included) and the standard library a few folders up.
    """
    path = Path(uri.removeprefix("file://"))
    parts = path.parts
    if path.is_relative_to(folder):
        rel = path.relative_to(folder).as_posix()
    elif "site-packages" in parts:
        rel = VENV_SITE + "/".join(parts[parts.index("site-packages") + 1 :])
    elif path.is_relative_to(ROOT):
        rel = VENV_SITE + path.relative_to(ROOT).as_posix()
    else:
        lib = next((i for i, part in enumerate(parts) if part.startswith("python3.")), len(parts) - 1)
        rel = "../../usr/lib/python3.12/" + "/".join(parts[lib + 1 :])
    return {"sourcePosition": f"project:///{rel}#{line}"}


def resource_v3(
    crypter: Crypter,
    stack: str,
    project: str,
    type_token: str,
    name: str,
    rid: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    secret_inputs: set[str],
    secret_outputs: set[str],
    provider_ref: str,
    frames: list[dict[str, str]],
) -> dict[str, Any]:
    """One ``apitype.ResourceV3`` as the engine saves it (empty fields omitted, as ``omitempty`` does)."""

    def props(values: dict[str, Any], secret: set[str]) -> dict[str, Any]:
        return {k: crypter.secret(v) if k in secret else v for k, v in sorted(values.items())}

    record: dict[str, Any] = {
        "urn": shards.urn(stack, project, type_token, name),
        "custom": True,
        "id": rid,
        "type": type_token,
        "inputs": props(inputs, secret_inputs),
        "outputs": props(outputs, secret_outputs),
        "parent": f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}",
        "provider": provider_ref,
        "propertyDependencies": {k: [] for k in sorted(inputs)},
        "created": CREATED,
        "modified": CREATED,
    }
    if secret_outputs - secret_inputs:
        record["additionalSecretOutputs"] = sorted(secret_outputs - secret_inputs)
    if frames:
        record["sourcePosition"] = frames[0]["sourcePosition"]
        record["stackTrace"] = frames
    return record


def checkpoint(stack: str, project: str, resources: list[dict[str, Any]], crypter: Crypter) -> str:
    """A whole ``CheckpointV3`` file, marshalled as the file backend does (4-space indent)."""
    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    head = [{"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack", "created": CREATED,
             "modified": CREATED}]  # fmt: skip
    body = {
        "version": 3,
        "checkpoint": {
            "stack": f"organization/{project}/{stack}",
            "latest": {
                "manifest": {"time": CREATED, "magic": "0" * 64, "version": "v3.259.0"},
                "secrets_providers": {"type": "passphrase", "state": {"salt": crypter.encrypt("pulumi")}},
                "resources": head + resources,
            },
        },
    }
    return json.dumps(body, indent=4, ensure_ascii=False) + "\n"


def stack_records(
    mocks: ShardMocks, stack: str, project: str, folder: Path, crypter: Crypter, face: str
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, ResourceV3) for every resource the stack holds, in the dynamic face or the plugin model."""
    out = []
    if face == "dynamic":
        provider_ref = (
            f"urn:pulumi:{stack}::{project}::pulumi:providers:pulumi-python::default"
            "::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
        )
    else:
        provider_ref = (
            f"urn:pulumi:{stack}::{project}::pulumi:providers:microvisor::default_0_9_0"
            "::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
        )
    for (type_token, name), state in mocks.states.get(stack, {}).items():
        kind = type_token.rsplit(":", 1)[1]
        reg = mocks.registrations.get((stack, name), {})
        inputs = {k: _plain(v) for k, v in from_struct(state.inputs).items()}
        outputs = {k: _plain(v) for k, v in from_struct(state.outputs).items()}
        secret_in = {"value"} if kind.endswith("Secret") else set()
        # The engine marks an output secret when its input was (the host does not accept secrets),
        # plus the resource's additional secret outputs.
        secret_out = secret_in | set(reg.get("secret_outputs", []))
        if face == "dynamic":
            secret_in, secret_out = secret_in | {"__provider"}, secret_out | {"__provider"}
            token = type_token
        else:
            inputs.pop("__provider", None)
            outputs.pop("__provider", None)
            token = f"microvisor:index:{kind}"
        frames = [_frame(uri, line, folder) for uri, line in reg.get("stack_trace", [])]
        record = resource_v3(
            crypter, stack, project, token, name, state.id, inputs, outputs, secret_in, secret_out,
            provider_ref, frames,
        )  # fmt: skip
        out.append((kind, record))
    return out


def _plain(value: Any) -> Any:
    from pulumi.runtime import rpc

    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def per_kind_bytes(records: list[tuple[str, dict[str, Any]]], stack: str, project: str) -> dict[str, float]:
    """Bytes one resource of each kind adds to the indented checkpoint (its marginal size)."""
    crypter = Crypter()
    empty = len(checkpoint(stack, project, [], crypter).encode())
    sizes: dict[str, list[int]] = {}
    for kind, record in records:
        one = len(checkpoint(stack, project, [record], crypter).encode()) - empty
        sizes.setdefault(kind, []).append(one)
    return {kind: sum(v) / len(v) for kind, v in sizes.items()}


def first_up_bytes(n: int, per_resource: float, base: int) -> float:
    """A first `up` of n resources on the file backend: each step saves the whole file twice."""
    return sum(2 * (base + i * per_resource) for i in range(1, n + 1))


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} TB"


def run(devices: int, per_stack: int) -> list[Table]:
    fleet = fleet_devices(devices)
    emu = Emulator(devices=fleet, page_size=1000).start()
    host = None
    try:
        seed_fleet(emu.store, fleet)
        with tempfile.TemporaryDirectory(prefix="mvp-shards-") as tmp:
            folder = Path(tmp) / "fleet"
            started = time.perf_counter()
            rc = inventory_main(
                [
                    "--out",
                    str(folder),
                    "--endpoint",
                    emu.url,
                    "--devices-per-stack",
                    str(per_stack),
                    "--quiet",
                ],
                environ={"TWILIO_ACCOUNT_SID": emu.account_sid, "TWILIO_AUTH_TOKEN": emu.auth_token},
                stdin=io.StringIO(),
                stdout=io.StringIO(),
                stderr=sys.stderr,
            )
            if rc != 0:
                raise RuntimeError(f"inventory failed with {rc}")
            inventory_s = time.perf_counter() - started
            host = ProviderHost()
            host.configure(
                {"twilio:accountSid": emu.account_sid, "twilio:authToken": emu.auth_token,
                 "twilio:endpoint": emu.url, "twilio:maxConcurrency": "32"}
            )  # fmt: skip
            mocks = ShardMocks(host)
            stacks = list(shards.read_stacks(folder))
            rows, dynamic_records, plugin_records = [], [], []
            owners: dict[str, str] = {}
            for stack in stacks:
                data = shards.load_stack(stack, folder)
                for sid in data.devices:
                    owners[sid] = stack
                names = list(data.account_secrets.values())
                for device in data.devices.values():
                    names += device["secrets"].values()
                config = {name: f"value-of:{name}" for name in names}
                emu.clear_request_log()
                started = time.perf_counter()
                first = mocks.up(folder, stack, config)
                first_s, first_calls = time.perf_counter() - started, len(emu.request_log())
                emu.clear_request_log()
                second = mocks.up(folder, stack, config)
                second_calls = len(emu.request_log())
                crypter = Crypter()
                records = stack_records(mocks, stack, "fleet", folder, crypter, "dynamic")
                dynamic_records += records
                plugin_records += stack_records(mocks, stack, "fleet", folder, crypter, "plugin")
                size = len(checkpoint(stack, "fleet", [r for _, r in records], crypter).encode())
                creates = sum(step == "create" for _, step in first)
                sames = sum(step == "same" for _, step in second)
                rows.append([stack, str(len(data.devices)), str(len(first)), str(creates),
                             str(first_calls), f"{first_s:.1f}", str(second_calls),
                             f"{sames}/{len(second)}", human(size)])  # fmt: skip
            assert sorted(owners) == sorted(sid for sid, _ in fleet), "the shards are not exactly the fleet"
    finally:
        if host is not None:
            host.close()
        emu.stop()

    deploy = Table(
        f"{devices:,} devices in shards of at most {per_stack} (inventory {inventory_s:.1f} s)",
        ["stack", "devices", "resources", "created", "HTTP calls", "first up (s)", "2nd up calls",
         "2nd up same", "checkpoint"],
        rows,
        [
            "Every stack deployed through the real provider host (tests/_shards.py), one state per stack; "
            "the devices of all shards are exactly the fleet, each once.",
            "checkpoint = the stack's whole file as the file backend writes it (dynamic face).",
        ],
    )  # fmt: skip
    dyn = per_kind_bytes(dynamic_records, "shard-000", "fleet")
    untraced = [(k, {f: v for f, v in r.items() if f not in ("stackTrace", "sourcePosition")})
                for k, r in dynamic_records]  # fmt: skip
    no_trace = per_kind_bytes(untraced, "shard-000", "fleet")
    plug = per_kind_bytes(plugin_records, "shard-000", "fleet")
    per_device_dyn = 3 * dyn["DeviceConfig"] + 3 * dyn["DeviceSecret"]
    per_device_plug = 3 * plug["DeviceConfig"] + 3 * plug["DeviceSecret"]
    kinds = Table(
        "Checkpoint bytes per resource",
        ["kind", "dynamic face (__provider)", "of it, the stack trace", "plugin face (modelled)"],
        [[k, f"{dyn[k]:.0f}", f"{dyn[k] - no_trace[k]:.0f}", f"{plug[k]:.0f}"] for k in KINDS]
        + [
            [
                "one demo device (3 Configs + 3 Secrets)",
                f"{per_device_dyn:.0f}",
                f"{per_device_dyn - 3 * (no_trace['DeviceConfig'] + no_trace['DeviceSecret']):.0f}",
                f"{per_device_plug:.0f}",
            ]
        ],  # fmt: skip
        [
            "Marginal bytes one resource adds to a 4-space indented CheckpointV3 (the file backend's "
            "encoding), averaged over the fleet; secrets encrypted as the passphrase manager does "
            "(AES-256-GCM, v1:nonce:ciphertext, ~4/3 of the JSON value plus 70 bytes).",
            "Dynamic: __provider is a secret in inputs and outputs; the stack trace is the one the SDK sent "
            "at registration, made project-relative as the engine does.",
            "Plugin face: the same resources without __provider, typed microvisor:index:<Kind> with a "
            "versioned provider reference: a model, not a measurement of the plugin being built.",
            "The stack trace is every frame the Python SDK sends at registration (here 15: the program, "
            "our resource classes, the SDK and this harness, much as under the language host), each "
            "stored as an indented object; it is about half of a resource.",
        ],
    )
    avg = (2 * dyn["AccountConfig"] + dyn["AccountSecret"] + devices * per_device_dyn) / (3 + devices * 6)
    base = 600
    cost_rows = []
    for n in (100, 300, 500, 1_000, 2_000, 5_000, 10_000, 50_000):
        written = first_up_bytes(n, avg, base)
        final = base + n * avg
        cost_rows.append([f"{n:,}", f"{math.ceil(n / 6):,}", human(final), f"{2 * n:,}", human(written),
                          human(final), human(2 * n * avg)])  # fmt: skip
    cost = Table(
        "First `up` of one stack: bytes written",
        ["resources in the stack", "demo devices", "final checkpoint", "whole-file saves",
         "file backend", "with PULUMI_SKIP_CHECKPOINTS", "Pulumi Cloud journal (estimate)"],
        cost_rows,
        [
            f"{avg:.0f} bytes per resource (this fleet's average, dynamic face). File backend: two saves of "
            "the whole file per creating step, each after copying the old file to .bak (not counted).",
            "PULUMI_SKIP_CHECKPOINTS=true: one save at the end. Pulumi Cloud (CLI 3.225+): a begin entry "
            "(the operation, with the resource's state) and a success entry (its state) per step "
            "(apitype.JournalEntry), counted here as one resource each.",
        ],
    )  # fmt: skip
    return [kinds, deploy, cost]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--devices-per-stack", type=int, default=150)
    args = parser.parse_args(argv)
    for table in run(args.devices, args.devices_per_stack):
        print(table.render())
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run a sharded project's stacks as successive `pulumi up`s without the CLI, through the real host.

`ShardMocks` keeps one state per stack, as separate stacks' checkpoints would: a resource new to a
stack is created (check, create), one it holds goes through check and diff (and update or replace),
and what the stack no longer declares is deleted when its run ends. `move` does what
`pulumi state move` does: it carries a resource's stored state from one stack to another, calling
no provider. Used by tests/test_shards.py and benchmarks/shards.py.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pulumi
from _host import Engine, ProviderHost, State, engine, from_struct, strip_secrets
from _inventory import run_program
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.inventory import shards

KINDS = ("AccountConfig", "AccountSecret", "DeviceConfig", "DeviceSecret")


def configured_host(emu: Emulator) -> ProviderHost:
    """A provider host whose provider config points at `emu` (the caller closes it)."""
    host = ProviderHost()
    host.configure(
        {"twilio:accountSid": emu.account_sid, "twilio:authToken": emu.auth_token, "twilio:endpoint": emu.url}
    )
    return host


def stack_config(folder: Path, stack: str) -> dict[str, str]:
    """The stack config a user sets with set-secrets.sh: a new value per Secret, so writes show."""
    data = shards.load_stack(stack, folder)
    names = list(data.account_secrets.values())
    for device in data.devices.values():
        names += device["secrets"].values()
    return {name: f"value-of:{name}" for name in names}


def single_stack_config(folder: Path) -> dict[str, str]:
    """The same for the single-stack program: the names its set-secrets.sh sets, credentials aside."""
    script = (folder / "set-secrets.sh").read_text().splitlines()
    names = [line.split()[-1] for line in script if line.startswith("pulumi config set --secret ")]
    return {name: f"value-of:{name}" for name in names if not name.startswith("twilio:")}


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


class _Monitor(MockMonitor):
    """Keeps what the engine would store from each registration but mocks are not given."""

    def __init__(self, mocks: ShardMocks) -> None:
        super().__init__(mocks)
        self.shard_mocks = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        frames = [(f.pc.uri, f.pc.line) for f in request.stackTrace.frames if f.HasField("pc")]
        self.shard_mocks.registrations[(self.shard_mocks.stack, request.name)] = {
            "stack_trace": frames,
            "secret_outputs": list(request.additionalSecretOutputs),
        }
        return super().RegisterResource(request)


class ShardMocks(pulumi.runtime.Mocks):
    """Every stack's resources, by stack then (type token, name)."""

    def __init__(self, host: ProviderHost) -> None:
        self.host = host
        self.stack = ""
        self.states: dict[str, dict[tuple[str, str], State]] = {}
        self.steps: list[tuple[str, str, str]] = []  # (stack, resource name, step)
        # Built on one thread: serialize_provider swaps pickle internals process-wide while it runs.
        self._engines: dict[str, Engine] = {kind: engine(host, kind) for kind in KINDS}
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        #: (stack, name) -> the stack trace and additional secret outputs of its last registration.
        self.registrations: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = {k: _plain(v) for k, v in args.inputs.items()}
        pickled = inputs.pop("__provider")
        kind = args.typ.rsplit(":", 1)[1]
        key = (args.typ, args.name)
        with self._lock:
            prior = self.states.setdefault(self.stack, {}).get(key)
            self._seen.add(key)
        eng = copy.copy(self._engines[kind])
        eng.provider_str = pickled  # the program's own pickle, as the engine would send it
        state = eng.create(inputs, name=args.name) if prior is None else eng.up(prior, inputs)
        with self._lock:
            self.states[self.stack][key] = state
            self.steps.append((self.stack, args.name, state.history[-1]))
        outs = strip_secrets(from_struct(state.outputs))
        outs.pop("__provider", None)
        return state.id, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}

    def up(self, folder: Path, stack: str, config: dict[str, str]) -> list[tuple[str, str]]:
        """One `pulumi up -s stack` of the folder's program; returns this run's (name, step)s."""
        self.stack = stack
        self._seen = set()
        first = len(self.steps)
        run_program(folder, self, config, stack=stack, monitor=_Monitor(self))
        held = self.states.setdefault(stack, {})
        for key in [k for k in held if k not in self._seen]:
            state = held.pop(key)
            self._engines[key[0].rsplit(":", 1)[1]].delete(state)
            self.steps.append((stack, key[1], "delete"))
        return [(name, step) for s, name, step in self.steps[first:] if s == stack]

    def move(self, source: str, dest: str, urns: list[str]) -> None:
        """`pulumi state move --source --dest urn...`: state only, no provider call."""
        for urn in urns:
            _, rest = urn.split(f"urn:pulumi:{source}::", 1)
            _project, type_token, name = rest.split("::", 2)
            state = self.states[source].pop((type_token, name))
            self.states.setdefault(dest, {})[(type_token, name)] = state

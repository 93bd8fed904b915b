"""Drive the real dynamic provider host (`python -m pulumi.dynamic`) over gRPC, as the engine does.

`ProviderHost` starts the host in a subprocess and speaks its protocol; `Engine` plays the part of
the Pulumi engine for one resource at a time (check, then create, or diff then update or replace,
refresh, destroy), including its rule that secrets reach a provider as plain values because the
dynamic provider host answers Configure with acceptSecrets=False.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from _engine_steps import CheckFailed, EngineSteps, StepState  # noqa: F401 - CheckFailed re-exported
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb
from pulumi.runtime.proto import provider_pb2_grpc as pbg

PROJECT = "fleet"
KINDS = ("AccountConfig", "DeviceConfig", "AccountSecret", "DeviceSecret", "ApiKey")
TOKENS = {
    "AccountConfig": "pulumi-python:dynamic/microvisor:AccountConfig",
    "DeviceConfig": "pulumi-python:dynamic/microvisor:DeviceConfig",
    "AccountSecret": "pulumi-python:dynamic/microvisor:AccountSecret",
    "DeviceSecret": "pulumi-python:dynamic/microvisor:DeviceSecret",
    "ApiKey": "pulumi-python:dynamic/twilio:ApiKey",
}
ROOT = Path(__file__).resolve().parents[1]
PROVIDER_KEY = "__provider"


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    """A dict to a protobuf Struct with the encoder the host itself uses (secrets, unknowns)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct to a dict; secrets stay wrapped so tests can see them."""
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def strip_secrets(props: dict[str, Any]) -> dict[str, Any]:
    return {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in props.items()}


def engine_view(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """What the engine sends a provider that does not accept secrets: the same values, unmarked."""
    return to_struct(strip_secrets(from_struct(struct)))


class ProviderHost:
    """One `python -m pulumi.dynamic` process, its stdout and stderr kept in files for inspection."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mvp-host-")
        self.stderr_path = Path(self._dir.name) / "stderr"
        self.stdout_path = Path(self._dir.name) / "stdout"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
            "PYTHONPATH": str(ROOT),
            "PULUMI_PROJECT": PROJECT,
            **(env or {}),
        }
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - kept open for the process' life
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=full_env,
            cwd=str(ROOT),
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        # Keep draining stdout (print() output of providers) so a chatty provider cannot block.
        self._stdout_chunks: list[bytes] = []
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.stub = pbg.ResourceProviderStub(self.channel)

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            self._stdout_chunks.append(chunk)

    def output_text(self) -> str:
        """Everything the host printed to stdout and stderr so far."""
        self._stderr.flush()
        return b"".join(self._stdout_chunks).decode("utf-8", "replace") + self.stderr_path.read_text(
            "utf-8", "replace"
        )

    def configure(self, config: dict[str, str]) -> None:
        self.stub.Configure(pb.ConfigureRequest(args=to_struct(config)))

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.wait()
        self._stderr.close()
        self._dir.cleanup()


def urn_for(type_token: str, name: str) -> str:
    return f"urn:pulumi:dev::{PROJECT}::{type_token}::{name}"


class State(StepState):
    decode = staticmethod(from_struct)


class Engine(EngineSteps[State]):
    """The engine's steps for one resource kind, through a ProviderHost (secrets sent unmarked)."""

    state = State

    def __init__(self, host: ProviderHost, provider: Any, type_token: str) -> None:
        self.host = host
        self.stub = host.stub
        self.provider_str = serialize_provider(provider)
        self.type_token = type_token

    def urn(self, name: str) -> str:
        return urn_for(self.type_token, name)

    def news(self, inputs: dict[str, Any]) -> struct_pb2.Struct:
        return to_struct(
            {**{k: v for k, v in inputs.items() if v is not None}, PROVIDER_KEY: self.provider_str}
        )

    def wire(self, struct: struct_pb2.Struct) -> struct_pb2.Struct:
        return engine_view(struct)

    def typed(self, **more: Any) -> dict[str, Any]:
        return {}

    def old_inputs(self, state: State) -> dict[str, Any]:
        return {}

    def create(self, inputs: dict[str, Any], name: str = "r") -> State:
        urn = self.urn(name)
        checked = self.check(inputs, name=name).inputs
        resp = self._create(urn, checked)
        assert resp.id, "a create must return an id"
        return State(resp.id, urn, checked, resp.properties, ["create"])

    @staticmethod
    def ignoring(state: State, inputs: dict[str, Any], ignore_changes: Sequence[str]) -> dict[str, Any]:
        """The engine's `ignore_changes`, applied to the program's inputs before Check: each ignored
        property takes its old input's value, or is removed where the old inputs lack it."""
        news = dict(inputs)
        olds = state.ins
        for name in ignore_changes:
            if name in olds:
                news[name] = olds[name]
            else:
                news.pop(name, None)
        return news

    def diff(
        self, state: State, inputs: dict[str, Any], ignore_changes: Sequence[str] = ()
    ) -> tuple[Any, struct_pb2.Struct]:
        return self._diff(state, self.ignoring(state, inputs, ignore_changes))

    def preview(self, state: State, inputs: dict[str, Any]) -> Any:
        return self.diff(state, inputs)[0]

    def up(self, state: State, inputs: dict[str, Any], ignore_changes: Sequence[str] = ()) -> State:
        """`pulumi up` with new inputs for an existing resource: no-op, update, or replace."""
        return self._up(state, self.ignoring(state, inputs, ignore_changes))


def new_provider(kind: str) -> Any:
    """A fresh provider of one of the five kinds (imported late: importing this module stays cheap)."""
    from microvisor_pulumi.resources import api_key, microvisor

    return getattr(api_key if kind == "ApiKey" else microvisor, f"{kind}Provider")()


def engine(host: ProviderHost, kind: str) -> Engine:
    return Engine(host, new_provider(kind), TOKENS[kind])

"""Drive the provider plugin `pulumi-resource-microvisor` over gRPC, as the Pulumi engine does.

`FakeEngine` is the engine's own gRPC service, reduced to `Log` (recorded). `Plugin` starts the
installed console script with that engine's address as its argument and reads its port from stdout.
`PluginEngine` plays the engine's steps for one resource kind against it: unlike the dynamic host,
the plugin answers Configure with acceptSecrets=True, so secrets travel marked both ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2_grpc
from pulumi.runtime.proto import provider_pb2 as pb
from pulumi.runtime.proto import provider_pb2_grpc as pbg

from microvisor_pulumi.plugin.server import from_struct, to_struct

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "fleet"
SCRIPT = "pulumi-resource-microvisor"


def token(kind: str) -> str:
    return f"microvisor:index:{kind}"


def urn_for(kind: str, name: str = "r") -> str:
    return f"urn:pulumi:dev::{PROJECT}::{token(kind)}::{name}"


def script_path() -> Path:
    """The console script pip installed beside this interpreter (the venv's bin/)."""
    return Path(sys.executable).parent / SCRIPT


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine's gRPC service, recording every Log call: (severity, message, urn)."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 - gRPC's name
        with self._lock:
            self.logs.append((request.severity, request.message, request.urn))
        return empty_pb2.Empty()

    def messages(self) -> str:
        with self._lock:
            return "\n".join(m for _, m, _ in self.logs)

    def stop(self) -> None:
        self.server.stop(0)


class Plugin:
    """One plugin process, started as the engine starts it; its stderr kept in a file."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        engine: FakeEngine | None = None,
    ) -> None:
        # A shared engine: two providers of one deployment, each its own plugin process.
        self._own_engine = engine is None
        self.engine = engine or FakeEngine()
        self._dir = tempfile.TemporaryDirectory(prefix="mvp-plugin-")
        self.stderr_path = Path(self._dir.name) / "stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - kept open for the process' life
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
            "PYTHONPATH": str(ROOT),
            "TMPDIR": self._dir.name,  # what the plugin keeps per deployment (claims) goes away with it
            **(env or {}),
        }
        # As the engine does (plugin.go, buildPluginArguments): flags first, the address last.
        command = [str(script_path()), *(args or []), self.engine.address]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, env=full_env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.stub = pbg.ResourceProviderStub(self.channel)

    def configure(self, settings: dict[str, Any], *, only_variables: bool = False) -> Any:
        """Configure as the engine does (provider_plugin.go, Configure): `variables` keyed
        ``microvisor:config:<key>`` with secrets unmarked, and `args`, the provider's inputs by bare
        name with secrets kept (unless `only_variables`, as older engines send)."""
        variables = {f"microvisor:config:{k}": str(plain({"v": v})["v"]) for k, v in settings.items()}
        args = struct_pb2.Struct() if only_variables else to_struct(settings)
        return self.stub.Configure(
            pb.ConfigureRequest(variables=variables, args=args, acceptSecrets=True, acceptResources=True)
        )

    def output_text(self) -> str:
        """Everything the plugin wrote to stderr and sent to the engine's log."""
        self._stderr.flush()
        return self.stderr_path.read_text("utf-8", "replace") + "\n" + self.engine.messages()

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.wait()
        self._stderr.close()
        if self._own_engine:
            self.engine.stop()
        self._dir.cleanup()


def plugin_config(emulator: Any, **extra: Any) -> dict[str, Any]:
    """The plugin's settings for `emulator` (stack config microvisor:*), the auth token a secret."""
    config: dict[str, Any] = {
        "accountSid": emulator.account_sid,
        "authToken": rpc.wrap_rpc_secret(emulator.auth_token),
        "endpoint": emulator.url,
        "retryBaseDelay": "0.01",
    }
    config.update(extra)
    return config


def secret(value: Any) -> Any:
    return rpc.wrap_rpc_secret(value)


def plain(props: dict[str, Any]) -> dict[str, Any]:
    return {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in props.items()}


class CheckFailed(Exception):
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))
        self.failures = failures


@dataclass
class State:
    id: str
    urn: str
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct
    history: list[str] = field(default_factory=list)

    @property
    def outs(self) -> dict[str, Any]:
        return from_struct(self.outputs)

    @property
    def ins(self) -> dict[str, Any]:
        return from_struct(self.inputs)


class PluginEngine:
    """The engine's steps for one resource kind through a Plugin (secrets marked on the wire)."""

    def __init__(self, plugin: Plugin, kind: str) -> None:
        self.stub = plugin.stub
        self.kind = kind
        self.type = token(kind)

    def check(
        self, inputs: dict[str, Any], olds: struct_pb2.Struct | None = None, name: str = "r"
    ) -> pb.CheckResponse:
        resp = self.stub.Check(
            pb.CheckRequest(
                urn=urn_for(self.kind, name),
                type=self.type,
                name=name,
                olds=olds if olds is not None else struct_pb2.Struct(),
                news=to_struct({k: v for k, v in inputs.items() if v is not None}),
            )
        )
        if resp.failures:
            raise CheckFailed([(f.property, f.reason) for f in resp.failures])
        return resp

    def create(self, inputs: dict[str, Any], name: str = "r", preview: bool = False) -> State:
        urn = urn_for(self.kind, name)
        checked = self.check(inputs, name=name).inputs
        resp = self.stub.Create(
            pb.CreateRequest(urn=urn, type=self.type, properties=checked, preview=preview)
        )
        return State(resp.id, urn, checked, resp.properties, ["preview" if preview else "create"])

    def diff(self, state: State, inputs: dict[str, Any]) -> tuple[pb.DiffResponse, struct_pb2.Struct]:
        checked = self.check(inputs, olds=state.inputs).inputs
        resp = self.stub.Diff(
            pb.DiffRequest(
                id=state.id,
                urn=state.urn,
                type=self.type,
                olds=state.outputs,
                news=checked,
                old_inputs=state.inputs,
            )
        )
        return resp, checked

    def up(self, state: State, inputs: dict[str, Any], preview: bool = False) -> State:
        resp, checked = self.diff(state, inputs)
        if resp.changes != pb.DiffResponse.DIFF_SOME:
            return State(state.id, state.urn, checked, state.outputs, [*state.history, "same"])
        if not resp.replaces:
            up = self.stub.Update(
                pb.UpdateRequest(
                    id=state.id,
                    urn=state.urn,
                    type=self.type,
                    olds=state.outputs,
                    news=checked,
                    old_inputs=state.inputs,
                    preview=preview,
                )
            )
            return State(state.id, state.urn, checked, up.properties, [*state.history, "update"])
        if preview:
            created = self.stub.Create(
                pb.CreateRequest(urn=state.urn, type=self.type, properties=checked, preview=True)
            )
            return State(created.id, state.urn, checked, created.properties, [*state.history, "replace"])
        if resp.deleteBeforeReplace:
            self.delete(state)
            created = self.stub.Create(pb.CreateRequest(urn=state.urn, type=self.type, properties=checked))
            step = "delete-create"
        else:
            created = self.stub.Create(pb.CreateRequest(urn=state.urn, type=self.type, properties=checked))
            self.delete(state)
            step = "create-delete"
        return State(created.id, state.urn, checked, created.properties, [*state.history, step])

    def refresh(self, state: State) -> State | None:
        resp = self.stub.Read(
            pb.ReadRequest(
                id=state.id, urn=state.urn, type=self.type, properties=state.outputs, inputs=state.inputs
            )
        )
        if not resp.id:
            return None
        inputs = resp.inputs if resp.HasField("inputs") else state.inputs
        return State(resp.id, state.urn, inputs, resp.properties, [*state.history, "refresh"])

    def import_(self, id_: str, name: str = "imported") -> tuple[State, list[tuple[str, str]]]:
        """`pulumi import`: Read with the id alone, then Check(olds=inputs, news=inputs), whose
        failures the engine shows as warnings (pkg/resource/deploy/step.go, ImportStep.Apply)."""
        urn = urn_for(self.kind, name)
        resp = self.stub.Read(pb.ReadRequest(id=id_, urn=urn, type=self.type))
        assert resp.id, "does not exist"
        assert resp.properties.fields, "the engine says: does not exist"
        assert resp.HasField("inputs") and resp.inputs.fields, "the engine says: does not support importing"
        checked = self.stub.Check(
            pb.CheckRequest(urn=urn, type=self.type, name=name, olds=resp.inputs, news=resp.inputs)
        )
        warnings = [(f.property, f.reason) for f in checked.failures]
        return State(resp.id, urn, resp.inputs, resp.properties, ["import"]), warnings

    def delete(self, state: State) -> None:
        self.stub.Delete(
            pb.DeleteRequest(
                id=state.id, urn=state.urn, type=self.type, properties=state.outputs, old_inputs=state.inputs
            )
        )

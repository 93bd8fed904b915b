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
from pathlib import Path
from typing import Any

import grpc
from _engine_steps import CheckFailed, EngineSteps, StepState  # noqa: F401 - CheckFailed re-exported
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


class State(StepState):
    decode = staticmethod(from_struct)


class PluginEngine(EngineSteps[State]):
    """The engine's steps for one resource kind through a Plugin (secrets marked on the wire)."""

    state = State

    def __init__(self, plugin: Plugin, kind: str) -> None:
        self.stub = plugin.stub
        self.kind = kind
        self.type = token(kind)

    def urn(self, name: str) -> str:
        return urn_for(self.kind, name)

    def news(self, inputs: dict[str, Any]) -> struct_pb2.Struct:
        return to_struct({k: v for k, v in inputs.items() if v is not None})

    def wire(self, struct: struct_pb2.Struct) -> struct_pb2.Struct:
        return struct

    def typed(self, **more: Any) -> dict[str, Any]:
        return {"type": self.type, **more}

    def old_inputs(self, state: State) -> dict[str, Any]:
        return {"old_inputs": state.inputs}

    def create(self, inputs: dict[str, Any], name: str = "r", preview: bool = False) -> State:
        urn = self.urn(name)
        checked = self.check(inputs, name=name).inputs
        resp = self._create(urn, checked, preview=preview)
        return State(resp.id, urn, checked, resp.properties, ["preview" if preview else "create"])

    def diff(self, state: State, inputs: dict[str, Any]) -> tuple[pb.DiffResponse, struct_pb2.Struct]:
        return self._diff(state, inputs)

    def up(self, state: State, inputs: dict[str, Any], preview: bool = False) -> State:
        return self._up(state, inputs, preview)

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

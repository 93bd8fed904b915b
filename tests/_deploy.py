"""Run a Pulumi program several times as successive `pulumi up`s of one stack, without the CLI.

`StackMocks` are set_mocks mocks that remember the stack between runs and send every step of every
dynamic resource to the real provider host (`_host.Engine`): a resource new to the program is
created; one seen before goes through diff, then nothing, an update or a replacement, as the
engine decides; one whose `replacement_trigger` changed is replaced (created first, unless it asked
for delete-before-replace); and what the program no longer declares is deleted when the run ends,
after everything else, as the engine deletes it. `refresh()` reads every resource back.

Replacement triggers are compared as the engine compares them (`shouldTriggerReplace` in
pkg/resource/deploy/step_generator.go): by their resolved values (a trigger given as an Output is
awaited by the SDK before it registers the resource), secret marks stripped; an unknown value
counts as a change; no trigger on either side (null) is no change.
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dill
import pulumi
from _host import Engine, ProviderHost, State
from _mocks import _plain
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from microvisor_pulumi.resources._schema import is_unknown


@dataclass
class Tracked:
    engine: Engine
    state: State
    trigger: Any


def _trigger_value(value: struct_pb2.Value) -> Any:
    """A registration's replacement trigger as a plain Python value: secrets unwrapped, unknowns kept."""
    holder = struct_pb2.Struct()
    holder.fields["t"].CopyFrom(value)
    return _unwrap(rpc.deserialize_properties(holder, keep_unknowns=True).get("t"))


def _unwrap(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _has_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


def trigger_changed(old: Any, new: Any) -> bool:
    """The engine's rule: unknown is a change, null on either side is none, else compare values."""
    if _has_unknown(old) or _has_unknown(new):
        return True
    if old is None or new is None:
        return False
    return bool(old != new)


class _Monitor(MockMonitor):
    """Keeps, per resource name, what the engine would see in the registration but mocks do not get."""

    def __init__(self, mocks: StackMocks) -> None:
        super().__init__(mocks)
        self.stack = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        has = request.HasField("replacement_trigger")
        self.stack.registrations[request.name] = {
            "trigger": _trigger_value(request.replacement_trigger) if has else None,
            "delete_before_replace": request.deleteBeforeReplace,
            "secret_outputs": list(request.additionalSecretOutputs),
            # Former names from `aliases` (resources are kept by type and name, so an alias that
            # changes only the parent is the same resource here).
            "aliases": [a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name],
        }
        return super().RegisterResource(request)


class StackMocks(pulumi.runtime.Mocks):
    """One stack's resources across runs of a program (see the module docstring)."""

    def __init__(self, host: ProviderHost, project: str = "fleet") -> None:
        self.host = host
        self.project = project
        self.resources: dict[tuple[str, str], Tracked] = {}  # by (type token, name)
        self.registrations: dict[str, dict[str, Any]] = {}
        self.steps: list[tuple[str, str]] = []  # (name, step) over all runs
        self._seen: set[tuple[str, str]] = set()
        self._deferred: list[Tracked] = []
        self._inflight = 0  # steps under way: registrations run on the SDK's threads
        self._settled = threading.Condition()

    def up(self, program: Callable[[], dict[str, pulumi.Output[Any]]]) -> dict[str, tuple[Any, bool]]:
        """One `pulumi up`: run the program, then delete what it no longer declares."""
        monitor = _Monitor(self)
        pulumi.runtime.set_mocks(self, project=self.project, stack="dev", preview=False, monitor=monitor)
        self._seen = set()
        self._deferred = []
        results: dict[str, tuple[Any, bool]] = {}

        @pulumi.runtime.test
        def run() -> pulumi.Output[Any]:
            outputs = program()

            async def settle() -> None:
                for name, output in outputs.items():
                    results[name] = (await output.future(), await output.is_secret())

            return pulumi.Output.from_input(settle())

        try:
            run()
        except BaseException:
            # A failed step ends the run, but the engine lets the steps in flight finish first.
            with self._settled:
                self._settled.wait_for(lambda: self._inflight == 0, timeout=120)
            raise
        for key in [k for k in self.resources if k not in self._seen]:
            tracked = self.resources.pop(key)
            tracked.engine.delete(tracked.state)
            self.steps.append((key[1], "delete"))
        for tracked in self._deferred:
            tracked.engine.delete(tracked.state)
        return results

    def move_to(self, host: ProviderHost) -> None:
        """Send the next runs to another provider host, as the next `pulumi up` starts a new one."""
        self.host = host
        for tracked in self.resources.values():
            tracked.engine = copy.copy(tracked.engine)
            tracked.engine.host, tracked.engine.stub = host, host.stub

    def adopt(self, engine: Engine, name: str, state: State) -> None:
        """Put a resource in the stack as an earlier `pulumi up` (of any version) left it."""
        self.resources[(engine.type_token, name)] = Tracked(engine, state, None)

    def refresh(self) -> None:
        for key, tracked in list(self.resources.items()):
            state = tracked.engine.refresh(tracked.state)
            assert state is not None, f"{key[1]} vanished on refresh"
            tracked.state = state
            self.steps.append((key[1], "refresh"))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        with self._settled:
            self._inflight += 1
        try:
            return self._step(args)
        finally:
            with self._settled:
                self._inflight -= 1
                self._settled.notify_all()

    def _step(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = {k: _plain(v) for k, v in args.inputs.items()}
        pickled = inputs.pop("__provider", None)
        if pickled is None:
            return f"{args.name}-id", inputs  # a component: nothing to send anywhere
        key = (args.typ, args.name)
        reg = self.registrations.get(args.name, {})
        if key not in self.resources:
            # The engine finds a resource under a former name its aliases give, and keeps its state.
            for former in reg.get("aliases", []):
                if (args.typ, former) in self.resources and (args.typ, former) not in self._seen:
                    self.resources[key] = self.resources.pop((args.typ, former))
                    break
        self._seen.add(key)
        trigger = reg.get("trigger")
        old = self.resources.get(key)
        if old is None:
            engine = Engine(self.host, dill.loads(base64.b64decode(pickled)), args.typ)
            state, step = engine.create(inputs, name=args.name), "create"
        elif trigger_changed(old.trigger, trigger):
            engine = old.engine
            if reg.get("delete_before_replace"):
                engine.delete(old.state)
                state, step = engine.create(inputs, name=args.name), "delete-create"
            else:
                state, step = engine.create(inputs, name=args.name), "create-delete"
                self._deferred.append(old)  # the engine deletes the replaced resource last
        else:
            engine = old.engine
            state = engine.up(old.state, inputs)
            step = state.history[-1]
        self.resources[key] = Tracked(engine, state, trigger)
        self.steps.append((args.name, step))
        outs = dict(state.outs)
        outs.pop("__provider", None)
        for name in reg.get("secret_outputs", []):
            if name in outs:
                outs[name] = rpc.wrap_rpc_secret(_plain(outs[name]))
        return state.id, {**inputs, **outs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}

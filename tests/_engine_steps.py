"""The Pulumi engine's steps for one resource, shared by the two faces the tests drive.

The dynamic provider host (`_host.Engine`) and the provider plugin (`_plugin.PluginEngine`) receive
the same steps in the same order (check, create, diff then update or replace, refresh, delete); what
differs is only the wire. A face says how through three hooks: `wire` (the dynamic host answers
Configure with acceptSecrets=False, so the engine sends it every struct unmarked; the plugin gets
secrets marked), `typed` (the fields its requests name the resource type with) and `old_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2 as pb


class CheckFailed(Exception):
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))
        self.failures = failures


@dataclass
class StepState:
    """What the engine keeps for one resource: id, stored inputs and outputs (as sent back to us).
    A face's subclass says how a struct reads as a dict (`decode`)."""

    id: str
    urn: str
    inputs: struct_pb2.Struct
    outputs: struct_pb2.Struct
    history: list[str] = field(default_factory=list)

    @staticmethod
    def decode(struct: struct_pb2.Struct) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def outs(self) -> dict[str, Any]:
        return self.decode(self.outputs)

    @property
    def ins(self) -> dict[str, Any]:
        return self.decode(self.inputs)


S = TypeVar("S", bound=StepState)


class EngineSteps(Generic[S]):
    """The steps, the same for both faces; a face sets `stub` and `state` and its hooks."""

    stub: Any
    state: type[S]

    def urn(self, name: str) -> str:
        raise NotImplementedError

    def news(self, inputs: dict[str, Any]) -> struct_pb2.Struct:
        """The program's inputs as the engine hands them to Check, before `wire`."""
        raise NotImplementedError

    def wire(self, struct: struct_pb2.Struct) -> struct_pb2.Struct:
        """A struct as the engine sends it to this face."""
        raise NotImplementedError

    def typed(self, **more: Any) -> dict[str, Any]:
        """The fields (the type, at Check the name too) that this face's requests carry besides id
        and urn."""
        raise NotImplementedError

    def old_inputs(self, state: S) -> dict[str, Any]:
        """The stored inputs where this face's Diff, Update and Delete requests carry them."""
        raise NotImplementedError

    def check(self, inputs: dict[str, Any], olds: struct_pb2.Struct | None = None, name: str = "r") -> Any:
        resp = self.stub.Check(
            pb.CheckRequest(
                urn=self.urn(name),
                olds=olds if olds is not None else struct_pb2.Struct(),
                news=self.wire(self.news(inputs)),
                **self.typed(name=name),
            )
        )
        if resp.failures:
            raise CheckFailed([(f.property, f.reason) for f in resp.failures])
        return resp

    def _create(self, urn: str, checked: struct_pb2.Struct, preview: bool = False) -> Any:
        return self.stub.Create(
            pb.CreateRequest(urn=urn, properties=self.wire(checked), preview=preview, **self.typed())
        )

    def _diff(self, state: S, inputs: dict[str, Any]) -> tuple[Any, struct_pb2.Struct]:
        checked = self.check(inputs, olds=state.inputs).inputs
        resp = self.stub.Diff(
            pb.DiffRequest(
                id=state.id,
                urn=state.urn,
                olds=self.wire(state.outputs),
                news=self.wire(checked),
                **self.typed(),
                **self.old_inputs(state),
            )
        )
        return resp, checked

    def update(self, state: S, checked: struct_pb2.Struct, preview: bool = False) -> Any:
        """The Update the engine sends for a diff that replaces nothing (`checked`: Check's inputs);
        the provider's answer."""
        return self.stub.Update(
            pb.UpdateRequest(
                id=state.id,
                urn=state.urn,
                olds=self.wire(state.outputs),
                news=self.wire(checked),
                preview=preview,
                **self.typed(),
                **self.old_inputs(state),
            )
        )

    def _up(self, state: S, inputs: dict[str, Any], preview: bool = False) -> S:
        """`pulumi up` (or preview) with new inputs for an existing resource: no-op, update, or
        replace, in the order the diff asks for."""
        resp, checked = self._diff(state, inputs)
        if resp.changes != pb.DiffResponse.DIFF_SOME:
            return self.state(state.id, state.urn, checked, state.outputs, [*state.history, "same"])
        if not resp.replaces:
            up = self.update(state, checked, preview)
            return self.state(state.id, state.urn, checked, up.properties, [*state.history, "update"])
        if preview:
            created = self._create(state.urn, checked, preview=True)
            return self.state(created.id, state.urn, checked, created.properties, [*state.history, "replace"])
        if resp.deleteBeforeReplace:
            self.delete(state)
            created = self._create(state.urn, checked)
            step = "delete-create"
        else:
            created = self._create(state.urn, checked)
            self.delete(state)
            step = "create-delete"
        return self.state(created.id, state.urn, checked, created.properties, [*state.history, step])

    def refresh(self, state: S) -> S | None:
        resp = self.stub.Read(
            pb.ReadRequest(
                id=state.id,
                urn=state.urn,
                properties=self.wire(state.outputs),
                inputs=self.wire(state.inputs),
                **self.typed(),
            )
        )
        if not resp.id:
            return None
        inputs = resp.inputs if resp.HasField("inputs") else state.inputs
        return self.state(resp.id, state.urn, inputs, resp.properties, [*state.history, "refresh"])

    def delete(self, state: S) -> None:
        self.stub.Delete(
            pb.DeleteRequest(
                id=state.id,
                urn=state.urn,
                properties=self.wire(state.outputs),
                **self.typed(),
                **self.old_inputs(state),
            )
        )

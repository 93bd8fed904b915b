"""Pulumi mocks that send each resource through its real provider (check, then create).

`set_mocks` never runs providers; these mocks do what the engine and host would: unpickle
`__provider`, configure it with the stack config, check the inputs and create the resource, so a
program's exports reflect what the provider really returns from the emulator.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import dill
import pulumi
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


class EngineLikeMonitor(MockMonitor):
    """A mock monitor that, like the engine, keeps a resource's `additional_secret_outputs` secret.

    The stock MockMonitor ignores that option, so without this a test could not tell whether a
    Resource subclass declares it.
    """

    def __init__(self, mocks: ProviderMocks) -> None:
        super().__init__(mocks)
        self.mocks_ = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.mocks_.secret_outputs[request.name] = list(request.additionalSecretOutputs)
        return super().RegisterResource(request)


class ProviderMocks(pulumi.runtime.Mocks):
    def __init__(self, config: dict[str, str], project: str = "fleet") -> None:
        self.config = config
        self.project = project
        self.created: list[tuple[str, str, dict[str, Any]]] = []  # (type token, name, raw inputs)
        self._providers: dict[str, Any] = {}
        self.secret_outputs: dict[str, list[str]] = {}  # by resource name, as the program declared
        self._lock = threading.Lock()

    def install(self, stack: str = "dev", preview: bool = False) -> ProviderMocks:
        """set_mocks with the engine-like monitor."""
        pulumi.runtime.set_mocks(
            self, project=self.project, stack=stack, preview=preview, monitor=EngineLikeMonitor(self)
        )
        return self

    def _provider(self, pickled: str) -> Any:
        with self._lock:
            provider = self._providers.get(pickled)
            if provider is None:
                provider = dill.loads(base64.b64decode(pickled))
                provider.configure(ConfigureRequest(Config(self.config, self.project)))
                self._providers[pickled] = provider
            return provider

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        self.created.append((args.typ, args.name, dict(inputs)))
        pickled = _plain(inputs.pop("__provider", None))
        if pickled is None:
            return f"{args.name}-id", inputs
        provider = self._provider(pickled)
        checked = provider.check({}, {k: _plain(v) for k, v in inputs.items()})
        if checked.failures:
            raise ValueError("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        # The engine sends secrets to dynamic providers as plain values (acceptSecrets=False) and keeps
        # the secret marks of what comes back: so do these mocks.
        result = provider.create({k: _plain(v) for k, v in checked.inputs.items()})
        state = {**checked.inputs, **(result.outs or {})}
        for name in self.secret_outputs.get(args.name, []):
            if name in state:
                state[name] = rpc.wrap_rpc_secret(_plain(state[name]))
        return result.id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}


def run_program(program: Any) -> dict[str, tuple[Any, bool]]:
    """Run `program` (which returns a dict of Outputs) under the installed mocks and settle it:
    each name maps to (resolved value, whether it is secret)."""
    results: dict[str, tuple[Any, bool]] = {}

    @pulumi.runtime.test
    def body() -> pulumi.Output[Any]:
        outputs = program()

        async def settle() -> None:
            for name, output in outputs.items():
                results[name] = (await output.future(), await output.is_secret())

        return pulumi.Output.from_input(settle())

    body()
    return results

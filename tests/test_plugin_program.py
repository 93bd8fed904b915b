"""A Python program chooses the plugin with the stack config `microvisor:plugin`, keeping its
declarations: each resource then registers under the plugin's token with an alias to its dynamic
one (so the engine moves its state, and the plugin's Diff of that state is no change)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from _mocks import EngineLikeMonitor, ProviderMocks, run_program
from _reliability import host_config
from pulumi.runtime import config as runtime_config

import microvisor_pulumi as mv
from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator

DEVICE = DEFAULT_DEVICES[0][0]


class RecordingMonitor(EngineLikeMonitor):
    def __init__(self, mocks: ProviderMocks) -> None:
        super().__init__(mocks)
        self.registered: list[Any] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.registered.append(request)
        return super().RegisterResource(request)


@pytest.fixture(params=[True, False], ids=["plugin", "dynamic"])
def monitor(request: pytest.FixtureRequest, emu: Emulator) -> Iterator[tuple[RecordingMonitor, bool]]:
    # The dynamic path's mocks run the real providers (against the emulator); the plugin's do not.
    mocks = ProviderMocks(host_config(emu))
    mon = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="fleet", stack="dev", monitor=mon)
    if request.param:
        runtime_config.set_config("microvisor:plugin", "true")
    try:
        yield mon, request.param
    finally:
        runtime_config.CONFIG.get().pop("microvisor:plugin", None)


def program() -> dict[str, Any]:
    secret = mv.AccountSecret("s", key="k", value="v")
    mv.DeviceConfig("d", device_sid=DEVICE, key="k", value="v")
    key = mv.ApiKey("key", friendly_name="ci")
    return {"value": secret.value, "key": key.sid}


def test_the_same_declarations_register_with_the_chosen_provider(monitor) -> None:
    mon, plugin = monitor
    run_program(program)
    by_name = {r.name: r for r in mon.registered}
    dynamic_types = {
        "s": "pulumi-python:dynamic/microvisor:AccountSecret",
        "d": "pulumi-python:dynamic/microvisor:DeviceConfig",
        "key": "pulumi-python:dynamic/twilio:ApiKey",
    }
    for name, dynamic_type in dynamic_types.items():
        reg = by_name[name]
        fields = set(reg.object.fields)
        if plugin:
            kind = dynamic_type.rsplit(":", 1)[1]
            assert reg.type == f"microvisor:index:{kind}"
            assert "__provider" not in fields
            assert [a.spec.type for a in reg.aliases] == [dynamic_type]
        else:
            assert reg.type == dynamic_type
            assert "__provider" in fields and not reg.aliases
    assert "value" in by_name["s"].additionalSecretOutputs  # secret on either path


def test_components_build_their_children_on_the_chosen_provider(monitor) -> None:
    """RotatingApiKey and DeviceProfile stay Python components; their children follow the switch."""
    mon, plugin = monitor

    def components() -> dict[str, Any]:
        mv.RotatingApiKey("rot", rotation="2026-04")
        mv.DeviceProfile("prof", devices=[DEVICE], configs={"mode": "fast"}, secrets={"psk": "x"})
        return {}

    run_program(components)
    kinds = sorted(r.type for r in mon.registered if r.custom and "RotationSlots" not in r.type)
    prefix = "microvisor:index:" if plugin else "pulumi-python:dynamic/"
    assert kinds and all(k.startswith(prefix) for k in kinds), kinds
    slots = [r.type for r in mon.registered if "RotationSlots" in r.type]
    assert slots == ["pulumi-python:dynamic/twilio:RotationSlots"]  # no provider class of the plugin's

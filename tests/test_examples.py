"""The example programs (examples/fleet, examples/consumer) under `set_mocks`, each resource sent
through its real provider to the in-process emulator, and the Pulumi.yaml files that run them.

The Pulumi CLI is not needed: the mocks do what the engine and the provider host would do for a
first `pulumi up` (check, then create), so the exports and the emulator's state are the real ones.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pytest
import yaml
from _mocks import ProviderMocks
from pulumi.runtime import rpc

from microvisor_pulumi.emulator import DEFAULT_DEVICES

REPO = Path(__file__).resolve().parent.parent
FLEET_DIR = REPO / "examples" / "fleet"
CONSUMER_DIR = REPO / "examples" / "consumer"
FLEET_STACK = "organization/microvisor-fleet/dev"

Program = Callable[[], dict[str, pulumi.Output[Any]]]


def _load(path: Path, name: str) -> ModuleType:
    """Import an example module by path, under a name no other test uses."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _twilio_config(emu: Any) -> dict[str, str]:
    return {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emu.url,
    }


class FleetReferenceMocks(ProviderMocks):
    """ProviderMocks that also answer a StackReference with a given stack's outputs.

    The engine answers `pulumi:pulumi:StackReference` with ``outputs`` (secret values wrapped as
    secrets) and ``secretOutputNames``; StackReference.get_output takes secretness from the latter.
    """

    def __init__(self, config: dict[str, str], stacks: dict[str, dict[str, Any]], secret_names: list[str]):
        super().__init__(config, project="microvisor-consumer")
        self.stacks = stacks
        self.secret_names = secret_names
        self.references: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ != "pulumi:pulumi:StackReference":
            return super().new_resource(args)
        self.references.append(args.name)
        outputs = {
            name: rpc.wrap_rpc_secret(value) if name in self.secret_names else value
            for name, value in self.stacks[args.name].items()
        }
        return args.name, {"name": args.name, "outputs": outputs, "secretOutputNames": self.secret_names}


@pytest.fixture
def stack_config() -> Iterator[Callable[[dict[str, str], list[str]], None]]:
    """Set the program's stack config (``project:key`` names); cleared after the test."""

    def set_config(config: dict[str, str], secret_keys: list[str]) -> None:
        pulumi.runtime.set_all_config(config, secret_keys)

    yield set_config
    pulumi.runtime.set_all_config({}, [])


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the program passes to pulumi.export, by name."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: seen.__setitem__(name, value))
    return seen


def run(program: Program) -> dict[str, tuple[Any, bool]]:
    """Run a program to completion under the current mocks: ``{output name: (value, is_secret)}``.

    Every resource registration has finished when this returns (pulumi.runtime.test waits for them).
    """
    results: dict[str, tuple[Any, bool]] = {}

    @pulumi.runtime.test
    def program_run() -> pulumi.Output[Any]:
        outputs = program()

        async def settle() -> None:
            for name, output in outputs.items():
                results[name] = (await output.future(), await output.is_secret())

        return pulumi.Output.from_input(settle())

    program_run()
    return results


# -- the fleet stack --------------------------------------------------------------------------------


@pytest.fixture
def fleet() -> ModuleType:
    return _load(FLEET_DIR / "fleet.py", "example_fleet_program")


@pytest.fixture
def fleet_mocks(emu: Any) -> ProviderMocks:
    mocks = ProviderMocks(_twilio_config(emu), project="microvisor-fleet")
    pulumi.runtime.set_mocks(mocks, project="microvisor-fleet", stack="dev", preview=False)
    return mocks


def test_fleet_exports_the_outputs_it_promises(fleet, fleet_mocks, emu, exported, stack_config):
    stack_config({"microvisor-fleet:logLevel": "debug"}, [])
    out = run(fleet.deploy)

    assert set(exported) == set(out)
    assert set(out) == {
        "api_endpoint",
        "log_level",
        "telemetry_token_rotated",
        "device_sids",
        "device_names",
        "device_token_rotated",
        "api_key_sid",
        "api_key_account_sid",
        "api_key_secret",
    }
    assert out["api_endpoint"] == (fleet.DEFAULT_API_ENDPOINT, False)
    assert out["log_level"] == ("debug", False)
    # One device was named by SID, the others by unique name: all come back as resolved SIDs.
    assert out["device_sids"] == ([sid for sid, _ in DEFAULT_DEVICES], False)
    # A device named by SID is not looked up on create (issue 20): its name is recorded by refresh.
    assert out["device_names"] == ([None, *(name for _, name in DEFAULT_DEVICES[1:])], False)
    assert all(out["device_token_rotated"][0])
    sid, sid_secret = out["api_key_sid"]
    assert sid.startswith("SK") and not sid_secret
    assert out["api_key_account_sid"] == (emu.account_sid, False)
    key_secret, key_secret_is_secret = out["api_key_secret"]
    assert key_secret and key_secret_is_secret


def test_fleet_addresses_devices_by_sid_and_by_unique_name(fleet):
    first, *others = fleet.default_devices()
    assert first == DEFAULT_DEVICES[0][0]
    assert others == [name for _, name in DEFAULT_DEVICES[1:]]


def test_fleet_leaves_the_emulator_holding_what_it_declared(fleet, fleet_mocks, emu, exported, stack_config):
    stack_config(
        {
            "microvisor-fleet:apiEndpoint": "https://api.example.net/v2",
            "microvisor-fleet:reportInterval": "15",
            "microvisor-fleet:deviceToken": "fleet-wide-token",
        },
        ["microvisor-fleet:deviceToken"],
    )
    out = run(fleet.deploy)

    store = emu.store
    configs = {r["key"]: r["value"] for _, r in store.list_items("config")}
    assert configs == {"api-endpoint": "https://api.example.net/v2", "log-level": fleet.DEFAULT_LOG_LEVEL}
    assert [r["key"] for _, r in store.list_items("secret")] == ["telemetry-token"]
    assert store.secret_value_for_device("telemetry-token") == fleet.DEMO_TELEMETRY_TOKEN
    for (sid, _), device in zip(DEFAULT_DEVICES, fleet.default_devices(), strict=True):
        device_configs = {r["key"]: r["value"] for _, r in store.list_items("config", sid)}
        assert device_configs == {"report-interval": "15"}
        # Each device has its own token, derived from the configured one under the name used for it.
        expected = fleet.device_token("fleet-wide-token", device)
        assert store.secret_value_for_device("device-token", sid) == expected
    tokens = {fleet.device_token("fleet-wide-token", d) for d in fleet.default_devices()}
    assert len(tokens) == len(DEFAULT_DEVICES)
    key = store.get_key(out["api_key_sid"][0])
    assert key["friendly_name"] == "microvisor-fleet-dev fleet"


def test_fleet_sends_every_secret_value_as_a_secret(fleet, fleet_mocks, exported, stack_config):
    stack_config({}, [])
    run(fleet.deploy)

    secrets = [
        (name, inputs["value"])
        for typ, name, inputs in fleet_mocks.created
        if typ.endswith(("microvisor:AccountSecret", "microvisor:DeviceSecret"))
    ]
    assert len(secrets) == 1 + len(DEFAULT_DEVICES)
    assert all(rpc.is_rpc_secret(value) for _, value in secrets), secrets
    configs = [inputs for typ, _, inputs in fleet_mocks.created if typ.endswith("Config")]
    assert configs and not any(rpc.is_rpc_secret(inputs["value"]) for inputs in configs)


def test_fleet_entry_point_runs_the_program(fleet_mocks, emu, monkeypatch, exported, stack_config):
    """`__main__.py` is what Pulumi runs: with its folder on sys.path, as Pulumi runs it."""
    stack_config({}, [])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "fleet", raising=False)

    @pulumi.runtime.test
    def entry_point() -> None:
        runpy.run_path(str(FLEET_DIR), run_name="__main__")

    try:
        entry_point()
    finally:
        sys.modules.pop("fleet", None)
    assert "api_key_secret" in exported
    assert {r["key"] for _, r in emu.store.list_items("config")} == {"api-endpoint", "log-level"}


# -- the consumer stack -----------------------------------------------------------------------------

FLEET_OUTPUTS = {
    "api_endpoint": "https://telemetry.example.com/v1/",
    "log_level": "info",
    "api_key_sid": "SK" + "ab" * 16,
    "api_key_secret": "the-key-secret",
}


@pytest.fixture
def consumer() -> ModuleType:
    return _load(CONSUMER_DIR / "consumer.py", "example_consumer_program")


@pytest.fixture
def consumer_mocks(emu: Any) -> FleetReferenceMocks:
    mocks = FleetReferenceMocks(_twilio_config(emu), {FLEET_STACK: FLEET_OUTPUTS}, ["api_key_secret"])
    pulumi.runtime.set_mocks(mocks, project="microvisor-consumer", stack="dev", preview=False)
    return mocks


def test_consumer_reads_the_fleet_stack_and_keeps_its_secret_secret(
    consumer, consumer_mocks, emu, exported, stack_config
):
    stack_config({}, [])
    out = run(consumer.deploy)

    assert consumer_mocks.references == [FLEET_STACK]
    assert set(exported) == set(out)
    assert out["api_endpoint"] == (FLEET_OUTPUTS["api_endpoint"], False)
    assert out["telemetry_url"] == ("https://telemetry.example.com/v1/telemetry", False)
    assert out["api_key_sid"] == (FLEET_OUTPUTS["api_key_sid"], False)
    assert out["api_key_secret"] == ("the-key-secret", True)
    assert out["uplink_credentials_rotated"][0]

    # What the consumer built from the fleet's outputs is in the account.
    published = emu.store.get_item("config", "telemetry-url")["value"]
    assert published == "https://telemetry.example.com/v1/telemetry"
    credentials = emu.store.secret_value_for_device("uplink-credentials")
    assert credentials == f"{FLEET_OUTPUTS['api_key_sid']}:the-key-secret"
    # ...and the secret went to the provider as a secret, never as plain text.
    (sent,) = [i for t, _, i in consumer_mocks.created if t.endswith("microvisor:AccountSecret")]
    assert rpc.is_rpc_secret(sent["value"])


def test_consumer_follows_the_configured_fleet_stack(consumer, emu, exported, stack_config):
    other = "acme/microvisor-fleet/prod"
    mocks = FleetReferenceMocks(_twilio_config(emu), {other: FLEET_OUTPUTS}, ["api_key_secret"])
    pulumi.runtime.set_mocks(mocks, project="microvisor-consumer", stack="dev", preview=False)
    stack_config({"microvisor-consumer:fleetStack": other}, [])
    run(consumer.deploy)
    assert mocks.references == [other]


# -- the project files ------------------------------------------------------------------------------


def test_root_project_runs_the_fleet_program_in_the_repository_venv():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "microvisor-fleet"
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": ".venv"}}
    assert (REPO / project["main"]).resolve() == FLEET_DIR
    assert (FLEET_DIR / "__main__.py").is_file()


def test_consumer_project_uses_the_same_venv():
    project = yaml.safe_load((CONSUMER_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "microvisor-consumer"
    assert project["runtime"]["name"] == "python"
    # Pulumi resolves virtualenv against the folder holding Pulumi.yaml.
    assert (CONSUMER_DIR / project["runtime"]["options"]["virtualenv"]).resolve() == REPO / ".venv"
    assert "main" not in project and (CONSUMER_DIR / "__main__.py").is_file()


def test_consumer_default_stack_matches_the_fleet_project(consumer):
    fleet_project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["name"]
    assert fleet_project == consumer.FLEET_PROJECT

"""DeviceProfile under set_mocks: children per (device, key), values of every shape, outputs per device."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest
from _mocks import EngineLikeMonitor, ProviderMocks, run_program
from pulumi.runtime import rpc

from microvisor_pulumi import DeviceProfile
from microvisor_pulumi.emulator import DEFAULT_DEVICES

(SID1, NAME1), (SID2, NAME2), (SID3, NAME3) = DEFAULT_DEVICES
CONFIG = "pulumi-python:dynamic/microvisor:DeviceConfig"
SECRET = "pulumi-python:dynamic/microvisor:DeviceSecret"


class RecordingMonitor(EngineLikeMonitor):
    """Also keeps each registration's parent URN and alias specs, which MockResourceArgs leave out."""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.mocks_.registrations[request.name, request.type] = request  # type: ignore[attr-defined]
        return super().RegisterResource(request)


class Mocks(ProviderMocks):
    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        self.registrations: dict[tuple[str, str], Any] = {}

    def install(self, stack: str = "dev", preview: bool = False) -> Mocks:
        pulumi.runtime.set_mocks(
            self, project=self.project, stack=stack, preview=preview, monitor=RecordingMonitor(self)
        )
        return self


class Echo(Mocks):
    """No provider: a resource's outputs are its inputs (enough to compare what a program declares)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.created.append((args.typ, args.name, dict(args.inputs)))
        outs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        return f"{args.name}-id", outs


def run(program: Any) -> dict[str, tuple[Any, bool]]:
    return run_program(program)


@pytest.fixture
def live(emu: Any) -> Mocks:
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emu.url,
    }
    return Mocks(config).install()


def test_profile_applies_every_item_to_every_device_with_values_of_every_shape(live, emu):
    keys = {SID1: b"\x00\x01key-1", NAME2: b"\x02key-2"}

    def program() -> dict[str, pulumi.Output[Any]]:
        profile = DeviceProfile(
            "mqtt",
            devices=[SID1, NAME2],
            configs={
                "broker-host": "mqtt.example.com",
                "broker-port": pulumi.Output.from_input("8883"),
                "client-id": lambda device: f"client-{device}",
                "blob": b"\xff\xfe",
            },
            secrets={"private-key": lambda device: keys[device], "token": pulumi.Output.secret("t0k")},
        )
        return {
            "sids": profile.device_sids,
            "name2": profile.devices[NAME2].name,
            "sid2": profile.devices[NAME2].sid,
            "key1_value": profile.devices[SID1].secrets["private-key"].value,
        }

    out = run(program)
    assert out["sids"] == ({SID1: SID1, NAME2: SID2}, False)
    assert out["sid2"] == (SID2, False) and out["name2"] == (NAME2, False)
    assert out["key1_value"][1] is True  # a secret's value stays secret in the outputs

    store = emu.store
    for device, sid in ((SID1, SID1), (NAME2, SID2)):
        configs = {r["key"]: r["value"] for _, r in store.list_items("config", sid)}
        assert configs == {
            "broker-host": "mqtt.example.com",
            "broker-port": "8883",
            "client-id": f"client-{device}",
            "blob": base64.b64encode(b"\xff\xfe").decode(),
        }
        assert store.secret_value_for_device("private-key", sid) == base64.b64encode(keys[device]).decode()
        assert store.secret_value_for_device("token", sid) == "t0k"
    assert store.list_items("config", SID3) == []
    # Every secret value reached the provider as a secret.
    sent = [inputs["value"] for typ, _, inputs in live.created if typ == SECRET]
    assert len(sent) == 4 and all(rpc.is_rpc_secret(v) for v in sent)


def test_children_are_named_per_device_and_key_parented_and_aliased_to_the_root(emu):
    mocks = Echo({}).install()

    def program() -> dict[str, pulumi.Output[Any]]:
        profile = DeviceProfile(
            "p", devices=[SID1, NAME2], configs={"a": "1"}, secrets={"s": "x"}, overwrite=True
        )
        return {"sids": profile.device_sids}

    run(program)
    component = mocks.registrations["p", "microvisor:index:DeviceProfile"]
    assert "::pulumi:pulumi:Stack::" in component.parent  # a root resource
    children = {
        (n, t): r for (n, t), r in mocks.registrations.items() if t != "microvisor:index:DeviceProfile"
    }
    assert set(children) == {
        (f"{SID1}/a", CONFIG),
        (f"{NAME2}/a", CONFIG),
        (f"{SID1}/s", SECRET),
        (f"{NAME2}/s", SECRET),
    }
    for request in children.values():
        assert request.parent.endswith("microvisor:index:DeviceProfile::p")
        # The same name at the stack root: where `microvisor-pulumi inventory` put it.
        (alias,) = request.aliases
        assert alias.spec.noParent and not alias.spec.name and not alias.spec.type
    overwrite = [inputs["overwrite"] for _, _, inputs in mocks.created if "overwrite" in inputs]
    assert overwrite == [True] * 4


def _declared(devices: list[str]) -> set[tuple[str, str, str]]:
    mocks = Echo({}).install()

    def program() -> dict[str, pulumi.Output[Any]]:
        DeviceProfile(
            "p",
            devices=devices,
            configs={"host": "h", "id": lambda d: f"id-{d}"},
            secrets={"k": lambda d: d[::-1]},
        )
        return {}

    run(program)

    def value(inputs: dict[str, Any]) -> str:
        raw = inputs["value"]
        return str(rpc.unwrap_rpc_secret(raw) if rpc.is_rpc_secret(raw) else raw)

    return {(t, n, value(i)) for t, n, i in mocks.created if t in (CONFIG, SECRET)}


def test_adding_removing_or_reordering_devices_touches_only_their_children():
    three = _declared([SID1, NAME2, NAME3])
    assert _declared([NAME3, SID1, NAME2]) == three  # reordering: nothing changes
    two = _declared([SID1, NAME3])
    removed = three - two
    assert {name.split("/")[0] for _, name, _ in removed} == {NAME2}
    assert len(removed) == 3 and two < three  # the others are declared exactly as before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"devices": SID1, "configs": {"a": "1"}}, TypeError, "devices must be a list"),
        ({"devices": [], "configs": {"a": "1"}}, ValueError, "at least one device"),
        ({"devices": [SID1, ""], "configs": {"a": "1"}}, ValueError, r"devices\[1\] must be a non-empty"),
        ({"devices": [SID1, SID1], "configs": {"a": "1"}}, ValueError, r"devices\[1\] .* listed twice"),
        ({"devices": [SID1], "configs": {"": "1"}}, ValueError, "configs keys must be non-empty"),
        ({"devices": [SID1], "secrets": {"k": None}}, ValueError, r"secrets\['k'\] has no value"),
        ({"devices": [SID1]}, ValueError, "at least one of configs or secrets"),
    ],
)
def test_bad_input_is_refused_at_declaration(kwargs, error, message):
    mocks = Echo({}).install()
    with pytest.raises(error, match=message):
        DeviceProfile("bad", **kwargs)
    assert mocks.created == []


def test_readme_profile_replaces_the_generated_loop_under_the_same_names():
    """README step 5 on the generated example: same children, same names, same Config values."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    step5 = readme.split("**5. Move to `DeviceProfile`.**", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", step5, re.S)
    assert snippet is not None
    example = (root / "examples" / "adopted-fleet" / "__main__.py").read_text()
    table = example.split("\nfor key, value in ACCOUNT_CONFIGS.items():", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(table, "table", "exec"), namespace)  # DEVICES and friends, no resources yet
    devices = namespace["DEVICES"]
    mocks = Echo({}).install()
    names = [n for d in devices.values() for n in d["secrets"].values()]
    pulumi.runtime.set_all_config({f"fleet:{n}": "v" for n in names}, [f"fleet:{n}" for n in names])

    def program() -> dict[str, Any]:
        exec(compile(table + "\n" + snippet.group(1), "readme", "exec"), {"__name__": "__main__"})
        return {}

    try:
        run(program)
    finally:
        pulumi.runtime.set_all_config({}, [])
    declared = {(t, n): i for t, n, i in mocks.created if t in (CONFIG, SECRET)}
    expected = {(CONFIG, f"{sid}/{k}") for sid, d in devices.items() for k in d["configs"]}
    expected |= {(SECRET, f"{sid}/{k}") for sid, d in devices.items() for k in d["secrets"]}
    assert set(declared) == expected
    for sid, d in devices.items():
        for key, value in d["configs"].items():
            assert declared[CONFIG, f"{sid}/{key}"]["value"] == value


def test_pulumis_pickler_patch_does_not_pile_up_across_many_resources():
    """serialize_provider nests one wrapper per call (pulumi 3.272); ~980 nested wrappers exhaust
    the recursion limit. Each registration must leave pickle as it found it."""
    import pickle

    from pulumi.dynamic.dynamic import serialize_provider

    from microvisor_pulumi import AccountConfig
    from microvisor_pulumi.resources._resource import _unwrap_pickler
    from microvisor_pulumi.resources.microvisor import AccountConfigProvider

    Echo({}).install()
    depths: list[str] = []

    def program() -> dict[str, Any]:
        for i in range(5):
            AccountConfig(f"c{i}", key=f"c{i}", value="v")
            depths.append(pickle._Pickler._batch_setitems.__name__)  # type: ignore[attr-defined]
        return {}

    run(program)
    assert depths == ["_batch_setitems"] * 5
    # What a 300-device fleet's 1,800 registrations do to pickle, without the mocks' overhead.
    provider = AccountConfigProvider()
    pickled: set[str] = set()
    for _ in range(1800):
        pickled.add(serialize_provider(provider))
        _unwrap_pickler()
    assert len(pickled) == 1

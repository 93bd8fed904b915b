"""One item, one resource per stack (issue 18, defects 1 and 4), as successive `pulumi up`s whose
every step goes through the real provider host (`python -m pulumi.dynamic`) to the emulator.

Twilio has one Config or Secret per (device, key). Two resources of one stack naming it (the same
device by SID and by unique name) would overwrite each other, and dropping one would delete the
item under the other. And a DeviceProfile child is named after its device as listed, so a device
listed under its new unique name after a rename names other children: the stack's own items must
then never be called someone else's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pulumi
import pytest
from _deploy import StackMocks
from _host import ProviderHost, engine
from _reliability import DEV1_NAME, DEV1_SID, host_config, snapshot, start_host

from microvisor_pulumi import AccountConfig, AccountSecret, DeviceConfig, DeviceProfile, DeviceSecret

CONFIG = "pulumi-python:dynamic/microvisor:DeviceConfig"
SECRET = "pulumi-python:dynamic/microvisor:DeviceSecret"
Program = Callable[[], dict[str, pulumi.Output[Any]]]


@pytest.fixture
def hosts(emulator) -> Iterator[Callable[[], ProviderHost]]:
    """New provider hosts, one per `pulumi up` as the engine starts them: nothing remembered."""
    started: list[ProviderHost] = []

    def start() -> ProviderHost:
        started.append(start_host(host_config(emulator)))
        return started[-1]

    yield start
    for host in started:
        host.close()


def writes(emu) -> list[tuple[str, str, int | None]]:
    """Every call that could change what Twilio holds, in order."""
    log = sorted(emu.request_log(), key=lambda e: e["time"])
    return [(e["method"], e["path"], e["status"]) for e in log if e["method"] in ("POST", "DELETE")]


def error_text(info: pytest.ExceptionInfo[BaseException]) -> str:
    """The provider's message: the last line of the host's traceback, which the run re-raises."""
    err = info.value
    text = err.details() if isinstance(err, grpc.RpcError) else str(err)
    last = text.strip().splitlines()[-1]
    assert last.startswith("microvisor_pulumi."), f"not a provider error: {text}"
    return last


def adopt_items(api) -> None:
    """Items set outside Pulumi (with curl, say), to be adopted with overwrite=True."""
    api.post(f"/v1/Devices/{DEV1_SID}/Configs", data={"Key": "mode", "Value": "slow"}).raise_for_status()
    api.post(f"/v1/Devices/{DEV1_SID}/Secrets", data={"Key": "psk", "Value": "old"}).raise_for_status()


def profile(devices: list[str], overwrite: bool = False, **kwargs: Any) -> Program:
    def program() -> dict[str, pulumi.Output[Any]]:
        made = DeviceProfile(
            "p",
            devices=devices,
            configs={"mode": "fast"},
            secrets={"psk": "s3cret"},
            overwrite=overwrite,
            **kwargs,
        )
        return {"sids": made.device_sids}

    return program


HELD = {("config", DEV1_SID, "mode"): "fast", ("secret", DEV1_SID, "psk"): "s3cret"}


# -- defect 1: one device named twice ---------------------------------------------------------------


def reference_writes(emu, api, hosts, program: Program, overwrite: bool) -> list[tuple[str, str, int | None]]:
    """What the same `pulumi up` writes when the item is declared once, from the same start."""
    emu.reset()
    if overwrite:
        adopt_items(api)
    emu.clear_request_log()
    StackMocks(hosts()).up(program)
    return sorted(writes(emu))  # registrations run on several threads: their order is not the point


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_profile_listing_one_device_by_sid_and_by_name_is_refused_before_the_second_writes(
    emu, api, hosts, overwrite
):
    if overwrite:
        adopt_items(api)  # the adoption flow: both children would take the items over
    emu.clear_request_log()
    with pytest.raises(Exception) as info:
        StackMocks(hosts()).up(profile([DEV1_SID, DEV1_NAME], overwrite))

    message = error_text(info)
    for child in (f"'{DEV1_SID}/", f"'{DEV1_NAME}/"):
        assert child in message
    assert "of DeviceProfile 'p'" in message and "lists this device twice" in message
    assert "wrote nothing" in message and "belongs to someone else" not in message
    assert snapshot(emu) == HELD
    # The second child wrote nothing: the writes are exactly those of the device listed once.
    assert sorted(writes(emu)) == reference_writes(emu, api, hosts, profile([DEV1_SID], overwrite), overwrite)


def by_sid_and_by_name(kind: type[Any], declare: tuple[str, ...] = ("by-sid", "by-name")) -> Program:
    devices = {"by-sid": DEV1_SID, "by-name": DEV1_NAME}

    def program() -> dict[str, pulumi.Output[Any]]:
        for name in declare:
            kind(name, device_sid=devices[name], key="k", value="v")
        return {}

    return program


@pytest.mark.parametrize("kind", [DeviceConfig, DeviceSecret])
def test_a_device_item_by_sid_beside_one_by_unique_name_is_refused_naming_both(emu, api, hosts, kind):
    stack = StackMocks(hosts())
    with pytest.raises(Exception) as info:
        stack.up(by_sid_and_by_name(kind))

    message = error_text(info)
    name = kind.__name__
    assert (
        f"{name} 'by-sid' and {name} 'by-name'" in message
        or f"{name} 'by-name' and {name} 'by-sid'" in message
    )
    assert f"of device {DEV1_SID}" in message and f"'{DEV1_SID}'" in message and f"'{DEV1_NAME}'" in message
    assert "wrote nothing" in message and "remove" in message
    refused = sorted(writes(emu))
    assert refused == reference_writes(emu, api, hosts, by_sid_and_by_name(kind, ("by-sid",)), False)
    # The way out the message names works: remove the one it names, and the next `up` has nothing to do.
    emu.reset()
    stack = StackMocks(hosts())
    with pytest.raises(Exception) as info:
        stack.up(by_sid_and_by_name(kind))
    loser = re.search(rf"remove {name} '([a-z-]+)' from the program", error_text(info))
    assert loser is not None
    stack.move_to(hosts())
    emu.clear_request_log()
    stack.up(by_sid_and_by_name(kind, tuple({"by-sid", "by-name"} - {loser.group(1)})))
    assert writes(emu) == []
    assert len(snapshot(emu)) == 1


def test_two_account_configs_with_one_key_are_refused_naming_both(emu, hosts):
    def program() -> dict[str, pulumi.Output[Any]]:
        AccountConfig("first", key="endpoint", value="a")
        AccountConfig("second", key="endpoint", value="b", overwrite=True)
        return {}

    with pytest.raises(Exception) as info:
        StackMocks(hosts()).up(program)
    message = error_text(info)
    assert "AccountConfig 'first'" in message and "AccountConfig 'second'" in message
    assert "the account Config 'endpoint'" in message and "wrote nothing" in message
    # Whichever came first holds it with its own value; the other wrote nothing (no takeover).
    held = snapshot(emu)
    assert list(held) == [("config", "", "endpoint")]
    assert [m for m, _, _ in writes(emu)] == ["POST"]


# -- defect 1, in a stack an earlier version left with two holders of one item -----------------------


def old_duplicate_stack(emu, api, hosts) -> StackMocks:
    """The state the old code left: children of DeviceProfile 'p' for DEV1 by SID and by name, both
    holding the adopted items (overwrite=True), made by a program that did not say which resource
    it was. Returns a stack whose next `up` runs in a new host."""
    adopt_items(api)
    old = hosts()
    stack = StackMocks(hosts())
    for device in (DEV1_SID, DEV1_NAME):
        for kind, key, value in (("DeviceConfig", "mode", "fast"), ("DeviceSecret", "psk", "s3cret")):
            eng = engine(old, kind)
            inputs = {"device_sid": device, "key": key, "value": value, "overwrite": True}
            state = eng.create(inputs, name=f"{device}/{key}")
            stack.adopt(eng, f"{device}/{key}", state)
    stack.move_to(stack.host)  # the next `up` starts a new host: nothing of the old one remembered
    assert snapshot(emu) == HELD
    return stack


@pytest.mark.parametrize("kept", [DEV1_SID, DEV1_NAME])
def test_dropping_the_duplicate_never_deletes_what_the_kept_children_hold(emu, api, hosts, kept):
    stack = old_duplicate_stack(emu, api, hosts)
    emu.clear_request_log()

    stack.up(profile([kept], overwrite=True))

    assert snapshot(emu) == HELD  # the devices keep their Config and Secret
    assert writes(emu) == []
    dropped = DEV1_NAME if kept == DEV1_SID else DEV1_SID
    steps = dict(stack.steps)
    assert steps[f"{kept}/mode"] == steps[f"{kept}/psk"] == "same"
    assert steps[f"{dropped}/mode"] == steps[f"{dropped}/psk"] == "delete"
    # The kept children still own the items: destroying them deletes the items.
    stack.move_to(hosts())
    stack.up(lambda: {"sids": pulumi.Output.from_input({})})
    assert snapshot(emu) == {}


def test_both_duplicates_still_declared_are_refused_before_any_write(emu, api, hosts):
    stack = old_duplicate_stack(emu, api, hosts)
    emu.clear_request_log()
    with pytest.raises(Exception) as info:
        stack.up(profile([DEV1_SID, DEV1_NAME], overwrite=True))
    message = error_text(info)
    assert f"'{DEV1_SID}/" in message and f"'{DEV1_NAME}/" in message and "lists this device twice" in message
    assert writes(emu) == [] and snapshot(emu) == HELD


# -- defect 4: a device renamed, and listed by its new name ---------------------------------------------


def rename_device(api, new_name: str) -> None:
    api.post(f"/v1/Devices/{DEV1_SID}", data={"UniqueName": new_name}).raise_for_status()


def test_a_renamed_device_listed_by_its_new_name_stops_with_what_to_write_then_is_no_change(emu, api, hosts):
    stack = StackMocks(hosts())
    stack.up(profile([DEV1_NAME]))
    assert snapshot(emu) == HELD
    rename_device(api, "lab-bench-7")
    stack.move_to(hosts())
    emu.clear_request_log()

    with pytest.raises(Exception) as info:
        stack.up(profile(["lab-bench-7"]))

    message = error_text(info)
    assert "belongs to someone else" not in message.split("If it belongs to someone else")[0]
    assert "so it belongs to someone else" not in message
    assert "renamed={'lab-bench-7': '<the device as listed before>'}" in message
    assert "DeviceProfile 'p'" in message and "this stack's own" in message
    assert snapshot(emu) == HELD
    assert all(
        method == "POST" and status == 409 for method, _, status in writes(emu)
    )  # refused, not written

    # What the message says to write: the children keep their state, and nothing happens.
    stack.move_to(hosts())
    emu.clear_request_log()
    stack.up(profile(["lab-bench-7"], renamed={"lab-bench-7": DEV1_NAME}))
    assert writes(emu) == [] and snapshot(emu) == HELD
    assert [s for n, s in stack.steps[-2:]] == ["same", "same"]
    assert {name for _, name in stack.resources} == {"lab-bench-7/mode", "lab-bench-7/psk"}
    # Once applied the entry can go; listing the device by SID instead is the same move.
    stack.move_to(hosts())
    stack.up(profile(["lab-bench-7"]))
    stack.move_to(hosts())
    stack.up(profile([DEV1_SID], renamed={DEV1_SID: "lab-bench-7"}))
    assert writes(emu) == [] and snapshot(emu) == HELD
    assert [s for n, s in stack.steps[-4:]] == ["same"] * 4


@pytest.mark.parametrize(
    ("renamed", "message"),
    [
        ({"other": "x"}, r"renamed\['other'\] names no device of devices"),
        ({DEV1_SID: ""}, r"renamed\[.*\] must be the device as listed before"),
        ({DEV1_SID: DEV1_NAME}, r"is listed in devices too"),
        ("x", "renamed must map"),
    ],
)
def test_bad_renamed_is_refused_at_declaration(renamed, message):
    with pytest.raises((TypeError, ValueError), match=message):
        DeviceProfile("bad", devices=[DEV1_SID, DEV1_NAME], configs={"a": "1"}, renamed=renamed)


# -- a stack an earlier version left with two holders and no claims ----------------------------------


def without_claims(stack: StackMocks) -> None:
    """The state as a version before claims (2026-11-23) left it, or as `pulumi import` leaves it:
    no claim in any resource's outputs, no declared_by in its inputs."""
    for tracked in stack.resources.values():
        state = tracked.state
        del state.outputs.fields["claim"]
        if "declared_by" in state.inputs.fields:
            del state.inputs.fields["declared_by"]


@pytest.mark.parametrize("kept", [DEV1_SID, DEV1_NAME])
def test_dropping_a_claimless_duplicate_never_deletes_what_the_kept_children_hold(emu, api, hosts, kept):
    stack = old_duplicate_stack(emu, api, hosts)
    without_claims(stack)
    emu.clear_request_log()

    stack.up(profile([kept], overwrite=True))

    assert writes(emu) == []
    assert snapshot(emu) == HELD  # the devices keep their Config and Secret
    # The kept children still own the items: destroying them deletes the items.
    stack.move_to(hosts())
    stack.up(lambda: {"sids": pulumi.Output.from_input({})})
    assert snapshot(emu) == {}


@pytest.mark.parametrize("kept", [DEV1_SID, DEV1_NAME])
def test_a_claimless_duplicate_is_not_deleted_when_the_kept_one_changes_in_place(emu, api, hosts, kept):
    """The kept child's Config gets a new value, updated in place: its diff still answers
    deleteBeforeReplace (for a replacement the program might force), but nothing is replaced, so it
    gives no dropped duplicate leave to delete the item."""
    stack = old_duplicate_stack(emu, api, hosts)
    without_claims(stack)
    emu.clear_request_log()

    def program() -> dict[str, pulumi.Output[Any]]:
        made = DeviceProfile(
            "p", devices=[kept], configs={"mode": "slower"}, secrets={"psk": "s3cret"}, overwrite=True
        )
        return {"sids": made.device_sids}

    stack.up(program)

    assert [m for m, _, _ in writes(emu)] == ["POST"]  # the value, in place; no DELETE
    assert snapshot(emu) == {**HELD, ("config", DEV1_SID, "mode"): "slower"}


@pytest.mark.parametrize("kind", [DeviceSecret, AccountSecret])
def test_a_claimless_item_replaced_delete_first_is_still_replaced(emu, hosts, kind):
    """The holder's own delete-first replacement (a secret's new value) still deletes and recreates."""

    def program(value: str) -> Program:
        def declare() -> dict[str, pulumi.Output[Any]]:
            if kind is DeviceSecret:
                DeviceSecret("s", device_sid=DEV1_SID, key="psk", value=value)
            else:
                AccountSecret("s", key="psk", value=value)
            return {}

        return declare

    stack = StackMocks(hosts())
    stack.up(program("one"))
    without_claims(stack)
    stack.move_to(hosts())
    stack.up(program("two"))
    assert [step for name, step in stack.steps] == ["create", "delete-create"]
    assert len(snapshot(emu)) == 1


# -- two parents of one type and name, under parents of different types ------------------------------


class _Capture(pulumi.runtime.Mocks):
    """Mocks that keep the inputs the program registers for each DeviceConfig, to send to the host."""

    def __init__(self) -> None:
        self.configs: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ.endswith(":DeviceConfig"):
            inputs = {k: v for k, v in args.inputs.items() if k != "__provider"}
            self.configs.append((args.name, inputs))
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}


class _Site(pulumi.ComponentResource):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"example:index:{kind}", name)
        DeviceProfile(
            "defaults",
            devices=[DEV1_SID],
            configs={"mode": f"{kind}-{name}"},
            overwrite=True,
            opts=pulumi.ResourceOptions(parent=self),
        )


def test_children_alike_in_kind_name_and_parent_under_different_grandparents_are_two_resources(emu, hosts):
    """A DeviceProfile 'defaults' in each of two components of different types: their children have
    one kind, name and parent type and name, and different URNs. Both naming one item is refused."""
    capture = _Capture()
    pulumi.runtime.set_mocks(capture, project="fleet", stack="dev", preview=False)

    @pulumi.runtime.test
    def declare() -> None:
        _Site("Site", "north")
        _Site("Lab", "north")

    declare()
    assert [name for name, _ in capture.configs] == [f"{DEV1_SID}/mode"] * 2
    host = hosts()
    first, second = (inputs for _, inputs in capture.configs)
    engine(host, "DeviceConfig").create(first, name="site")
    with pytest.raises(grpc.RpcError) as info:
        engine(host, "DeviceConfig").create(second, name="lab")
    message = error_text(info)
    assert "both declare" in message and "wrote nothing" in message
    assert "lists this device twice" not in message  # two profiles, not one
    # The first to create holds the item with its own value (registrations run in any order).
    assert {first["value"], second["value"]} == {"Site-north", "Lab-north"}
    assert snapshot(emu) == {("config", DEV1_SID, "mode"): first["value"]}

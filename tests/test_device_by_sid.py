"""Issue 20: a device item given by its `UV…` SID costs no device lookup on create, update or delete.

A fresh host per test, so no earlier test has filled the process's device cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from _host import engine
from _reliability import DEV1_NAME, DEV1_SID, host_config, snapshot, start_host

from microvisor_pulumi.emulator import DEFAULT_DEVICES

MISSING_SID = "UV" + "f" * 32


@pytest.fixture
def fresh(emulator: Any) -> Iterator[Any]:
    h = start_host(host_config(emulator))
    yield h
    h.close()


@pytest.mark.parametrize("kind", ["DeviceConfig", "DeviceSecret"])
def test_create_update_delete_by_sid_make_one_call_each(fresh, emu, calls, kind):
    eng = engine(fresh, kind)
    state = eng.create({"device_sid": DEV1_SID, "key": "k", "value": "v1"})
    collection = "Configs" if kind == "DeviceConfig" else "Secrets"
    assert calls() == [("POST", f"/v1/Devices/{DEV1_SID}/{collection}", 201)]
    # Recorded by refresh instead (the first refresh in a process looks each device up once).
    assert "device_name" not in state.outs and state.outs["device_sid"] == DEV1_SID

    calls.reset()
    # A config's value is updated in place; a secret's is a replacement (delete, then create).
    state = eng.up(state, {"device_sid": DEV1_SID, "key": "k", "value": "v2"})
    assert all(not path.rstrip("/").endswith(DEV1_SID) for _, path, _ in calls())
    assert snapshot(emu) == {(collection.lower()[:-1], DEV1_SID, "k"): "v2"}

    calls.reset()
    eng.delete(state)
    assert calls() == [("DELETE", f"/v1/Devices/{DEV1_SID}/{collection}/k", 204)]

    calls.reset()
    refreshed = eng.refresh(eng.create({"device_sid": DEV1_SID, "key": "k2", "value": "v"}))
    assert refreshed is not None and refreshed.outs["device_name"] == DEV1_NAME


@pytest.mark.parametrize("kind", ["DeviceConfig", "DeviceSecret"])
def test_create_on_a_sid_that_names_no_device_says_so(fresh, emu, kind):
    eng = engine(fresh, kind)
    with pytest.raises(grpc.RpcError) as info:
        eng.create({"device_sid": MISSING_SID, "key": "k", "value": "v"})
    details = info.value.details()
    assert f"device_sid '{MISSING_SID}' names no Microvisor device on this account" in details
    assert snapshot(emu) == {}


def test_a_five_resource_program_costs_seven_calls_on_its_first_up(fresh, emu, calls, api):
    """Issue 20's example: an account config and secret, one device item by unique name, one by SID,
    and an API key. 1 + 1 + (lookup + create) + 1 + 2 (an API key is made, then named) = 7; the SID
    used to cost a lookup too (8)."""
    dev2_sid, dev2_name = DEFAULT_DEVICES[1]
    engine(fresh, "AccountConfig").create({"key": "api-endpoint", "value": "https://example.com"})
    engine(fresh, "AccountSecret").create({"key": "token", "value": "s3cret-token"})
    by_name = engine(fresh, "DeviceConfig").create({"device_sid": dev2_name, "key": "mode", "value": "fast"})
    by_sid = engine(fresh, "DeviceSecret").create(
        {"device_sid": DEV1_SID, "key": "wifi", "value": "psk-1234"}
    )
    engine(fresh, "ApiKey").create({"friendly_name": "backend"})
    made = calls()
    assert all(status is not None and status < 300 for _, _, status in made)
    assert len(made) == 7, made
    assert [path for _, path, _ in made if path.startswith("/v1/Devices/") and path.count("/") == 3] == [
        f"/v1/Devices/{dev2_name}"
    ]
    assert by_name.outs["device_sid"] == dev2_sid and by_name.outs["device_name"] == dev2_name
    assert by_sid.outs["device_sid"] == DEV1_SID

"""Bad input is refused by check, naming the field, before any HTTP request; good edge cases round-trip.

Inputs go through the real host's Check (protobuf Structs, as the engine sends them). Values a
Struct cannot carry (bytes, lone surrogates) go to the provider's check() directly.
"""

from __future__ import annotations

import base64
from typing import Any

import grpc
import pytest
from _host import CheckFailed
from _reliability import (
    DEV1_NAME,
    DEV1_SID,
    KINDS,
    engine,
    host_config,
    new_provider,
    refreshed_outs,
    snapshot,
    start_host,
)
from pulumi.runtime import rpc

HEX32 = "0123456789abcdef" * 2


@pytest.fixture(scope="module")
def host(emulator):
    h = start_host(host_config(emulator, readTimeout="2", maxRetries="1"))
    yield h
    h.close()


def cfg(**kw: Any) -> dict[str, Any]:
    return {"key": "k", "value": "v", **kw}


def dev(**kw: Any) -> dict[str, Any]:
    return {"device_sid": DEV1_SID, "key": "k", "value": "v", **kw}


def without(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k != name}


# (kind, inputs, the field that must be named). None-valued inputs are dropped by the engine.
INVALID: list[tuple[str, dict[str, Any], str]] = [
    # keys
    ("AccountConfig", cfg(key=""), "key"),
    ("AccountConfig", cfg(key="k" * 101), "key"),
    ("AccountConfig", cfg(key="é" * 101), "key"),  # 101 two-byte characters
    ("AccountConfig", cfg(key="€" * 101), "key"),  # 101 three-byte characters
    ("AccountConfig", cfg(key="😀" * 101), "key"),  # 101 four-byte characters
    ("AccountConfig", cfg(key=5), "key"),
    ("AccountConfig", cfg(key=True), "key"),
    ("AccountConfig", cfg(key=["a"]), "key"),
    ("AccountConfig", cfg(key={"a": "b"}), "key"),
    ("AccountConfig", without(cfg(), "key"), "key"),
    ("AccountConfig", cfg(key="a\x00b"), "key"),
    ("AccountConfig", cfg(key="a\nb"), "key"),
    ("AccountConfig", cfg(key="a\tb"), "key"),
    ("AccountConfig", cfg(key="a\x7fb"), "key"),
    ("AccountConfig", cfg(key="a\x85b"), "key"),  # C1 control (NEL)
    ("AccountConfig", cfg(key="."), "key"),  # a dot segment: no URL can name it
    ("AccountConfig", cfg(key=".."), "key"),
    ("AccountSecret", cfg(key=""), "key"),
    ("AccountSecret", cfg(key="\x1b[31m"), "key"),
    # values
    ("AccountConfig", without(cfg(), "value"), "value"),
    ("AccountConfig", cfg(value="v" * 4097), "value"),
    ("AccountConfig", cfg(value="é" * 4097), "value"),
    ("AccountConfig", cfg(value=3), "value"),
    ("AccountConfig", cfg(value=1.5), "value"),
    ("AccountConfig", cfg(value=False), "value"),
    ("AccountConfig", cfg(value=[1, 2]), "value"),
    ("AccountConfig", cfg(value={"x": 1}), "value"),
    ("AccountConfig", cfg(value="a\x00b"), "value"),
    ("AccountSecret", without(cfg(), "value"), "value"),
    ("AccountSecret", cfg(value="s" * 4097), "value"),
    ("AccountSecret", cfg(value=12), "value"),
    ("DeviceSecret", dev(value={"nested": "secret"}), "value"),
    # overwrite
    ("AccountConfig", cfg(overwrite="yes"), "overwrite"),
    ("AccountSecret", cfg(overwrite=1), "overwrite"),
    # devices
    ("DeviceConfig", without(dev(), "device_sid"), "device_sid"),
    ("DeviceConfig", dev(device_sid=DEV1_NAME + " "), "device_sid"),
    ("DeviceConfig", dev(device_sid="UV\t1"), "device_sid"),
    ("DeviceConfig", dev(device_sid=".."), "device_sid"),
    ("DeviceConfig", dev(device_sid=""), "device_sid"),
    ("DeviceConfig", dev(device_sid=" " + DEV1_NAME), "device_sid"),
    ("DeviceConfig", dev(device_sid="n" * 129), "device_sid"),
    ("DeviceConfig", dev(device_sid=42), "device_sid"),
    ("DeviceConfig", dev(device_sid="a\nb"), "device_sid"),
    ("DeviceConfig", dev(device_sid="."), "device_sid"),
    ("DeviceSecret", dev(device_sid=[DEV1_SID]), "device_sid"),
    ("DeviceSecret", dev(key="k" * 101), "key"),
    # API keys
    ("ApiKey", {"friendly_name": "n" * 65}, "friendly_name"),
    ("ApiKey", {"friendly_name": "é" * 65}, "friendly_name"),
    ("ApiKey", {"friendly_name": 7}, "friendly_name"),
    ("ApiKey", {"friendly_name": "a\nb"}, "friendly_name"),
    ("ApiKey", {"friendly_name": {"a": 1}}, "friendly_name"),
    ("ApiKey", {"account_sid": "AC123"}, "account_sid"),
    ("ApiKey", {"account_sid": "ac" + HEX32}, "account_sid"),
    ("ApiKey", {"account_sid": "AC" + "g" * 32}, "account_sid"),
    ("ApiKey", {"account_sid": "AC" + HEX32 + "0"}, "account_sid"),
    ("ApiKey", {"account_sid": "SK" + HEX32}, "account_sid"),
    ("ApiKey", {"account_sid": ""}, "account_sid"),
    ("ApiKey", {"account_sid": 1}, "account_sid"),
]


@pytest.mark.parametrize(
    "kind,inputs,field", INVALID, ids=[f"{i}-{c[0]}-{c[2]}" for i, c in enumerate(INVALID)]
)
def test_invalid_input_fails_check_naming_the_field_without_a_request(host, emu, kind, inputs, field):
    with pytest.raises(CheckFailed) as info:
        engine(host, kind).check(inputs)
    failures = info.value.failures
    assert [prop for prop, _ in failures] == [field]
    assert f"'{field}'" in failures[0][1] and kind in failures[0][1]
    assert emu.request_log() == []


def test_several_problems_are_all_reported(host, emu):
    with pytest.raises(CheckFailed) as info:
        engine(host, "DeviceSecret").check({"key": "", "value": 5})
    assert sorted(p for p, _ in info.value.failures) == ["device_sid", "key", "value"]
    assert emu.request_log() == []


# Values a protobuf Struct cannot carry: straight to the provider's check().
DIRECT: list[tuple[str, dict[str, Any], str]] = [
    ("AccountConfig", cfg(key="\ud800"), "key"),
    ("AccountConfig", cfg(value="a\udfffb"), "value"),
    ("AccountSecret", cfg(value="\udc00"), "value"),
    ("DeviceConfig", dev(device_sid="dev\ud83d"), "device_sid"),
    ("ApiKey", {"friendly_name": "\udc00"}, "friendly_name"),
    ("AccountConfig", cfg(key=b"bytes-key"), "key"),
    ("AccountConfig", cfg(key=None), "key"),
    ("AccountSecret", cfg(value=None), "value"),
    ("AccountConfig", cfg(value=b"\x00" * 3073), "value"),  # base64 of it is 4100 characters
    ("DeviceSecret", dev(value=bytearray(b"\xff" * 3075)), "value"),
]


@pytest.mark.parametrize(
    "kind,inputs,field", DIRECT, ids=[f"{i}-{c[0]}-{c[2]}" for i, c in enumerate(DIRECT)]
)
def test_unencodable_input_fails_the_providers_check(emu, kind, inputs, field):
    result = new_provider(kind).check({}, dict(inputs))
    assert [f.property for f in result.failures] == [field]
    assert f"'{field}'" in result.failures[0].reason
    assert emu.request_log() == []


@pytest.mark.parametrize("size,ok", [(3072, True), (3073, False)])
def test_bytes_become_base64_and_the_limit_applies_to_the_text(size, ok):
    blob = bytes(range(256)) * (size // 256) + bytes(size % 256)
    result = new_provider("AccountSecret").check({}, {"key": "blob", "value": blob})
    assert (not result.failures) is ok
    if ok:
        assert rpc.unwrap_rpc_secret(result.inputs["value"]) == base64.b64encode(blob).decode()


@pytest.mark.parametrize("kind", list(KINDS))
def test_unknowns_pass_check_without_a_request(host, emu, kind):
    names = {
        "AccountConfig": ("key", "value", "overwrite"),
        "AccountSecret": ("key", "value", "overwrite"),
        "DeviceConfig": ("device_sid", "key", "value", "overwrite"),
        "DeviceSecret": ("device_sid", "key", "value", "overwrite"),
        "ApiKey": ("friendly_name", "account_sid"),
    }[kind]
    checked = engine(host, kind).check({n: rpc.UNKNOWN for n in names})
    assert not checked.failures
    assert emu.request_log() == []


# -- the valid side: edge cases that must round-trip exactly -----------------------------------

VALID_KEYS = [
    "a/b",
    "a?b=c",
    "a#b",
    "50%",
    "%2F",
    "a b",
    " lead",
    "trail ",
    "a+b",
    "a&b=c",
    "...",
    "a/../b",
    "ключ",
    "é" * 100,  # 100 two-byte characters
    "€" * 100,
    "😀" * 100,  # 100 four-byte characters (200 UTF-16 units)
    "k" * 100,
    "e\u0301\u200dz\u2028",  # combining mark, zero-width joiner, line separator (not control)
]


@pytest.mark.parametrize("kind", ["AccountConfig", "DeviceSecret"])
@pytest.mark.parametrize("key", VALID_KEYS, ids=[f"key{i}" for i in range(len(VALID_KEYS))])
def test_valid_edge_key_round_trips(host, emu, kind, key):
    eng = engine(host, kind)
    inputs = {"key": key, "value": f"value of {key}"}
    if kind == "DeviceSecret":
        inputs["device_sid"] = DEV1_SID
    state = eng.create(inputs)
    where = ("secret", DEV1_SID, key) if kind == "DeviceSecret" else ("config", "", key)
    assert snapshot(emu) == {where: f"value of {key}"}
    assert state.id == (f"{DEV1_SID}/{key}" if kind == "DeviceSecret" else key)
    refreshed = eng.refresh(state)
    assert refreshed is not None and refreshed.outs == refreshed_outs(state.outs)
    eng.delete(refreshed)
    assert snapshot(emu) == {}
    assert all(e["status"] is not None and e["status"] < 300 for e in emu.request_log())


VALID_VALUES = [
    "",
    "v" * 4096,
    "é" * 4096,
    "😀" * 4096,
    "line1\nline2\r\n\ttab\x1b[0m\x7f\x85",
    "=&+%?#/ \"'<>",
]


@pytest.mark.parametrize("kind", ["AccountConfig", "AccountSecret"])
@pytest.mark.parametrize("value", VALID_VALUES, ids=[f"value{i}" for i in range(len(VALID_VALUES))])
def test_valid_edge_value_round_trips(host, emu, kind, value):
    eng = engine(host, kind)
    state = eng.create({"key": "edge", "value": value})
    kind_key = "secret" if kind == "AccountSecret" else "config"
    assert snapshot(emu) == {(kind_key, "", "edge"): value}
    out = state.outs["value"]
    assert (rpc.unwrap_rpc_secret(out) if rpc.is_rpc_secret(out) else out) == value
    refreshed = eng.refresh(state)
    assert refreshed is not None and refreshed.outs == state.outs
    eng.delete(refreshed)
    assert snapshot(emu) == {}


@pytest.mark.parametrize("name", ["", "n" * 64, "é" * 64, "名前 with spaces/and?#%"])
def test_valid_api_key_friendly_names_round_trip(host, emu, name):
    eng = engine(host, "ApiKey")
    state = eng.create({"friendly_name": name})
    assert snapshot(emu) == {("apikey", state.id): name}
    refreshed = eng.refresh(state)
    assert refreshed is not None and refreshed.outs["friendly_name"] == name
    eng.delete(refreshed)
    assert snapshot(emu) == {}


def test_device_by_unique_name_round_trips_and_an_unknown_name_is_a_clear_error(host, emu):
    eng = engine(host, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_NAME, "key": "k", "value": "v"})
    assert snapshot(emu) == {("config", DEV1_SID, "k"): "v"}
    eng.delete(state)
    # Looks like a SID in lower case, but only "UV" + 32 hex digits is one: it is a unique name,
    # which only Twilio can resolve. Nothing may be created on the way to the error.
    emu.clear_request_log()
    with pytest.raises(grpc.RpcError) as info:
        eng.create({"device_sid": "uv" + HEX32, "key": "k", "value": "v"})
    last = info.value.details().strip().splitlines()[-1]
    assert "device_sid" in last and "uv" + HEX32 in last and "no Microvisor device" in last
    assert [e["method"] for e in emu.request_log()] == ["GET"]
    assert snapshot(emu) == {}

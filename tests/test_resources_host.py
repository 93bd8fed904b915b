"""The five resource kinds through the real provider host, against the emulator.

Every test counts the HTTP calls an operation makes with the emulator's request log.
"""

from __future__ import annotations

import base64
import time

import grpc
import pytest
from _host import CheckFailed, State, engine
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb

from microvisor_pulumi.emulator import DEFAULT_DEVICES
from microvisor_pulumi.resources.api_key import ApiKeyProvider
from microvisor_pulumi.resources.microvisor import (
    AccountConfigProvider,
    AccountSecretProvider,
    DeviceConfigProvider,
    DeviceSecretProvider,
)

DEV1_SID, DEV1_NAME = DEFAULT_DEVICES[0]
DEV2_SID, DEV2_NAME = DEFAULT_DEVICES[1]


def plain_outs(state: State) -> dict:
    return {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in state.outs.items()}


# -- pickling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        AccountConfigProvider,
        DeviceConfigProvider,
        AccountSecretProvider,
        DeviceSecretProvider,
        ApiKeyProvider,
    ],
)
def test_pickled_provider_is_small_and_holds_no_client_or_credentials(cls, emulator, monkeypatch):
    from pulumi.dynamic import Config, ConfigureRequest

    fresh = serialize_provider(cls())
    assert len(fresh) < 200
    provider = cls()
    provider.configure(
        ConfigureRequest(
            Config(
                {
                    "twilio:authToken": "canary-token-4711",
                    "twilio:accountSid": "AC" + "1" * 32,
                    "twilio:endpoint": emulator.url,
                },
                "fleet",
            )
        )
    )
    provider.client()  # built and cached on the instance
    used = serialize_provider(provider)
    assert used == fresh
    assert b"canary-token-4711" not in base64.b64decode(used)


# -- AccountConfig ------------------------------------------------------------------------------


def test_account_config_lifecycle_one_call_per_operation(host, emu, calls):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "log-level", "value": "info"})
    assert state.id == "log-level"
    outs = state.outs
    assert outs["key"] == "log-level" and outs["value"] == "info"
    assert outs["date_updated"] and outs["url"].endswith("/v1/Configs/log-level")
    assert calls() == [("POST", "/v1/Configs", 201)]

    calls.reset()
    assert eng.preview(state, {"key": "log-level", "value": "info"}).changes == pb.DiffResponse.DIFF_NONE
    assert calls() == []

    state = eng.up(state, {"key": "log-level", "value": "debug"})
    assert state.history[-1] == "update"
    assert state.outs["value"] == "debug"
    assert calls() == [("POST", "/v1/Configs/log-level", 200)]

    calls.reset()
    refreshed = eng.refresh(state)
    assert refreshed is not None and refreshed.outs["value"] == "debug"
    assert calls() == [("GET", "/v1/Configs/log-level", 200)]

    calls.reset()
    eng.delete(refreshed)
    assert calls() == [("DELETE", "/v1/Configs/log-level", 204)]
    # Deleting what is already gone succeeds; refreshing it drops it from state.
    eng.delete(refreshed)
    assert eng.refresh(refreshed) is None


def test_account_config_new_key_replaces_create_before_delete(host, emu, calls):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "a", "value": "1"})
    diff = eng.preview(state, {"key": "b", "value": "1"})
    assert list(diff.replaces) == ["key"] and not diff.deleteBeforeReplace
    calls.reset()
    state = eng.up(state, {"key": "b", "value": "1"})
    assert state.history[-1] == "create-delete" and state.id == "b"
    assert calls() == [("POST", "/v1/Configs", 201), ("DELETE", "/v1/Configs/a", 204)]


def test_account_config_drift_is_reported_and_set_back(host, emu, api):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "endpoint", "value": "https://a.example"})
    api.post(f"{emu.url}/v1/Configs/endpoint", data={"Value": "https://evil.example"}).raise_for_status()
    refreshed = eng.refresh(state)
    assert refreshed is not None
    assert refreshed.outs["value"] == "https://evil.example"
    assert refreshed.ins["value"] == "https://evil.example"
    state = eng.up(refreshed, {"key": "endpoint", "value": "https://a.example"})
    assert state.history[-1] == "update"
    assert api.get(f"{emu.url}/v1/Configs/endpoint").json()["value"] == "https://a.example"


def test_config_update_falls_back_to_delete_and_create_on_405(host, emu, calls):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "k405", "value": "1"})
    emu.add_fault(method="POST", path="^/v1/Configs/k405$", times=1, status=405)
    calls.reset()
    state = eng.up(state, {"key": "k405", "value": "2"})
    assert state.outs["value"] == "2"
    assert [c[:2] for c in calls()] == [
        ("POST", "/v1/Configs/k405"),
        ("DELETE", "/v1/Configs/k405"),
        ("POST", "/v1/Configs"),
    ]


def test_create_of_existing_key_fails_with_overwrite_hint_then_overwrite_takes_it_over(host, emu, api):
    api.post(f"{emu.url}/v1/Configs", data={"Key": "taken", "Value": "theirs"}).raise_for_status()
    eng = engine(host, "AccountConfig")
    with pytest.raises(grpc.RpcError) as info:
        eng.create({"key": "taken", "value": "ours"})
    assert "already exists" in info.value.details() and "overwrite=True" in info.value.details()
    assert api.get(f"{emu.url}/v1/Configs/taken").json()["value"] == "theirs"
    state = eng.create({"key": "taken", "value": "ours", "overwrite": True})
    assert state.outs["value"] == "ours"
    assert api.get(f"{emu.url}/v1/Configs/taken").json()["value"] == "ours"


def test_overwrite_change_alone_makes_no_http_call(host, emu, calls):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "ow", "value": "1"})
    calls.reset()
    state = eng.up(state, {"key": "ow", "value": "1", "overwrite": True})
    assert state.history[-1] == "update" and state.outs["overwrite"] is True
    assert calls() == []


def test_lost_create_response_leaves_no_duplicate(host, emu, api):
    eng = engine(host, "AccountConfig")
    emu.add_fault(method="POST", path="^/v1/Configs$", times=1, drop=True, when="after")
    state = eng.create({"key": "lost", "value": "v"})
    assert state.outs["value"] == "v"
    listed = [c["key"] for c in api.get(f"{emu.url}/v1/Configs").json()["configs"]]
    assert listed.count("lost") == 1


# -- DeviceConfig -------------------------------------------------------------------------------


def test_device_config_by_unique_name_resolves_sid_and_alias_is_no_change(host, emu, calls):
    eng = engine(host, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_NAME, "key": "mode", "value": "fast"})
    assert state.id == f"{DEV1_SID}/mode"
    assert state.outs["device_sid"] == DEV1_SID
    # Resolving the unique name adds one call; the create itself is one.
    assert [c[0] for c in calls()] in (["GET", "POST"], ["POST"])
    calls.reset()
    for alias in (DEV1_SID, DEV1_NAME):
        diff = eng.preview(state, {"device_sid": alias, "key": "mode", "value": "fast"})
        assert diff.changes == pb.DiffResponse.DIFF_NONE, alias
    assert calls() == []
    diff = eng.preview(state, {"device_sid": DEV2_SID, "key": "mode", "value": "fast"})
    # Another device: the new config is made before the old one goes, so a failure loses nothing.
    assert list(diff.replaces) == ["device_sid"] and not diff.deleteBeforeReplace
    moved = eng.up(state, {"device_sid": DEV2_SID, "key": "mode", "value": "fast"})
    assert moved.id == f"{DEV2_SID}/mode" and moved.history[-1] == "create-delete"
    assert [r["path"] for r in emu.request_log()][-2:] == [
        f"/v1/Devices/{DEV2_SID}/Configs",
        f"/v1/Devices/{DEV1_SID}/Configs/mode",
    ]


def test_device_config_by_sid_then_named_is_no_change(host, emu):
    eng = engine(host, "DeviceConfig")
    state = eng.create({"device_sid": DEV2_SID, "key": "by-sid", "value": "1"})
    diff = eng.preview(state, {"device_sid": DEV2_NAME, "key": "by-sid", "value": "1"})
    assert diff.changes == pb.DiffResponse.DIFF_NONE


def test_device_config_unknown_device_is_a_clear_error(host, emu):
    eng = engine(host, "DeviceConfig")
    with pytest.raises(grpc.RpcError) as info:
        eng.create({"device_sid": "no-such-device", "key": "k", "value": "v"})
    assert "no-such-device" in info.value.details() and "device" in info.value.details()


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["AccountSecret", "DeviceSecret"])
def test_secret_value_is_secret_and_replaced_delete_first(host, emu, calls, kind):
    eng = engine(host, kind)
    base = {"device_sid": DEV1_SID} if kind == "DeviceSecret" else {}
    state = eng.create({**base, "key": "psk", "value": "s3cr3t-one"})
    assert rpc.is_rpc_secret(state.outs["value"])
    assert rpc.is_rpc_secret(state.ins["value"])
    assert rpc.unwrap_rpc_secret(state.outs["value"]) == "s3cr3t-one"
    assert state.outs["date_rotated"]
    calls.reset()
    diff = eng.preview(state, {**base, "key": "psk", "value": "s3cr3t-two"})
    assert list(diff.replaces) == ["value"] and diff.deleteBeforeReplace
    state = eng.up(state, {**base, "key": "psk", "value": "s3cr3t-two"})
    assert state.history[-1] == "delete-create"
    assert [c[0] for c in calls()] == ["DELETE", "POST"]
    calls.reset()
    refreshed = eng.refresh(state)
    assert refreshed is not None
    assert rpc.unwrap_rpc_secret(refreshed.outs["value"]) == "s3cr3t-two"
    assert rpc.is_rpc_secret(refreshed.outs["value"])
    assert len(calls()) == 1
    assert eng.preview(refreshed, {**base, "key": "psk", "value": "s3cr3t-two"}).changes == (
        pb.DiffResponse.DIFF_NONE
    )


def test_secret_rotated_outside_pulumi_is_applied_again(host, emu, api):
    eng = engine(host, "AccountSecret")
    state = eng.create({"key": "rot", "value": "ours"})
    emu.store.clock = lambda: time.time() + 5  # a later second: date_rotated has one-second steps
    try:
        api.post(f"{emu.url}/v1/Secrets/rot", data={"Value": "someone-elses"}).raise_for_status()
    finally:
        emu.store.clock = time.time
    refreshed = eng.refresh(state)
    # The value in state is no longer Twilio's, and Twilio cannot say what it is: a marker, secret.
    assert refreshed is not None and rpc.is_rpc_secret(refreshed.outs["value"])
    assert rpc.unwrap_rpc_secret(refreshed.outs["value"]).startswith("\x00changed outside Pulumi")
    diff = eng.preview(refreshed, {"key": "rot", "value": "ours"})
    assert diff.changes == pb.DiffResponse.DIFF_SOME
    state = eng.up(refreshed, {"key": "rot", "value": "ours"})
    assert rpc.unwrap_rpc_secret(state.outs["value"]) == "ours"


# -- ApiKey -------------------------------------------------------------------------------------


def test_api_key_lifecycle_secret_captured_once_and_carried(host, emu, calls):
    eng = engine(host, "ApiKey")
    state = eng.create({"friendly_name": "ci"})
    outs = state.outs
    assert state.id.startswith("SK") and outs["sid"] == state.id
    assert rpc.is_rpc_secret(outs["secret"])
    key_secret = rpc.unwrap_rpc_secret(outs["secret"])
    assert key_secret and outs["account_sid"] == emu.account_sid
    # Made under an attempt name, then given its real name: two calls.
    assert [c[0] for c in calls()] == ["POST", "POST"]
    calls.reset()
    state = eng.up(state, {"friendly_name": "ci-renamed"})
    assert state.history[-1] == "update" and state.outs["friendly_name"] == "ci-renamed"
    assert rpc.unwrap_rpc_secret(state.outs["secret"]) == key_secret
    assert len(calls()) == 1
    calls.reset()
    refreshed = eng.refresh(state)
    assert refreshed is not None and rpc.unwrap_rpc_secret(refreshed.outs["secret"]) == key_secret
    assert len(calls()) == 1
    other = "AC" + "f" * 32
    diff = eng.preview(refreshed, {"friendly_name": "ci-renamed", "account_sid": other})
    assert list(diff.replaces) == ["account_sid"] and not diff.deleteBeforeReplace
    calls.reset()
    eng.delete(refreshed)
    assert len(calls()) == 1
    assert eng.refresh(refreshed) is None


def test_api_key_lost_create_response_leaves_no_orphan(host, emu, api):
    eng = engine(host, "ApiKey")
    emu.add_fault(method="POST", path=r"/Keys\.json$", times=1, drop=True, when="after")
    state = eng.create({"friendly_name": "lost-key"})
    keys = api.get(f"{emu.url}/2010-04-01/Accounts/{emu.account_sid}/Keys.json").json()["keys"]
    assert [k["sid"] for k in keys if k["friendly_name"] == "lost-key"] == [state.id]


# -- check and diff: offline ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,inputs,field",
    [
        ("AccountConfig", {"key": "", "value": "v"}, "key"),
        ("AccountConfig", {"key": "k" * 101, "value": "v"}, "key"),
        ("AccountConfig", {"key": "k", "value": "v" * 4097}, "value"),
        ("AccountConfig", {"key": "k"}, "value"),
        ("DeviceConfig", {"device_sid": "d" * 129, "key": "k", "value": "v"}, "device_sid"),
        ("DeviceSecret", {"key": "k", "value": "v"}, "device_sid"),
        ("ApiKey", {"friendly_name": "n" * 65}, "friendly_name"),
        ("ApiKey", {"account_sid": "AC123"}, "account_sid"),
    ],
)
def test_check_names_the_field_and_sends_nothing(host, emu, calls, kind, inputs, field):
    eng = engine(host, kind)
    with pytest.raises(CheckFailed) as info:
        eng.check(inputs)
    assert [f[0] for f in info.value.failures] == [field]
    assert field in info.value.failures[0][1]
    assert calls() == []


def test_unknowns_pass_check_and_an_unknown_key_means_replace(host, emu, calls):
    eng = engine(host, "AccountConfig")
    state = eng.create({"key": "u", "value": "1"})
    calls.reset()
    eng.check({"key": rpc.UNKNOWN, "value": rpc.UNKNOWN})
    diff = eng.preview(state, {"key": rpc.UNKNOWN, "value": "1"})
    assert diff.changes == pb.DiffResponse.DIFF_SOME and list(diff.replaces) == ["key"]
    diff = eng.preview(state, {"key": "u", "value": rpc.UNKNOWN})
    assert diff.changes == pb.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    assert calls() == []


def test_bytes_value_is_base64_text(host, emu):
    provider = AccountConfigProvider()
    checked = provider.check({}, {"key": "blob", "value": b"\x00\xffbin"})
    assert not checked.failures
    assert checked.inputs["value"] == base64.b64encode(b"\x00\xffbin").decode()


def test_a_plain_http_endpoint_to_another_machine_stops_the_provider_before_any_request(emulator):
    from _reliability import host_config, start_host

    # 192.0.2.0/24 is for documentation: were a request sent, it would go nowhere.
    config = {**host_config(emulator, maxRetries="0"), "twilio:endpoint": "http://192.0.2.10:8080"}
    h = start_host(config)
    try:
        with pytest.raises(grpc.RpcError) as info:
            engine(h, "AccountConfig").create({"key": "k", "value": "v"})
        text = info.value.details()
        assert "clear text" in text and "twilio:allowInsecureEndpoint" in text
        assert emulator.auth_token not in h.output_text()
    finally:
        h.close()

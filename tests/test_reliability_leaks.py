"""Canary credentials and secret values, used through whole lifecycles and failures, never leak.

Not into the pickled provider, not into error text, not into the host's stdout/stderr, not into
the emulator's request log, and not into any input or output except inside a secret-signature
value. Every gRPC response of every step is recorded through a proxy around the host's stub.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from _host import CheckFailed, Engine, ProviderHost, State
from _reliability import DEV1_NAME, DEV1_SID, engine, snapshot, start_host, walk_strings
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from pulumi.runtime import rpc

from microvisor_pulumi.emulator import Emulator

CANARY_AUTH_TOKEN = "canary-auth-token-" + uuid.uuid4().hex
CANARY_WRONG_TOKEN = "canary-wrong-token-" + uuid.uuid4().hex


class Recorder:
    """Stands in for the host's gRPC stub: forwards every call, keeps every response and error."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub
        self.responses: list[Message] = []
        self.errors: list[str] = []
        self.check_reasons: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)

        def call(request: Any) -> Any:
            try:
                response = method(request)
            except grpc.RpcError as err:
                self.errors.append(f"{err.code()} {err.details()}")
                raise
            self.responses.append(response)
            for failure in getattr(response, "failures", ()):
                self.check_reasons.append(f"{failure.property} {failure.reason}")
            return response

        return call

    def structs(self) -> Iterator[struct_pb2.Struct]:
        for response in self.responses:
            for field in ("inputs", "properties"):
                if field in type(response).DESCRIPTOR.fields_by_name and response.HasField(field):
                    yield getattr(response, field)


class Canaries:
    def __init__(self, *values: str) -> None:
        self.values = list(values)

    def add(self, value: str) -> None:
        assert value and value not in self.values
        self.values.append(value)

    def found_in(self, text: str | bytes) -> list[str]:
        if isinstance(text, bytes):
            return [c for c in self.values if c.encode() in text or c.encode("utf-16-le") in text]
        return [c for c in self.values if c in text]


def assert_no_leak(canaries: Canaries, rec: Recorder, host: ProviderHost, emu: Emulator) -> int:
    """Every place a value could escape to; returns how often a canary sat, rightly, in a secret."""
    in_secrets = checked = 0
    for struct in rec.structs():
        for text, secret in walk_strings(struct):
            if secret:
                in_secrets += len(canaries.found_in(text))
                continue
            assert not canaries.found_in(text), "a canary in a value not marked secret"
        provider = rpc.deserialize_properties(struct, keep_unknowns=True).get("__provider")
        if provider is not None:
            pickled = base64.b64decode(
                rpc.unwrap_rpc_secret(provider) if rpc.is_rpc_secret(provider) else provider
            )
            assert not canaries.found_in(pickled), "a canary in the pickled provider"
            checked += 1
    for text in rec.errors + rec.check_reasons:
        assert not canaries.found_in(text), f"a canary in error text: {text[-300:]}"
    assert not canaries.found_in(host.output_text()), "a canary in the host's stdout/stderr"
    assert not canaries.found_in(repr(emu.request_log())), "a canary in the emulator's request log"
    assert checked > 0, "no pickled provider was looked at"
    return in_secrets


@pytest.fixture(scope="module")
def lemu(spec_validator) -> Iterator[Emulator]:
    """An emulator of its own, whose auth token is a canary."""
    emu = Emulator(auth_token=CANARY_AUTH_TOKEN, observer=spec_validator.observe).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def host(lemu) -> Iterator[ProviderHost]:
    h = start_host(
        {
            "twilio:accountSid": lemu.account_sid,
            "twilio:authToken": CANARY_AUTH_TOKEN,
            "twilio:endpoint": lemu.url,
            "twilio:readTimeout": "0.5",
            "twilio:maxRetries": "1",
        }
    )
    yield h
    h.close()


@pytest.fixture
def clean(lemu) -> Emulator:
    lemu.reset()
    return lemu


def recorded(host: ProviderHost, kind: str) -> tuple[Engine, Recorder]:
    eng = engine(host, kind)
    rec = Recorder(host.stub)
    eng.stub = rec  # type: ignore[assignment]
    return eng, rec


def must(state: State | None) -> State:
    assert state is not None, "the resource vanished"
    return state


def expect_error(fn: Any, *args: Any) -> str:
    with pytest.raises((grpc.RpcError, CheckFailed)) as info:
        fn(*args)
    err = info.value
    return err.details() if isinstance(err, grpc.RpcError) else str(err)


def echo_fault(path: str, method: str, echoed: str) -> dict[str, Any]:
    """Twilio answering 400 with an error message that repeats what it was sent."""
    return {
        "method": method,
        "path": path,
        "status": 400,
        "times": 5,
        "body": {
            "code": 21201,
            "message": f"Invalid parameter: {echoed} is not acceptable",
            "more_info": "https://www.twilio.com/docs/errors/21201",
            "status": 400,
        },
    }


@pytest.mark.parametrize("kind", ["AccountSecret", "DeviceSecret"])
def test_secret_values_never_leak_through_a_lifecycle_with_failures(host, clean, kind):
    emu = clean
    base = {"device_sid": DEV1_NAME} if kind == "DeviceSecret" else {}
    coll = f"/v1/Devices/{DEV1_SID}/Secrets" if kind == "DeviceSecret" else "/v1/Secrets"
    v1, v2, v3 = (f"canary-secret-{n}-{uuid.uuid4().hex}" for n in (1, 2, 3))
    canaries = Canaries(CANARY_AUTH_TOKEN, v1, v2, v3)
    eng, rec = recorded(host, kind)

    # create, its answer lost: found again and set again
    emu.add_fault(method="POST", path=f"^{coll}$", drop=True, when="after")
    state = eng.create({**base, "key": "psk", "value": v1})
    state = must(eng.refresh(state))
    # Twilio echoes the value in an error: the message keeps the error, not the value
    emu.add_fault(**echo_fault(f"^{coll}$", "POST", v2))
    details = expect_error(eng.create, {**base, "key": "other", "value": v2})
    assert "Invalid parameter: *** is not acceptable" in details
    # a key that is taken: the error names the key, never the value
    assert "already exists" in expect_error(eng.create, {**base, "key": "psk", "value": v2}, "twin")
    # check refuses an oversized value without repeating it
    assert "at most 4096" in expect_error(eng.check, {**base, "key": "big", "value": v3 * 100})
    # refresh and replace fail persistently, then succeed
    emu.add_fault(method="GET", path=f"^{coll}/psk$", status=503, times=10)
    assert "refresh failed" in expect_error(eng.refresh, state)
    emu.add_fault(method="DELETE", path=f"^{coll}/psk$", status=500, times=10)
    assert "delete failed" in expect_error(eng.up, state, {**base, "key": "psk", "value": v2})
    emu.clear_faults()
    state = eng.up(state, {**base, "key": "psk", "value": v2})  # replace
    state = eng.up(state, {**base, "key": "psk", "value": v2, "overwrite": True})  # update
    assert state.history[-2:] == ["delete-create", "update"]
    state = must(eng.refresh(state))
    assert snapshot(emu) == {("secret", DEV1_SID if base else "", "psk"): v2}
    eng.delete(state)
    assert snapshot(emu) == {}

    assert assert_no_leak(canaries, rec, host, emu) > 0  # the walk does see values inside secrets


def test_api_key_secret_and_credentials_never_leak(host, clean):
    emu = clean
    canaries = Canaries(CANARY_AUTH_TOKEN)
    eng, rec = recorded(host, "ApiKey")
    keys = f"/2010-04-01/Accounts/{emu.account_sid}/Keys"

    emu.add_fault(method="POST", path=f"^{keys}\\.json$", drop=True, when="after")
    state = eng.create({"friendly_name": "deployer"})
    key_secret = rpc.unwrap_rpc_secret(state.outs["secret"])
    canaries.add(key_secret)
    emu.add_fault(method="POST", path=f"^{keys}/SK", status=500, times=10)
    assert "update failed" in expect_error(eng.up, state, {"friendly_name": "renamed"})
    emu.clear_faults()
    state = eng.up(state, {"friendly_name": "renamed"})
    state = must(eng.refresh(state))
    assert rpc.unwrap_rpc_secret(state.outs["secret"]) == key_secret
    emu.add_fault(method="DELETE", path=f"^{keys}/SK", status=503, times=10)
    assert "delete failed" in expect_error(eng.delete, state)
    emu.clear_faults()
    eng.delete(state)
    assert snapshot(emu) == {}

    assert assert_no_leak(canaries, rec, host, emu) > 0


def test_api_key_credentials_and_echoed_secrets_never_leak(lemu, clean, api_key_host):
    """A host using an API key pair: the key's secret is the canary, through configs and secrets."""
    emu = clean
    host, key_secret = api_key_host
    canaries = Canaries(CANARY_AUTH_TOKEN, key_secret)
    value = "canary-config-secret-" + uuid.uuid4().hex
    canaries.add(value)
    eng, rec = recorded(host, "AccountSecret")
    state = eng.create({"key": "via-key", "value": value})
    # Twilio echoing the credentials in an error message
    emu.add_fault(**echo_fault("^/v1/Secrets/via-key$", "GET", key_secret))
    assert "*** is not acceptable" in expect_error(eng.refresh, state)
    emu.clear_faults()
    eng.delete(state)
    # Keys cannot be managed with a Standard key: the 403 says so without the secret
    keng, krec = recorded(host, "ApiKey")
    assert "Standard key cannot" in expect_error(keng.create, {"friendly_name": "nope"})
    rec.responses += krec.responses
    rec.errors += krec.errors
    assert assert_no_leak(canaries, rec, host, emu) > 0


@pytest.fixture
def api_key_host(lemu) -> Iterator[tuple[ProviderHost, str]]:
    lemu.reset()
    _, key_secret = lemu.store.create_key("ci-key")
    sid = lemu.store.list_keys()[-1][1]["sid"]
    h = start_host(
        {
            "twilio:accountSid": lemu.account_sid,
            "twilio:apiKey": sid,
            "twilio:apiSecret": key_secret,
            "twilio:endpoint": lemu.url,
            "twilio:maxRetries": "0",
        }
    )
    yield h, key_secret
    h.close()


def test_wrong_credentials_never_leak(lemu, clean):
    h = start_host(
        {
            "twilio:accountSid": lemu.account_sid,
            "twilio:authToken": CANARY_WRONG_TOKEN,
            "twilio:endpoint": lemu.url,
        }
    )
    try:
        canaries = Canaries(CANARY_WRONG_TOKEN, CANARY_AUTH_TOKEN)
        for kind, inputs in [
            ("AccountSecret", {"key": "k", "value": "canary-v-" + uuid.uuid4().hex}),
            ("DeviceConfig", {"device_sid": DEV1_NAME, "key": "k", "value": "v"}),
            ("ApiKey", {"friendly_name": "x"}),
        ]:
            if "value" in inputs and inputs["value"].startswith("canary"):
                canaries.add(inputs["value"])
            eng, rec = recorded(h, kind)
            assert "401" in expect_error(eng.create, inputs)
            assert_no_leak(canaries, rec, h, lemu)
        assert snapshot(lemu) == {}
    finally:
        h.close()


def test_the_leak_walk_tells_a_secret_from_a_plain_value():
    """The detector itself: a canary in a plain value is found, inside a secret it is allowed."""
    from _host import to_struct

    canary = "canary-" + uuid.uuid4().hex
    plain_struct = to_struct({"outer": {"list": ["x", f"prefix {canary}"]}})
    secret_struct = to_struct({"outer": rpc.wrap_rpc_secret({"list": [canary]})})
    assert [s for s, in_secret in walk_strings(plain_struct) if canary in s and not in_secret]
    assert not [s for s, in_secret in walk_strings(secret_struct) if canary in s and not in_secret]
    assert [s for s, in_secret in walk_strings(secret_struct) if canary in s and in_secret]
    assert Canaries(canary).found_in(canary.encode("utf-16-le")) == [canary]

"""Missing, wrong and insufficient credentials each give a message that says what to do.

Each configuration runs in a provider host of its own (a host configures a provider once), with no
TWILIO_* variables in its environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from _host import Engine, ProviderHost, State
from _reliability import DEV1_SID, KINDS, engine, snapshot, start_host

INPUTS: dict[str, dict[str, Any]] = {
    "AccountConfig": {"key": "k", "value": "v"},
    "DeviceConfig": {"device_sid": DEV1_SID, "key": "k", "value": "v"},
    "AccountSecret": {"key": "k", "value": "v"},
    "DeviceSecret": {"device_sid": DEV1_SID, "key": "k", "value": "v"},
    "ApiKey": {"friendly_name": "k"},
}


def error_line(fn: Any, *args: Any) -> str:
    """The message the CLI would show last: the provider's own error line."""
    with pytest.raises(grpc.RpcError) as info:
        fn(*args)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    line = info.value.details().strip().splitlines()[-1]
    assert line.startswith("microvisor_pulumi.resources._provider.MicrovisorPulumiError: "), line
    return line


def stored(eng: Engine, kind: str) -> State:
    """State as an earlier, successful `up` would have left it (for refresh and destroy)."""
    if kind == "ApiKey":
        outs: dict[str, Any] = {"sid": "SK" + "0" * 32, "friendly_name": "k", "account_sid": "AC" + "0" * 32}
        ident = outs["sid"]
    else:
        outs = {**INPUTS[kind], "overwrite": False}
        ident = f"{DEV1_SID}/k" if "device_sid" in outs else "k"
    return State(ident, "urn:pulumi:dev::fleet::t::r", eng.news(INPUTS[kind]), eng.news(outs))


@pytest.fixture(scope="module")
def no_credentials(emulator) -> Iterator[ProviderHost]:
    h = start_host({"twilio:endpoint": emulator.url})
    yield h
    h.close()


@pytest.mark.parametrize("kind", KINDS)
def test_missing_credentials_name_the_config_keys_and_env_vars(no_credentials, emu, kind):
    eng = engine(no_credentials, kind)
    # The delete first: after the failed create below, the item counts as that resource's in this
    # host, and a delete of a state holding no claim to it is skipped without a call (see _HOLDERS).
    line = error_line(eng.delete, stored(eng, kind))
    assert "delete failed" in line and "twilio:authToken" in line
    for op, args in [("create", (eng.create, INPUTS[kind])), ("refresh", (eng.refresh, stored(eng, kind)))]:
        line = error_line(*args)
        # Device kinds stop at "looking up the device failed", before their create or refresh.
        assert f"{kind} " in line and ("device failed" in line or f"{op} failed" in line)
        for name in ("twilio:accountSid", "twilio:authToken", "twilio:apiKey", "twilio:apiSecret"):
            assert name in line
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET"):
            assert name in line
    assert emu.request_log() == []  # nothing was sent without credentials


def test_api_key_pair_without_account_sid_says_to_set_it(emulator, emu):
    _, secret = emu.store.create_key("main")
    sid = emu.store.list_keys()[-1][1]["sid"]
    h = start_host({"twilio:apiKey": sid, "twilio:apiSecret": secret, "twilio:endpoint": emulator.url})
    try:
        line = error_line(engine(h, "ApiKey").create, INPUTS["ApiKey"])
        assert "twilio:accountSid" in line and "TWILIO_ACCOUNT_SID" in line
        # Microvisor paths need no Account SID: the key pair alone works there.
        state = engine(h, "AccountConfig").create(INPUTS["AccountConfig"])
        assert state.id == "k" and snapshot(emu)[("config", "", "k")] == "v"
    finally:
        h.close()


@pytest.fixture(scope="module")
def wrong_credentials(emulator) -> Iterator[ProviderHost]:
    h = start_host(
        {
            "twilio:accountSid": emulator.account_sid,
            "twilio:authToken": "not-the-token",
            "twilio:endpoint": emulator.url,
            "twilio:maxRetries": "3",
        }
    )
    yield h
    h.close()


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_credentials_say_which_settings_to_check_and_are_not_retried(wrong_credentials, emu, kind):
    eng = engine(wrong_credentials, kind)
    line = error_line(eng.create, INPUTS[kind])
    assert "401" in line and "rejected the credentials" in line
    assert "twilio:accountSid" in line and "twilio:authToken" in line and "TWILIO_AUTH_TOKEN" in line
    line = error_line(eng.refresh, stored(eng, kind))
    assert "401" in line and "twilio:authToken" in line
    # A 401 is final: one request per operation, no retries, and nothing was created.
    assert [e["status"] for e in emu.request_log()] == [401, 401]
    assert snapshot(emu) == {}


@pytest.fixture
def key_host(emulator, emu):
    """A host whose credentials are an API key made through the emulator (Standard or restricted)."""
    hosts: list[ProviderHost] = []

    def make(**create: Any) -> ProviderHost:
        _, secret = emu.store.create_key("deployer", **create)
        sid = emu.store.list_keys()[-1][1]["sid"]
        h = start_host(
            {
                "twilio:accountSid": emulator.account_sid,
                "twilio:apiKey": sid,
                "twilio:apiSecret": secret,
                "twilio:endpoint": emulator.url,
            }
        )
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        h.close()


def test_standard_key_cannot_manage_api_keys_and_is_told_who_can(key_host, emu):
    h = key_host()
    before = snapshot(emu)
    line = error_line(engine(h, "ApiKey").create, INPUTS["ApiKey"])
    assert "403" in line and "ApiKey" in line and "create failed" in line
    assert "Auth Token" in line and "Main API key" in line and "Standard key cannot" in line
    assert snapshot(emu) == before  # no key was made
    # The same key may manage Microvisor configs and secrets.
    state = engine(h, "AccountSecret").create(INPUTS["AccountSecret"])
    assert state.id == "k" and snapshot(emu)[("secret", "", "k")] == "v"


def test_restricted_key_denied_a_microvisor_operation_is_told_about_the_assumption(key_host, emu):
    # Even a policy granting everything: Twilio documents no Microvisor permission for such keys.
    h = key_host(key_type="restricted", policy={"allow": ["/twilio/*"]})
    line = error_line(engine(h, "AccountConfig").create, INPUTS["AccountConfig"])
    assert "403" in line and "20403" in line and "AccountConfig" in line
    assert "documents no restricted-key permission for Microvisor" in line and "assumption" in line
    assert "Managing API keys" not in line  # the hint fits the resource, not API keys
    assert ("config", "", "k") not in snapshot(emu)
    line = error_line(engine(h, "AccountSecret").create, INPUTS["AccountSecret"])
    assert "403" in line and ("secret", "", "k") not in snapshot(emu)


def test_restricted_key_may_manage_keys_only_as_its_policy_allows(key_host, emu):
    h = key_host(key_type="restricted", policy={"allow": ["/twilio/iam/api-keys/read"]})
    line = error_line(engine(h, "ApiKey").create, INPUTS["ApiKey"])
    assert "403" in line and "Managing API keys" in line and "/twilio/iam/api-keys/create" in line


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("twilio:edge", "x@127.0.0.1:{port}#"),
        ("twilio:region", "x@127.0.0.1:{port}/"),
        ("twilio:edge", "127.0.0.1:{port}/"),
    ],
)
def test_a_region_or_edge_cannot_send_the_credentials_to_another_host(emu, setting, value):
    """Region and edge become part of Twilio's host name: one that is not a name (an '@', a port, a
    '/' or '#') would move the request, Basic credentials and all, to another host. Refused, naming
    the setting, before anything is sent."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        setting: value.format(port=port),
        "twilio:maxRetries": "0",
        "twilio:connectTimeout": "1",
        "twilio:readTimeout": "1",
    }
    h = start_host(config)
    try:
        with pytest.raises(grpc.RpcError) as info:
            engine(h, "AccountConfig").create(INPUTS["AccountConfig"])
        text = info.value.details()
        assert setting in text and emu.auth_token not in text, text
        listener.settimeout(0.3)
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody came: the credentials went nowhere
    finally:
        h.close()
        listener.close()


def test_plain_http_to_this_machine_never_goes_through_a_proxy(emulator, emu):
    """Plain http:// is allowed only to this machine, and a proxy elsewhere would read the Basic
    credentials in clear text (and reach its own loopback, not ours): an HTTP_PROXY that is not on
    loopback leaves loopback requests direct. (0.0.0.0 is not a loopback address, yet Linux connects
    it to this machine, so the test sees whether the proxy was used without leaving it.)"""
    import socket

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    address = f"http://0.0.0.0:{proxy.getsockname()[1]}"
    env = {"HTTP_PROXY": address, "http_proxy": address, "NO_PROXY": "", "no_proxy": ""}
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emulator.url,
        "twilio:maxRetries": "0",
        "twilio:readTimeout": "2",
    }
    h = start_host(config, env)
    try:
        state = engine(h, "AccountConfig").create(INPUTS["AccountConfig"])
        assert state.id == "k" and snapshot(emu)[("config", "", "k")] == "v"
        proxy.settimeout(0.3)
        with pytest.raises(socket.timeout):
            proxy.accept()  # the proxy saw nothing
    finally:
        h.close()
        proxy.close()

"""The Resource subclasses in a Pulumi program under `set_mocks`: type tokens, inputs, secretness."""

from __future__ import annotations

import base64

import pulumi
import pytest
from _mocks import ProviderMocks

from microvisor_pulumi import AccountConfig, AccountSecret, ApiKey, DeviceConfig, DeviceSecret
from microvisor_pulumi.emulator import DEFAULT_DEVICES

DEV_SID, DEV_NAME = DEFAULT_DEVICES[0]


@pytest.fixture
def mocks(emu):
    m = ProviderMocks(
        {
            "twilio:accountSid": emu.account_sid,
            "twilio:authToken": emu.auth_token,
            "twilio:endpoint": emu.url,
        }
    )
    return m.install()


def _secretness(*outputs: pulumi.Output) -> pulumi.Output:
    async def probe():
        return [await o.is_secret() for o in outputs]

    return pulumi.Output.from_input(probe())


@pulumi.runtime.test
def test_type_tokens_are_fixed(mocks):
    AccountConfig("c", key="k1", value="v")
    DeviceConfig("dc", device_sid=DEV_NAME, key="k1", value="v")
    AccountSecret("s", key="k1", value="v")
    DeviceSecret("ds", device_sid=DEV_SID, key="k1", value="v")
    key = ApiKey("key", friendly_name="mocked")

    def verify(_sid):
        assert {(t, n) for t, n, _ in mocks.created} == {
            ("pulumi-python:dynamic/microvisor:AccountConfig", "c"),
            ("pulumi-python:dynamic/microvisor:DeviceConfig", "dc"),
            ("pulumi-python:dynamic/microvisor:AccountSecret", "s"),
            ("pulumi-python:dynamic/microvisor:DeviceSecret", "ds"),
            ("pulumi-python:dynamic/twilio:ApiKey", "key"),
        }

    return key.sid.apply(verify)


@pulumi.runtime.test
def test_config_outputs_are_plain_and_device_is_resolved(mocks):
    dc = DeviceConfig("dc", device_sid=DEV_NAME, key="mode", value="fast")

    def verify(args):
        sid, value, secret_flags = args
        assert sid == DEV_SID and value == "fast"
        assert secret_flags == [False, False]

    return pulumi.Output.all(dc.device_sid, dc.value, _secretness(dc.value, dc.key)).apply(verify)


@pulumi.runtime.test
def test_secret_value_is_secret_even_when_given_plain(mocks):
    s = AccountSecret("s", key="wifi-psk", value="plain-text-secret")
    ds = DeviceSecret("ds", device_sid=DEV_SID, key="cert", value=b"\x01\x02")

    def verify(args):
        flags, date_rotated = args
        assert flags == [True, True, False]
        assert date_rotated
        sent = {n: i for _, n, i in mocks.created}
        from pulumi.runtime import rpc

        assert rpc.is_rpc_secret(sent["s"]["value"])
        assert rpc.unwrap_rpc_secret(sent["ds"]["value"]) == base64.b64encode(b"\x01\x02").decode()

    return pulumi.Output.all(_secretness(s.value, ds.value, s.key), s.date_rotated).apply(verify)


def test_secret_outputs_are_declared_by_the_resources(mocks):
    """The engine keeps these secret whatever the provider returns: the subclasses must declare them."""
    AccountSecret("s2", key="k", value="v")
    DeviceSecret("ds2", device_sid=DEV_SID, key="k", value="v")
    ApiKey("k2")
    AccountConfig("c2", key="k", value="v")
    pulumi.runtime.sync_await._sync_await(pulumi.runtime.stack.wait_for_rpcs())  # type: ignore[attr-defined]
    assert mocks.secret_outputs == {"s2": ["value"], "ds2": ["value"], "k2": ["secret"], "c2": []}


@pulumi.runtime.test
def test_api_key_secret_is_a_secret_output(mocks):
    key = ApiKey("k", friendly_name="deployer")

    def verify(args):
        sid, flags, name = args
        assert sid.startswith("SK")
        assert flags == [True, False]
        assert name == "deployer"

    return pulumi.Output.all(key.sid, _secretness(key.secret, key.sid), key.friendly_name).apply(verify)

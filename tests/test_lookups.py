"""get_device / get_devices under set_mocks, against the emulator: credentials, results, HTTP calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from _mocks import ProviderMocks, run_program

from microvisor_pulumi import DeviceInfo, get_device, get_devices
from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator
from microvisor_pulumi.emulator.fleet import fleet_devices

(SID1, NAME1), (SID2, NAME2), _ = DEFAULT_DEVICES
TWILIO_VARS = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_ENDPOINT",
)


@pytest.fixture
def mocks(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProviderMocks]:
    for var in TWILIO_VARS:
        monkeypatch.delenv(var, raising=False)
    m = ProviderMocks({}).install()
    yield m
    pulumi.runtime.set_all_config({}, [])


def stack_config(emu: Emulator, **overrides: str) -> None:
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emu.url,
        **{f"twilio:{k}": v for k, v in overrides.items()},
    }
    pulumi.runtime.set_all_config(config, ["twilio:authToken"])


def run(program: Any) -> dict[str, tuple[Any, bool]]:
    return run_program(program)


def test_get_device_by_sid_or_unique_name_returns_what_the_api_returns(mocks, emu):
    stack_config(emu)
    emu.clear_request_log()
    out = run(
        lambda: {
            "by_sid": get_device(SID1),
            "by_name": get_device(NAME2),
            "lifted": get_device(NAME1).sid,
            "from_output": get_device(pulumi.Output.from_input(NAME2)).unique_name,
        }
    )
    device, secret = out["by_sid"]
    assert isinstance(device, DeviceInfo) and not secret  # a SID is not secret because the token is
    assert (device.sid, device.unique_name, device.account_sid) == (SID1, NAME1, emu.account_sid)
    assert device.fields["links"]["device_configs"].endswith(f"/v1/Devices/{SID1}/Configs")
    assert device.logging_enabled is False and device.date_created
    assert out["by_name"][0].sid == SID2
    assert out["lifted"] == (SID1, False)
    assert out["from_output"] == (NAME2, False)
    calls = sorted((r["method"], r["path"]) for r in emu.request_log())
    assert calls == sorted(("GET", f"/v1/Devices/{d}") for d in (SID1, NAME2, NAME1, NAME2))
    assert mocks.created == []  # a lookup registers nothing


def test_get_devices_pages_through_the_fleet_and_filters_by_prefix(mocks, make_emulator):
    devices = fleet_devices(60)
    emu = make_emulator(devices=devices)
    stack_config(emu)
    out = run(lambda: {"all": get_devices(), "tens": get_devices(name_prefix="sensor-01")})
    assert [d.sid for d in out["all"][0]] == [sid for sid, _ in devices]
    tens = sorted(name for _, name in devices if name and name.startswith("sensor-01"))
    assert [d.unique_name for d in out["tens"][0]] == tens and len(tens) == 10
    assert [r["path"] for r in emu.request_log()].count("/v1/Devices") == 4  # two lists, two pages each


def test_no_http_call_unless_a_lookup_is_called(mocks, emu):
    stack_config(emu)
    emu.clear_request_log()
    run(lambda: {"nothing": pulumi.Output.from_input(1)})
    assert emu.request_log() == []


def test_environment_is_the_fallback_and_stack_config_wins(mocks, emu, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.auth_token)
    monkeypatch.setenv("TWILIO_ENDPOINT", emu.url)
    pulumi.runtime.set_all_config({}, [])
    assert run(lambda: {"d": get_device(SID1).sid})["d"] == (SID1, False)
    # A wrong token in the environment does not matter when the stack config holds the pair.
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-token-from-the-shell")
    stack_config(emu)
    assert run(lambda: {"d": get_device(SID1).sid})["d"] == (SID1, False)


def test_unknown_device_fails_with_a_clear_message(mocks, emu):
    stack_config(emu)
    with pytest.raises(
        LookupError, match="no Microvisor device on this account has the SID or unique name 'nope'"
    ):
        run(lambda: {"d": get_device("nope")})


def test_missing_credentials_fail_before_any_request(mocks, emu):
    pulumi.runtime.set_all_config({"twilio:endpoint": emu.url}, [])
    emu.clear_request_log()
    with pytest.raises(Exception, match="TWILIO_AUTH_TOKEN") as caught:
        run(lambda: {"d": get_device(SID1)})
    assert emu.auth_token not in str(caught.value)
    assert emu.request_log() == []

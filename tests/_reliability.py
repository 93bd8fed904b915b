"""Shared pieces of the reliability suite (tests/test_reliability_*.py).

The five resource kinds, the Engine for each through one ProviderHost, the host configurations,
and an exact snapshot of what the emulator holds, read from its store (the single source of
truth, including secret values, which no HTTP endpoint returns).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from _host import KINDS, TOKENS, ProviderHost, State, engine, new_provider  # noqa: F401 - re-exported
from google.protobuf import struct_pb2

from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator

DEV1_SID, DEV1_NAME = DEFAULT_DEVICES[0]
DEV2_SID, DEV2_NAME = DEFAULT_DEVICES[1]
DEVICE_LOOKUP_RE = re.compile(r"^/v1/Devices/[^/]+$")
KEY_SID_RE = re.compile(r"SK[0-9a-fA-F]{32}")
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def refreshed_outs(outs: dict[str, Any]) -> dict[str, Any]:
    """What a refresh of an unchanged item returns: its outputs, plus its device's name where the
    item was created by device SID (issue 20: a create no longer looks a SID up; refresh records
    the name, as it keeps it current)."""
    sid = outs.get("device_sid")
    if isinstance(sid, str) and "device_name" not in outs:
        return {**outs, "device_name": dict(DEFAULT_DEVICES)[sid]}
    return outs


def host_config(emulator: Emulator, **extra: str) -> dict[str, str]:
    """Stack config for a host talking to `emulator` as its account, plus `extra` twilio:* keys.

    Retries back off from 10 ms instead of 250 ms unless `extra` says otherwise: tests check which
    calls a retry makes and in what order, and Twilio's own Retry-After is still honoured in full
    (test_reliability_faults checks the back-off itself)."""
    config = {
        "twilio:accountSid": emulator.account_sid,
        "twilio:authToken": emulator.auth_token,
        "twilio:endpoint": emulator.url,
        "twilio:retryBaseDelay": "0.01",
    }
    config.update({f"twilio:{k}": v for k, v in extra.items()})
    return config


def start_host(config: dict[str, str], env: dict[str, str] | None = None) -> ProviderHost:
    host = ProviderHost(env)
    host.configure(config)
    return host


def snapshot(emu: Emulator) -> dict[tuple[str, ...], str | None]:
    """Everything the emulated account holds that a resource kind manages, with values.

    Keys: ("config"|"secret", device SID or "", key) -> value; ("apikey", sid) -> friendly_name.
    """
    store = emu.store
    state: dict[tuple[str, ...], str | None] = {}
    scopes: list[str | None] = [None, *(sid for sid, _ in DEFAULT_DEVICES)]
    for scope in scopes:
        for _, rec in store.list_items("config", scope):
            state[("config", scope or "", rec["key"])] = rec["value"]
        for _, rec in store.list_items("secret", scope):
            state[("secret", scope or "", rec["key"])] = store.secret_value_for_device(rec["key"], scope)
    for _, rec in store.list_keys():
        state[("apikey", rec["sid"])] = rec["friendly_name"]
    return state


def calls(emu: Emulator, *, with_lookups: bool = False) -> list[tuple[str, str, int | None, bool]]:
    """The API calls the emulator saw, in the order they started: (method, path, status, faulted).

    Device lookups (GET /v1/Devices/<sid or name>) are left out unless asked for: the provider
    caches them per process, so whether one happens depends on earlier tests. API key SIDs are
    shown as ``SK*``.
    """
    entries = sorted(emu.request_log(), key=lambda e: e["time"])
    return [
        (e["method"], KEY_SID_RE.sub("SK*", e["path"]), e["status"], e["fault"])
        for e in entries
        if with_lookups or not (e["method"] == "GET" and DEVICE_LOOKUP_RE.match(e["path"]))
    ]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def walk_strings(struct: struct_pb2.Struct | struct_pb2.Value) -> Iterator[tuple[str, bool]]:
    """Every string in a protobuf Struct, with whether it sits inside a secret-signature object."""

    def walk(value: struct_pb2.Value, in_secret: bool) -> Iterator[tuple[str, bool]]:
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            yield value.string_value, in_secret
        elif kind == "struct_value":
            fields = value.struct_value.fields
            is_secret = SECRET_SIG_KEY in fields and fields[SECRET_SIG_KEY].string_value == SECRET_SIG
            for name, child in fields.items():
                yield name, in_secret
                yield from walk(child, in_secret or is_secret)
        elif kind == "list_value":
            for child in value.list_value.values:
                yield from walk(child, in_secret)

    if isinstance(struct, struct_pb2.Struct):
        yield from walk(struct_pb2.Value(struct_value=struct), False)
    else:
        yield from walk(struct, False)


def prime_probes(host: ProviderHost, emulator: Emulator) -> None:
    """Refresh a missing item of every kind in every collection the tests use.

    A 404 counts as "gone" only once the collection that holds the item has answered, which a
    provider asks once per collection per process. Asking here, before any test, keeps those
    probes out of the request logs the tests compare call by call.

    The session's emulator may still hold a fault rule that an earlier test (of another module, on
    the same worker) set and did not use up, e.g. when a retry budget ran out under load: the `emu`
    fixture clears them before each test, not after, so clear them here too.
    """
    emulator.clear_faults()
    for kind in KINDS:
        eng = engine(host, kind)
        if kind == "ApiKey":
            scopes = [{"account_sid": emulator.account_sid}]
            ident = "SK" + "0" * 32
        elif kind.startswith("Device"):
            scopes = [{"device_sid": sid, "key": "primer", "value": "x"} for sid, _ in DEFAULT_DEVICES]
            ident = ""
        else:
            scopes = [{"key": "primer", "value": "x"}]
            ident = "primer"
        for props in scopes:
            name = ident or f"{props['device_sid']}/primer"
            state = State(
                name, f"urn:pulumi:dev::fleet::{TOKENS[kind]}::primer", eng.news(props), eng.news(props)
            )
            assert eng.refresh(state) is None, f"{kind} {name} should not exist"

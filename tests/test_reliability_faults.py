"""Every operation of every resource kind under every fault the emulator can inject.

Through the real provider host (small read timeout and retry budget from stack config) against the
emulator's fault hooks: each (kind, operation, fault) either succeeds after retries with exactly
the intended remote state, or fails with a clear error that leaves Twilio and Pulumi's state in
agreement. The request log shows the retries: every expected call, in order, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from _host import Engine, ProviderHost, State
from _reliability import (
    DEV1_SID,
    DEV2_SID,
    DEVICE_LOOKUP_RE,
    calls,
    engine,
    host_config,
    prime_probes,
    refreshed_outs,
    snapshot,
    start_host,
    wait_for,
)
from pulumi.runtime import rpc

READ_TIMEOUT = 0.5
MAX_RETRIES = 3
SLOW = READ_TIMEOUT + 0.3  # the emulator answers this long after the request: past the read timeout

FAULTS: dict[str, dict[str, Any]] = {
    "429-retry-after": {"status": 429, "retry_after": "1"},
    "429": {"status": 429},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "dropped": {"drop": True},
    "slow": {"delay": SLOW},
    "lost-response": {"drop": True, "when": "after"},
}


@pytest.fixture(scope="module")
def host(emulator):
    h = start_host(
        host_config(
            emulator,
            readTimeout=str(READ_TIMEOUT),
            connectTimeout="2",
            maxRetries=str(MAX_RETRIES),
        )
    )
    prime_probes(h, emulator)
    yield h
    h.close()


# -- what each kind's operations send ------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP call an operation makes when nothing goes wrong."""

    method: str
    path: str  # as logged, API key SIDs shown as SK*
    status: int
    create: bool = False  # a create POST: never resent blindly, recovered by looking first
    item: str = ""  # for a create: the path of the item it makes


@dataclass(frozen=True)
class Kind:
    name: str
    collection: str  # path of the collection creates POST to
    secret: bool = False
    device: bool = False

    def inputs(self, key: str, value: str, device: str = DEV1_SID) -> dict[str, Any]:
        if self.name == "ApiKey":
            return {"friendly_name": value}
        base = {"key": key, "value": value}
        return {"device_sid": device, **base} if self.device else base

    def collection_of(self, device: str = DEV1_SID) -> str:
        return self.collection.replace(DEV1_SID, device)

    def item(self, key: str, device: str = DEV1_SID) -> str:
        if self.name == "ApiKey":
            return self.collection.replace("Keys.json", "Keys/SK*.json")
        return f"{self.collection_of(device)}/{key}"

    def create_call(self, key: str, device: str = DEV1_SID) -> Call:
        return Call("POST", self.collection_of(device), 201, create=True, item=self.item(key, device))

    def remote(
        self, key: str, value: str, device: str = DEV1_SID, sid: str = ""
    ) -> tuple[tuple[str, ...], str]:
        if self.name == "ApiKey":
            return ("apikey", sid), value
        scope = device if self.device else ""
        return ("secret" if self.secret else "config", scope, key), value


def kinds(emulator_account: str) -> dict[str, Kind]:
    keys = f"/2010-04-01/Accounts/{emulator_account}/Keys.json"
    return {
        "AccountConfig": Kind("AccountConfig", "/v1/Configs"),
        "DeviceConfig": Kind("DeviceConfig", f"/v1/Devices/{DEV1_SID}/Configs", device=True),
        "AccountSecret": Kind("AccountSecret", "/v1/Secrets", secret=True),
        "DeviceSecret": Kind("DeviceSecret", f"/v1/Devices/{DEV1_SID}/Secrets", secret=True, device=True),
        "ApiKey": Kind("ApiKey", keys),
    }


# Operations that apply to each kind: secrets have no in-place update (a new value replaces them);
# an API key's only replacing input is its account, and the emulator has one account.
OPS = {
    "AccountConfig": ("create", "read", "update", "delete", "replace"),
    "DeviceConfig": ("create", "read", "update", "delete", "replace"),
    "AccountSecret": ("create", "read", "delete", "replace"),
    "DeviceSecret": ("create", "read", "delete", "replace"),
    "ApiKey": ("create", "read", "update", "delete"),
}
CASES = [(k, op) for k, ops in OPS.items() for op in ops]


@dataclass
class Plan:
    """One operation: what exists before, how to run it, the calls it makes, the state it leaves."""

    before: dict[str, Any] | None  # inputs of the resource created first (None: nothing)
    calls: list[Call]
    action: str  # the word the error names when the first call keeps failing
    after_key: str
    after_value: str
    after_device: str = DEV1_SID
    gone: bool = False


def plan(kind: Kind, op: str) -> Plan:
    k, v = "fault-key", "value-1"
    if op == "create":
        if kind.name == "ApiKey":
            # Made under an attempt name, then given its real one.
            return Plan(None, [kind.create_call(k), Call("POST", kind.item(k), 200)], "create", k, v)
        return Plan(None, [kind.create_call(k)], "create", k, v)
    if op == "read":
        return Plan(kind.inputs(k, v), [Call("GET", kind.item(k), 200)], "refresh", k, v)
    if op == "update":
        return Plan(kind.inputs(k, v), [Call("POST", kind.item(k), 200)], "update", k, "value-2")
    if op == "delete":
        return Plan(kind.inputs(k, v), [Call("DELETE", kind.item(k), 204)], "delete", k, v, gone=True)
    assert op == "replace"
    if kind.name == "AccountConfig":
        # A new key: the new config is created before the old one is deleted.
        return Plan(
            kind.inputs(k, v),
            [kind.create_call("fault-key-2"), Call("DELETE", kind.item(k), 204)],
            "create",
            "fault-key-2",
            v,
        )
    if kind.name == "DeviceConfig":
        # Another device, same key: the new config is created before the old one is deleted.
        return Plan(
            kind.inputs(k, v),
            [kind.create_call(k, DEV2_SID), Call("DELETE", kind.item(k), 204)],
            "create",
            k,
            v,
            after_device=DEV2_SID,
        )
    # Secrets: a new value replaces the secret, the old one deleted first (same key).
    return Plan(
        kind.inputs(k, v), [Call("DELETE", kind.item(k), 204), kind.create_call(k)], "delete", k, "value-2"
    )


def run(eng: Engine, kind: Kind, op: str, state: State | None, p: Plan) -> State | None:
    if op == "create":
        return eng.create(kind.inputs(p.after_key, p.after_value))
    assert state is not None
    if op == "read":
        return eng.refresh(state)
    if op == "delete":
        eng.delete(state)
        return None
    return eng.up(state, kind.inputs(p.after_key, p.after_value, p.after_device))


def fault_spec(call: Call, fault: dict[str, Any], times: int = 1) -> dict[str, Any]:
    path = "^" + call.path.replace(".", r"\.").replace("SK*", "SK[0-9a-f]{32}") + "$"
    return {"method": call.method, "path": path, "times": times, **fault}


def expected_calls(kind: Kind, call: Call, fault_name: str) -> list[tuple[str, str, int | None, bool]]:
    """The calls one faulted call turns into: the faulted attempt, then the recovery."""
    fault = FAULTS[fault_name]
    m, p = call.method, call.path
    injected = fault.get("status")  # None for drops; a slow request shows its real, late status
    if not call.create:
        late = 404 if m == "DELETE" else call.status  # a late or resent delete finds nothing left
        if fault_name == "slow":
            return [(m, p, late, True), (m, p, call.status, False)]
        if fault_name == "lost-response":
            return [(m, p, None, True), (m, p, late, False)]
        return [(m, p, injected, True), (m, p, call.status, False)]
    ambiguous_done = fault_name in ("slow", "lost-response")  # the create took effect
    first = (m, p, 201 if fault_name == "slow" else injected, True)
    if injected == 429:
        # Twilio did not process it (its 20429 page says so): sent again, nothing looked for.
        return [first, (m, p, 201, False)]
    if kind.name == "ApiKey":
        # Look for the key our attempt made under its attempt name (useless: its secret is gone),
        # delete it, make ours.
        recover = [("GET", p, 200, False)]
        if ambiguous_done:
            recover.append(("DELETE", call.item, 204, False))
        return [first, *recover, (m, p, 201, False)]
    if not ambiguous_done:
        return [first, ("GET", call.item, 404, False), (m, p, 201, False)]
    # Found, and written during our attempt by Twilio's clock: ours, taken as it is.
    return [first, ("GET", call.item, 200, False)]


def expected_state(kind: Kind, p: Plan, new: State | None) -> dict:
    """The whole account after the operation (each test starts from an empty one): this resource
    as intended, or nothing when it was deleted."""
    if p.gone:
        return {}
    assert new is not None
    key, value = kind.remote(p.after_key, p.after_value, p.after_device, new.id)
    return {key: value}


def assert_state_matches(kind: Kind, p: Plan, state: State | None, emu) -> None:
    """Pulumi's state says exactly what the emulator holds."""
    if p.gone:
        assert state is None
        return
    assert state is not None
    outs = {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in state.outs.items()}
    if kind.name == "ApiKey":
        assert outs["sid"] == state.id and outs["friendly_name"] == p.after_value
        # The secret in state is the one that opens the key.
        assert rpc.is_rpc_secret(state.outs["secret"])
        assert emu.store.authenticate(state.id, outs["secret"]) is not None
        return
    assert outs["key"] == p.after_key and outs["value"] == p.after_value
    if kind.secret:
        assert rpc.is_rpc_secret(state.outs["value"])
    if kind.device:
        assert outs["device_sid"] == p.after_device and state.id == f"{p.after_device}/{p.after_key}"
    else:
        assert state.id == p.after_key


def prepare(host: ProviderHost, emu, kind_name: str, op: str) -> tuple[Kind, Engine, Plan, State | None]:
    kind = kinds(emu.account_sid)[kind_name]
    eng = engine(host, kind_name)
    p = plan(kind, op)
    state = eng.create(p.before) if p.before is not None else None
    emu.clear_request_log()
    return kind, eng, p, state


@pytest.mark.parametrize("fault_name", list(FAULTS))
@pytest.mark.parametrize("kind_name,op", CASES)
def test_transient_fault_is_retried_to_exactly_the_intended_state(host, emu, kind_name, op, fault_name):
    kind, eng, p, state = prepare(host, emu, kind_name, op)
    for call in p.calls:
        emu.add_fault(**fault_spec(call, FAULTS[fault_name]))

    new = run(eng, kind, op, state, p)

    # Every fault hit once; a slow request is logged when its late answer is finally sent.
    wait_for(lambda: sum(c[3] for c in calls(emu)) == len(p.calls), what="the faulted requests")
    assert emu.faults() == []
    want_calls = [c for call in p.calls for c in expected_calls(kind, call, fault_name)]
    if kind_name == "ApiKey" and op == "create" and FAULTS[fault_name].get("status") != 429:
        # After a possibly lost attempt, one more look once the key is made, for a late landing.
        want_calls.append(("GET", kind.collection, 200, False))
    assert calls(emu) == want_calls
    if fault_name == "429-retry-after":
        # The server's Retry-After of 1 s was honoured before the next request.
        log = sorted(emu.request_log(), key=lambda e: e["time"])
        for i, entry in enumerate(log[:-1]):
            if entry["fault"]:
                assert log[i + 1]["time"] - entry["time"] >= 0.95
    assert snapshot(emu) == expected_state(kind, p, new)
    assert_state_matches(kind, p, new, emu)
    if op == "read":
        assert state is not None and new is not None and new.outs == refreshed_outs(state.outs)


@pytest.mark.parametrize("kind_name,op", CASES)
def test_persistent_fault_fails_clearly_and_changes_nothing(host, emu, kind_name, op):
    kind, eng, p, state = prepare(host, emu, kind_name, op)
    before = snapshot(emu)
    first = p.calls[0]
    # A 503 whose Retry-After of 0 keeps the retries quick; the count of attempts is what matters.
    emu.add_fault(**fault_spec(first, {"status": 503, "retry_after": "0"}, times=100))

    with pytest.raises(grpc.RpcError) as info:
        run(eng, kind, op, state, p)

    message = info.value.details().strip().splitlines()[-1]
    assert message.startswith("microvisor_pulumi.resources._provider.MicrovisorPulumiError: ")
    assert kind_name in message and f"{p.action} failed" in message and "503" in message
    # The first attempt and every retry the stack config allows, then nothing more of it.
    attempts = [c for c in calls(emu) if c[3]]
    assert len(attempts) == 1 + MAX_RETRIES
    # No duplicate, no orphan, nothing half done: Twilio holds what Pulumi's (unchanged) state says.
    assert snapshot(emu) == before

    # Once Twilio recovers, the same operation converges.
    emu.clear_faults()
    new = run(eng, kind, op, state, p)
    assert snapshot(emu) == expected_state(kind, p, new)
    assert_state_matches(kind, p, new, emu)


@pytest.mark.parametrize("kind_name", [k for k, ops in OPS.items() if "create" in ops])
def test_create_whose_every_response_is_lost_leaves_no_orphan(host, emu, kind_name):
    kind, eng, p, _ = prepare(host, emu, kind_name, "create")
    emu.add_fault(**fault_spec(p.calls[0], FAULTS["lost-response"], times=100))
    if kind_name != "ApiKey":
        # The key names the item: finding it after the first lost answer is finding ours.
        new = run(eng, kind, "create", None, p)
        assert snapshot(emu) == expected_state(kind, p, new)
        assert_state_matches(kind, p, new, emu)
        assert [c[0] for c in calls(emu) if c[3]] == ["POST"]
        return
    # Every key made is useless (its secret never arrived): the create fails, and deletes them all.
    with pytest.raises(grpc.RpcError) as info:
        run(eng, kind, "create", None, p)
    message = info.value.details().strip().splitlines()[-1]
    assert "ApiKey" in message and "create failed" in message and "check before repeating" in message
    made = [c for c in calls(emu) if c[0] == "POST" and c[3]]
    deleted = [c for c in calls(emu) if c[0] == "DELETE" and c[2] == 204]
    assert len(made) == 1 + MAX_RETRIES and len(deleted) == len(made)
    assert snapshot(emu) == {}


def test_backoff_follows_the_retry_base_delay(emulator, emu):
    """twilio:retryBaseDelay sets the first wait of both retry layers: the HTTP layer's resend of a
    read, and the provider's look after an ambiguous create (each at least half the base)."""
    base = 0.6
    own = start_host(host_config(emulator, maxRetries="3", retryBaseDelay=str(base)))
    try:
        prime_probes(own, emu)
        kind = kinds(emu.account_sid)["DeviceConfig"]
        eng = engine(own, "DeviceConfig")
        emu.clear_request_log()
        emu.add_fault(**fault_spec(kind.create_call("k"), {"status": 500}))
        state = eng.create(kind.inputs("k", "v"))
        emu.add_fault(**fault_spec(Call("GET", kind.item("k"), 200), {"status": 503}))
        assert eng.refresh(state) is not None
    finally:
        own.close()
    log = [
        e for e in sorted(emu.request_log(), key=lambda e: e["time"]) if not DEVICE_LOOKUP_RE.match(e["path"])
    ]
    assert [(e["method"], e["status"]) for e in log] == [
        ("POST", 500),
        ("GET", 404),
        ("POST", 201),
        ("GET", 503),
        ("GET", 200),
    ]
    # The provider's look after the failed create, and the HTTP layer's resend of the read.
    for before, after in ((log[0], log[1]), (log[3], log[4])):
        assert after["time"] - before["time"] >= base / 2 - 0.02, (before, after)

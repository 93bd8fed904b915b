"""ApiKey's two key types through the real provider host, against the emulator: restricted keys
(IAM v1, with a policy) beside Standard keys (API v2010), and states made before key types existed.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from _host import CheckFailed, State, engine, to_struct
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb

from microvisor_pulumi.resources.api_key import PENDING_PREFIX

READ = {"allow": ["/twilio/messaging/messages/read"]}
READ_SEND = {"allow": ["/twilio/messaging/messages/read", "/twilio/messaging/messages/create"]}


def restricted(name: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {"friendly_name": name, "key_type": "restricted", "policy": policy}


def key_secret(state: State) -> str:
    value = state.outs["secret"]
    assert rpc.is_rpc_secret(value), "the key's secret must stay a Pulumi secret"
    return str(rpc.unwrap_rpc_secret(value))


def test_restricted_key_create_update_in_place_and_delete(host, emu, calls):
    eng = engine(host, "ApiKey")
    state = eng.create(restricted("reader", READ))
    # Made under an attempt name through IAM, then named: two calls, both to IAM.
    assert [(m, p) for m, p, _ in calls()] == [("POST", "/v1/Keys"), ("POST", f"/v1/Keys/{state.id}")]
    outs = state.outs
    assert outs["key_type"] == "restricted" and outs["policy"] == READ and outs["friendly_name"] == "reader"
    secret = key_secret(state)
    assert emu.store.get_key(state.id)["policy"] == READ
    principal = emu.store.authenticate(state.id, secret)
    assert (
        principal is not None and principal.kind == "restricted" and principal.allow == tuple(READ["allow"])
    )

    # The same permissions in another order mean the same policy: no change, no call.
    calls.reset()
    reordered = {"allow": list(reversed(READ_SEND["allow"]))}
    state = eng.up(state, restricted("reader", READ_SEND))
    assert state.history[-1] == "update"
    assert eng.preview(state, restricted("reader", reordered)).changes == pb.DiffResponse.DIFF_NONE
    # A new policy and name: one call, in place, same key and secret.
    assert calls() == [("POST", f"/v1/Keys/{state.id}", 200)]
    calls.reset()
    state = eng.up(state, restricted("reader-2", READ))
    assert state.history[-1] == "update" and calls() == [("POST", f"/v1/Keys/{state.id}", 200)]
    assert emu.store.get_key(state.id)["policy"] == READ
    assert emu.store.get_key(state.id)["friendly_name"] == "reader-2"
    assert state.outs["policy"] == READ and key_secret(state) == secret

    calls.reset()
    eng.delete(state)
    assert calls() == [("DELETE", f"/v1/Keys/{state.id}", 204)]
    assert emu.store.authenticate(state.id, secret) is None
    calls.reset()
    assert eng.refresh(state) is None  # 404, and the IAM collection answers: gone
    assert calls() == [("GET", f"/v1/Keys/{state.id}", 404), ("GET", "/v1/Keys", 200)]


def test_refresh_sees_policy_drift_and_up_sets_it_back(host, emu, api, calls):
    eng = engine(host, "ApiKey")
    state = eng.create(restricted("drifty", READ))
    # Someone widens the key in the Console.
    api.post(f"/v1/Keys/{state.id}", data={"Policy": '{"allow": ["/twilio/*"]}'})
    calls.reset()
    refreshed = eng.refresh(state)
    assert refreshed is not None
    assert calls() == [("GET", f"/v1/Keys/{state.id}", 200)]
    assert refreshed.outs["policy"] == {"allow": ["/twilio/*"]}
    assert refreshed.ins["policy"] == {"allow": ["/twilio/*"]}
    assert key_secret(refreshed) == key_secret(state)
    diff = eng.preview(refreshed, restricted("drifty", READ))
    assert diff.changes == pb.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    state = eng.up(refreshed, restricted("drifty", READ))
    assert state.history[-1] == "update" and emu.store.get_key(state.id)["policy"] == READ
    # A refresh of an undrifted key changes nothing.
    again = eng.refresh(state)
    assert again is not None and again.outs["policy"] == READ
    assert eng.preview(again, restricted("drifty", READ)).changes == pb.DiffResponse.DIFF_NONE


def test_a_new_key_type_replaces_the_key_new_one_first(host, emu):
    eng = engine(host, "ApiKey")
    state = eng.create(restricted("moving", READ))
    old_sid, old_secret = state.id, key_secret(state)
    diff = eng.preview(state, {"friendly_name": "moving", "key_type": "standard"})
    assert list(diff.replaces) == ["key_type"] and not diff.deleteBeforeReplace
    state = eng.up(state, {"friendly_name": "moving", "key_type": "standard"})
    assert state.history[-1] == "create-delete" and state.id != old_sid
    assert state.outs["key_type"] == "standard" and state.outs.get("policy") is None
    assert emu.store.get_key(state.id)["key_type"] == "standard"
    assert emu.store.authenticate(old_sid, old_secret) is None
    # And back: a Standard key becoming restricted is replaced too.
    diff = eng.preview(state, restricted("moving", READ))
    assert list(diff.replaces) == ["key_type"]


@pytest.mark.parametrize(
    "inputs,rule,entry",
    [
        (restricted("x", {}), "'allow' list", None),
        ({"key_type": "restricted"}, "required when key_type is 'restricted'", None),
        ({"policy": READ}, "only with key_type 'restricted'", None),
        (restricted("x", ["/twilio/messaging/messages/read"]), "mapping", None),
        (restricted("x", {"allow": []}), "1 to 100 permissions, got 0", None),
        (
            restricted("x", {"allow": [f"/twilio/p/{i}" for i in range(101)]}),
            "1 to 100 permissions, got 101",
            None,
        ),
        (restricted("x", {"allow": "/twilio/messaging/messages/read"}), "must be a list", None),
        (restricted("x", {"allow": ["/twilio/ok", "/twilio/messaging /read"]}), "white space", "'allow'[1]"),
        (restricted("x", {"allow": ["/twilio/ok\t"]}), "white space", "'allow'[0]"),
        (restricted("x", {"allow": ["/messaging/messages/read"]}), "/twilio/... permission", "'allow'[0]"),
        (restricted("x", {"allow": ["/twilio/"]}), "/twilio/... permission", "'allow'[0]"),
        (restricted("x", {"allow": [7]}), "permission string", "'allow'[0]"),
        (restricted("x", {"allow": ["/twilio/a", "/twilio/a"]}), "listed twice", "'allow'[1]"),
        (restricted("x", {"allow": ["/twilio/a"], "deny": ["/twilio/b"]}), "only 'allow'", "'deny'"),
        ({"key_type": "main"}, "must be one of 'standard', 'restricted'", None),
    ],
)
def test_bad_policies_are_refused_before_any_call(host, emu, calls, inputs, rule, entry):
    eng = engine(host, "ApiKey")
    with pytest.raises(CheckFailed) as info:
        eng.check(inputs)
    (failure,) = info.value.failures
    field = "key_type" if rule.startswith("must be one of") else "policy"
    assert failure[0] == field and rule in failure[1] and f"'{field}'" in failure[1]
    if entry is not None:
        assert entry in failure[1]
    assert calls() == []


def test_lost_create_answer_leaves_no_orphan_and_spares_the_neighbour(host, emu, api):
    eng = engine(host, "ApiKey")
    # A key someone else made, with the same name and type, made just before.
    neighbour = api.post(
        "/v1/Keys",
        data={
            "AccountSid": emu.account_sid,
            "FriendlyName": "twin",
            "KeyType": "restricted",
            "Policy": '{"allow": ["/twilio/messaging/messages/read"]}',
        },
    ).json()
    emu.add_fault(method="POST", path=r"^/v1/Keys$", times=1, drop=True, when="after")
    state = eng.create(restricted("twin", READ))
    keys = {r["sid"]: r for _, r in emu.store.list_keys()}
    assert set(keys) == {neighbour["sid"], state.id}  # the lost attempt was deleted, nothing else
    assert not any(k["friendly_name"].startswith(PENDING_PREFIX) for k in keys.values())
    assert emu.store.authenticate(neighbour["sid"], neighbour["secret"]) is not None
    assert keys[neighbour["sid"]]["friendly_name"] == "twin" and keys[neighbour["sid"]]["policy"] == READ
    log = [(r["method"], r["path"], r["status"]) for r in emu.request_log()]
    posts = [status for method, path, status in log if (method, path) == ("POST", "/v1/Keys")]
    assert posts == [201, None, 201]  # the neighbour, our lost answer, our retry
    # Exactly one key was deleted: our lost attempt, found by its attempt name.
    assert [m for m, p, _ in log if m == "DELETE"] == ["DELETE"]


def test_a_state_made_before_key_types_keeps_working(host, emu, api, calls):
    """A key in the state today's users have: no key_type, no policy (a Standard v2010 key)."""
    eng = engine(host, "ApiKey")
    made = api.post(
        f"/2010-04-01/Accounts/{emu.account_sid}/Keys.json", data={"FriendlyName": "legacy"}
    ).json()
    outputs = {
        "sid": made["sid"],
        "friendly_name": "legacy",
        "date_created": made["date_created"],
        "date_updated": made["date_updated"],
        "account_sid": emu.account_sid,
        "secret": rpc.wrap_rpc_secret(made["secret"]),
        "__provider": eng.provider_str,
    }
    inputs = {"friendly_name": "legacy", "__provider": eng.provider_str}
    old = State(
        made["sid"], f"urn:pulumi:dev::fleet::{eng.type_token}::legacy", to_struct(inputs), to_struct(outputs)
    )
    # The stored provider is a reference to the same module and class, which did not move, and
    # the type token is today's.
    pickled = base64.b64decode(eng.provider_str)
    assert (
        len(pickled) < 200
        and b"microvisor_pulumi.resources.api_key" in pickled
        and b"ApiKeyProvider" in pickled
    )
    assert eng.type_token == "pulumi-python:dynamic/twilio:ApiKey"

    calls.reset()
    refreshed = eng.refresh(old)
    assert refreshed is not None and calls() == [
        ("GET", f"/2010-04-01/Accounts/{emu.account_sid}/Keys/{made['sid']}.json", 200)
    ]
    assert refreshed.outs["key_type"] == "standard" and refreshed.outs.get("policy") is None
    assert key_secret(refreshed) == made["secret"]
    for program in ({"friendly_name": "legacy"}, {"friendly_name": "legacy", "key_type": "standard"}):
        assert eng.preview(old, program).changes == pb.DiffResponse.DIFF_NONE
        assert eng.preview(refreshed, program).changes == pb.DiffResponse.DIFF_NONE
    calls.reset()
    renamed = eng.up(old, {"friendly_name": "legacy-2"})
    assert renamed.history[-1] == "update" and renamed.id == made["sid"]
    assert [p for _, p, _ in calls()] == [f"/2010-04-01/Accounts/{emu.account_sid}/Keys/{made['sid']}.json"]
    assert key_secret(renamed) == made["secret"]
    moved = eng.up(renamed, restricted("legacy-2", READ))
    assert moved.history[-1] == "create-delete" and moved.outs["key_type"] == "restricted"
    assert emu.store.authenticate(made["sid"], made["secret"]) is None


def test_a_429_on_restricted_create_is_resent_without_looking(host, emu):
    eng = engine(host, "ApiKey")
    emu.add_fault(method="POST", path=r"^/v1/Keys$", times=1, status=429, retry_after="0")
    state = eng.create(restricted("busy", READ))
    log = [(r["method"], r["path"], r["status"]) for r in emu.request_log()]
    # Twilio did not process a 429: no list, no clean-up, just the same create again.
    assert log == [
        ("POST", "/v1/Keys", 429),
        ("POST", "/v1/Keys", 201),
        ("POST", f"/v1/Keys/{state.id}", 200),
    ]
    assert [r["sid"] for _, r in emu.store.list_keys()] == [state.id]

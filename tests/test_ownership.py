"""Never touch what is not provably ours (issue 10), through the real provider host and the emulator.

Each test sets up a neighbour: another stack, a script or a person who owns an object that looks
like ours (same friendly name, same key, the same device under another name). Then something goes
wrong the way it does in real life (a 503, a lost answer, a 429, an outside rename or rotation, a
misrouted endpoint) and the test checks both the outcome and what Twilio holds afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from _host import CheckFailed, ProviderHost, State, engine
from _reliability import DEV1_NAME, DEV1_SID, DEV2_SID, host_config, snapshot, start_host
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb

from microvisor_pulumi.resources._schema import CHANGED_OUTSIDE

KEY_FAULTS = {
    "503": {"status": 503},  # not processed here, but the provider cannot know that
    "lost-answer": {"drop": True, "when": "after"},  # made, and the answer lost
    "503-after-making-it": {"status": 503, "when": "after"},
    "429": {"status": 429, "retry_after": "0"},
}


@pytest.fixture(scope="module")
def host(emulator) -> Iterator[ProviderHost]:
    h = start_host(host_config(emulator, maxRetries="3", readTimeout="1"))
    yield h
    h.close()


@pytest.fixture
def older(emu):
    """Make the emulator's next writes look `seconds` old on Twilio's clock, as a neighbour's
    earlier work would."""

    def shift(seconds: float) -> None:
        emu.store.clock = lambda: time.time() - seconds

    yield shift
    emu.store.clock = time.time


def keys_path(emu) -> str:
    return f"/2010-04-01/Accounts/{emu.account_sid}/Keys.json"


def details(info: pytest.ExceptionInfo[grpc.RpcError]) -> str:
    return info.value.details().strip().splitlines()[-1]


# -- 1. API keys: a lost answer never costs a neighbour their key -----------------------------------


@pytest.mark.parametrize("fault", list(KEY_FAULTS))
@pytest.mark.parametrize("name", ["backend", None])
def test_api_key_create_recovery_never_touches_a_neighbours_key(host, emu, api, fault, name):
    # A neighbour made keys seconds ago: one with our friendly name, one unnamed.
    same_name = api.post(emu.url + keys_path(emu), data={"FriendlyName": "backend"}).json()
    unnamed = api.post(emu.url + keys_path(emu)).json()
    emu.clear_request_log()
    emu.add_fault(method="POST", path=r"/Keys\.json$", times=1, **KEY_FAULTS[fault])

    state = engine(host, "ApiKey").create({"friendly_name": name} if name else {})

    held = {sid: fname for (kind, sid), fname in snapshot(emu).items() if kind == "apikey"}
    # The neighbour's keys are there and still open their doors; ours is the only other key.
    assert emu.store.authenticate(same_name["sid"], same_name["secret"]) is not None
    assert emu.store.authenticate(unnamed["sid"], unnamed["secret"]) is not None
    assert set(held) == {same_name["sid"], unnamed["sid"], state.id}
    assert held[state.id] in ((name,) if name else ("", None))
    assert emu.store.authenticate(state.id, rpc.unwrap_rpc_secret(state.outs["secret"])) is not None
    log = emu.request_log()
    deleted = [e["path"] for e in log if e["method"] == "DELETE"]
    if fault == "429":
        # Not processed: sent again after the back-off, nothing looked for, nothing deleted.
        assert [e["method"] for e in log if e["path"].endswith("Keys.json")] == ["POST", "POST"]
    if fault in ("429", "503"):
        assert deleted == []  # nothing was made, so nothing was cleaned up
    else:
        # Only the key our own lost attempt made (under its attempt name) was deleted.
        assert len(deleted) == 1 and not any(sid in deleted[0] for sid in (same_name["sid"], unnamed["sid"]))


def test_api_key_whose_naming_fails_is_deleted_not_left_half_made(host, emu, api):
    neighbour = api.post(emu.url + keys_path(emu), data={"FriendlyName": "ops"}).json()
    emu.add_fault(method="POST", path=r"/Keys/SK[0-9a-f]{32}\.json$", times=100, status=400)
    with pytest.raises(grpc.RpcError) as info:
        engine(host, "ApiKey").create({"friendly_name": "ops"})
    assert "ApiKey 'ops': create (naming the new key) failed" in details(info)
    # The key this create made is gone; the neighbour's is untouched.
    assert {sid for (kind, sid) in snapshot(emu) if kind == "apikey"} == {neighbour["sid"]}


# -- 2. Secrets and configs: a neighbour's item is never taken as ours ------------------------------


@pytest.mark.parametrize(
    "kind,value",
    [("AccountSecret", "ours"), ("DeviceSecret", "ours"), ("AccountConfig", "same-as-theirs")],
)
@pytest.mark.parametrize("fault", ["503", "lost-answer-of-a-retry"])
def test_a_neighbours_item_is_neither_overwritten_nor_adopted_after_a_transient_failure(
    host, emu, api, older, kind, value, fault
):
    device = kind.startswith("Device")
    collection = f"/v1/Devices/{DEV1_SID}/" if device else "/v1/"
    collection += "Secrets" if "Secret" in kind else "Configs"
    # The neighbour set it a little while ago (a config even with the very value we declare).
    older(10)
    theirs = "theirs" if "Secret" in kind else value
    api.post(emu.url + collection, data={"Key": "psk", "Value": theirs}).raise_for_status()
    older(0)
    if fault == "503":
        emu.add_fault(method="POST", path=f"^{collection}$", times=1, status=503)
    else:
        emu.add_fault(method="POST", path=f"^{collection}$", times=1, drop=True)
    before = snapshot(emu)
    inputs = {"key": "psk", "value": value, **({"device_sid": DEV1_SID} if device else {})}

    with pytest.raises(grpc.RpcError) as info:
        engine(host, kind).create(inputs)

    message = details(info)
    assert "already exists" in message and "overwrite=True" in message and "by hand" in message
    assert "last changed" in message
    assert snapshot(emu) == before  # nothing overwritten, nothing adopted
    # The way out the message names works: the program says so, and the item is taken over.
    state = engine(host, kind).create({**inputs, "overwrite": True})
    key = ("secret" if "Secret" in kind else "config", DEV1_SID if device else "", "psk")
    assert snapshot(emu)[key] == value and state.outs["overwrite"] is True


@pytest.mark.parametrize("kind", ["AccountSecret", "DeviceConfig"])
def test_a_lost_create_answer_still_converges_to_exactly_one_item(host, emu, kind):
    device = kind.startswith("Device")
    collection = (
        (f"/v1/Devices/{DEV1_SID}/" if device else "/v1/")
        + kind.removeprefix("Device").removeprefix("Account")
        + "s"
    )
    emu.add_fault(method="POST", path=f"^{collection}$", times=1, drop=True, when="after")
    inputs = {"key": "k", "value": "v", **({"device_sid": DEV1_SID} if device else {})}
    state = engine(host, kind).create(inputs)
    scope = DEV1_SID if device else ""
    assert snapshot(emu) == {("secret" if "Secret" in kind else "config", scope, "k"): "v"}
    assert rpc.unwrap_rpc_secret(state.outs["value"]) == "v"
    # Found by its key and written during our attempt: one POST, one GET, no second write.
    assert [e["method"] for e in emu.request_log() if e["path"].startswith(collection)] == ["POST", "GET"]


# -- 3. Device identity: the same device under any of its names -------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("declared_by", ["name", "sid"])
def test_a_device_renamed_outside_pulumi_is_no_change_and_its_item_survives(
    host, emu, api, overwrite, declared_by
):
    eng = engine(host, "DeviceConfig")
    first = DEV1_NAME if declared_by == "name" else DEV1_SID
    state = eng.create({"device_sid": first, "key": "mode", "value": "fast", "overwrite": overwrite})
    api.post(f"{emu.url}/v1/Devices/{DEV1_SID}", data={"UniqueName": "lab-bench-7"}).raise_for_status()
    emu.clear_request_log()

    renamed = {"device_sid": "lab-bench-7", "key": "mode", "value": "fast", "overwrite": overwrite}
    assert eng.preview(state, renamed).changes == pb.DiffResponse.DIFF_NONE
    after = eng.up(state, renamed)

    assert after.history[-1] == "same"
    assert snapshot(emu) == {("config", DEV1_SID, "mode"): "fast"}
    # At most one lookup of the name state did not know (once per process), and nothing else.
    assert [(e["method"], e["path"]) for e in emu.request_log()] in (
        [("GET", "/v1/Devices/lab-bench-7")],
        [],
    )
    # Refresh records the device's current name; the next diff needs no lookup at all.
    refreshed = eng.refresh(after)
    assert refreshed is not None and refreshed.outs["device_name"] == "lab-bench-7"
    emu.clear_request_log()
    assert eng.preview(refreshed, renamed).changes == pb.DiffResponse.DIFF_NONE
    assert emu.request_log() == []


def test_another_device_by_sid_is_still_a_create_first_replacement(host, emu):
    eng = engine(host, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_SID, "key": "mode", "value": "fast"})
    emu.clear_request_log()
    diff = eng.preview(state, {"device_sid": DEV2_SID, "key": "mode", "value": "fast"})
    assert list(diff.replaces) == ["device_sid"] and not diff.deleteBeforeReplace
    assert emu.request_log() == []  # another SID is another device: no lookup needed


def test_refresh_looks_each_device_up_once_per_process(emulator, emu):
    h = start_host(host_config(emulator))
    try:
        eng = engine(h, "DeviceSecret")
        states = [eng.create({"device_sid": DEV1_SID, "key": f"k{i}", "value": "v"}) for i in range(3)]
        emu.clear_request_log()
        for state in states:
            assert eng.refresh(state) is not None
        lookups = [e for e in emu.request_log() if e["path"] == f"/v1/Devices/{DEV1_SID}"]
        assert len(lookups) <= 1  # the create may already have looked it up
    finally:
        h.close()


def test_a_replacement_never_deletes_the_item_another_resource_took_over(host, emu, older):
    eng = engine(host, "AccountConfig")
    older(30)  # made by an earlier `pulumi up`
    a = eng.create({"key": "x", "value": "1"})
    older(0)
    # This `up`: a new resource takes key x over (the program says overwrite=True), and the old
    # resource moves to key y: a create-first replacement whose delete would hit x.
    b = eng.create({"key": "x", "value": "2", "overwrite": True}, name="b")
    moved = eng.up(a, {"key": "y", "value": "1"})
    assert moved.history[-1] == "create-delete" and b.id == "x"
    assert snapshot(emu) == {("config", "", "x"): "2", ("config", "", "y"): "1"}


# -- 4. ignore_changes on a secret's value survives an outside rotation ------------------------------


@pytest.mark.parametrize("kind", ["AccountSecret", "DeviceSecret"])
def test_ignore_changes_on_value_survives_an_outside_rotation(host, emu, api, kind):
    eng = engine(host, kind)
    base = {"device_sid": DEV1_SID} if kind == "DeviceSecret" else {}
    path = f"/v1/Devices/{DEV1_SID}/Secrets/ig" if base else "/v1/Secrets/ig"
    state = eng.create({**base, "key": "ig", "value": "ours"})
    emu.store.clock = lambda: time.time() + 5  # rotated outside Pulumi, a few seconds later
    try:
        api.post(emu.url + path, data={"Value": "rotated-by-ops"}).raise_for_status()
    finally:
        emu.store.clock = time.time

    refreshed = eng.refresh(state)
    assert refreshed is not None
    program = {**base, "key": "ig", "value": "ours"}
    # With ignore_changes: refresh and up both succeed, and the rotated secret is left alone.
    kept = eng.up(refreshed, program, ignore_changes=["value"])
    assert kept.history[-1] == "same"
    assert eng.refresh(kept) is not None
    held = snapshot(emu)
    assert held[("secret", base.get("device_sid", ""), "ig")] == "rotated-by-ops"
    # Without it, up sets our value again.
    again = eng.up(refreshed, program)
    assert again.history[-1] == "delete-create"
    assert snapshot(emu)[("secret", base.get("device_sid", ""), "ig")] == "ours"
    assert rpc.unwrap_rpc_secret(again.outs["value"]) == "ours"


def test_a_replacement_under_ignore_changes_after_rotation_stops_with_the_way_out(host, emu, api):
    eng = engine(host, "AccountSecret")
    state = eng.create({"key": "ig2", "value": "ours"})
    emu.store.clock = lambda: time.time() + 5
    try:
        api.post(emu.url + "/v1/Secrets/ig2", data={"Value": "rotated"}).raise_for_status()
    finally:
        emu.store.clock = time.time
    refreshed = eng.refresh(state)
    assert refreshed is not None
    before = snapshot(emu)
    with pytest.raises(grpc.RpcError) as info:
        # A new key means a new secret, and its value is unknown: nothing may be written.
        eng.up(refreshed, {"key": "ig3", "value": "ours"}, ignore_changes=["value"])
    assert "changed outside Pulumi" in details(info) and "ignore_changes" in details(info)
    assert snapshot(emu) == before


def test_the_marker_cannot_reach_twilio_from_a_program(host, emu):
    # A program cannot send the marker's NUL: check refuses it like any other control value there.
    with pytest.raises(CheckFailed):
        engine(host, "AccountConfig").check({"key": "k", "value": "\x00changed outside Pulumi"})


@pytest.mark.parametrize("kind", ["AccountSecret", "DeviceSecret"])
def test_a_program_cannot_send_the_marker_as_a_secret_value(host, emu, api, kind):
    eng = engine(host, kind)
    base = {"device_sid": DEV1_SID} if kind == "DeviceSecret" else {}
    before = snapshot(emu)
    # A new secret whose value is the marker: it would be written to Twilio as the secret.
    for value in (CHANGED_OUTSIDE, CHANGED_OUTSIDE + " at 2026-01-01T00:00:00Z"):
        with pytest.raises(CheckFailed, match="value"):
            eng.create({**base, "key": "mk", "value": value})
    assert snapshot(emu) == before
    # An existing secret the program now gives the marker (its old input is a real value).
    state = eng.create({**base, "key": "mk", "value": "ours"})
    with pytest.raises(CheckFailed, match="value"):
        eng.up(state, {**base, "key": "mk", "value": CHANGED_OUTSIDE})

    # After an outside rotation the old input is a marker; only that very marker, carried forward by
    # ignore_changes, passes: another marker (another date) is still a program's value.
    emu.store.clock = lambda: time.time() + 5
    try:
        path = f"/v1/Devices/{DEV1_SID}/Secrets/mk" if base else "/v1/Secrets/mk"
        api.post(emu.url + path, data={"Value": "rotated"}).raise_for_status()
    finally:
        emu.store.clock = time.time
    refreshed = eng.refresh(state)
    assert refreshed is not None
    marker = rpc.unwrap_rpc_secret(refreshed.ins["value"])
    assert marker.startswith(CHANGED_OUTSIDE)
    with pytest.raises(CheckFailed, match="value"):
        eng.up(refreshed, {**base, "key": "mk", "value": CHANGED_OUTSIDE + " at 1999-01-01T00:00:00Z"})
    assert (
        eng.up(refreshed, {**base, "key": "mk", "value": "x"}, ignore_changes=["value"]).history[-1] == "same"
    )


# -- 5. "Gone" means Twilio said so about that item --------------------------------------------------


def misroute(emu) -> None:
    """From now on the endpoint answers a Twilio-shaped 404 for every path, as a wrong endpoint, a
    proxy or a retired product would."""
    emu.add_fault(path=".", times=10_000, status=404)


@pytest.mark.parametrize("kind", ["AccountConfig", "DeviceConfig", "AccountSecret", "DeviceSecret", "ApiKey"])
def test_a_misrouted_refresh_or_destroy_changes_nothing_and_names_the_endpoint(emulator, emu, kind):
    h = start_host(host_config(emulator, maxRetries="0"))  # its own process: no earlier probe known
    try:
        eng = engine(h, kind)
        inputs = {"friendly_name": "k"} if kind == "ApiKey" else {"key": "k", "value": "v"}
        if kind.startswith("Device"):
            inputs["device_sid"] = DEV1_SID
        state = eng.create(inputs)
        held = snapshot(emu)
        misroute(emu)
        with pytest.raises(grpc.RpcError) as info:
            eng.refresh(state)
        message = details(info)
        assert "refresh stopped" in message and emu.url in message and "twilio:endpoint" in message
        assert "Nothing was changed in the Pulumi state" in message
        with pytest.raises(grpc.RpcError) as info:
            eng.delete(state)
        assert "delete stopped" in details(info)
        # Once the endpoint is right again, the same state refreshes as it was.
        emu.clear_faults()
        assert snapshot(emu) == held
        refreshed = eng.refresh(state)
        assert refreshed is not None and refreshed.id == state.id
    finally:
        h.close()


def test_gone_is_gone_when_twilio_says_so_and_the_collection_is_asked_once(emulator, emu, api):
    h = start_host(host_config(emulator))
    try:
        eng = engine(h, "DeviceConfig")
        states: list[State] = [
            eng.create({"device_sid": DEV1_SID, "key": f"g{i}", "value": "v"}) for i in range(3)
        ]
        for state in states:
            api.delete(f"{emu.url}/v1/Devices/{DEV1_SID}/Configs/{state.outs['key']}").raise_for_status()
        emu.clear_request_log()
        assert [eng.refresh(state) for state in states] == [None, None, None]
        probes = [e for e in emu.request_log() if e["path"] == f"/v1/Devices/{DEV1_SID}/Configs"]
        assert len(probes) == 1
    finally:
        h.close()


# -- also found -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UV1", "UVBEEF", "uvbeef", "UV" + "0" * 31, "UV" + "0" * 33])
def test_unique_names_that_start_with_uv_are_names_not_bad_sids(host, emu, api, name):
    eng = engine(host, "DeviceConfig")
    eng.check({"device_sid": name, "key": "k", "value": "v"})  # no CheckFailed
    api.post(f"{emu.url}/v1/Devices/{DEV2_SID}", data={"UniqueName": name}).raise_for_status()
    state = eng.create({"device_sid": name, "key": "k", "value": "v"})
    assert state.outs["device_sid"] == DEV2_SID and state.outs["device_name"] == name

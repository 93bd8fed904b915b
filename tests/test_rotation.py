"""Key rotation without downtime, as successive `pulumi up`s under mocks, every step sent through the
real provider host to the emulator: ApiKey with `replacement_trigger`, and RotatingApiKey (whose
RotationSlots state also goes through the host: create, diff, update, read).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from _deploy import StackMocks
from pulumi.output import Unknown

from microvisor_pulumi import ApiKey, RotatingApiKey
from microvisor_pulumi.resources.rotating_api_key import RotationSlotsProvider, SlotKeyProvider, rotation_text

READ = {"allow": ["/twilio/messaging/messages/read"]}


@pytest.fixture
def stack(host, emu):
    return StackMocks(host)


def key_calls(emu) -> list[tuple[str, int | None]]:
    """The key-changing calls the emulator saw (creates and deletes, either API)."""
    return [(r["method"], r["status"]) for r in emu.request_log() if r["method"] in ("POST", "DELETE")]


def test_replacement_trigger_rotates_an_api_key_new_key_first(stack, emu):
    def program(rotation: str) -> Any:
        def run() -> dict[str, pulumi.Output[Any]]:
            key = ApiKey(
                "deploy-key",
                friendly_name="deploy",
                opts=pulumi.ResourceOptions(replacement_trigger=rotation, delete_before_replace=False),
            )
            return {"sid": key.sid, "secret": key.secret}

        return run

    first = stack.up(program("2026-01"))
    sid1, secret1 = first["sid"][0], first["secret"][0]
    assert first["secret"][1], "the secret stays a Pulumi secret"
    assert stack.registrations["deploy-key"]["trigger"] is not None

    emu.clear_request_log()
    again = stack.up(program("2026-01"))
    assert again["sid"][0] == sid1 and key_calls(emu) == []  # same trigger: nothing happens

    emu.clear_request_log()
    rotated = stack.up(program("2026-04"))
    sid2, secret2 = rotated["sid"][0], rotated["secret"][0]
    assert sid2 != sid1 and secret2 != secret1 and rotated["secret"][1]
    # Created (and named) first, the old key deleted last.
    log = [(r["method"], r["path"]) for r in emu.request_log() if r["method"] in ("POST", "DELETE")]
    assert [m for m, _ in log] == ["POST", "POST", "DELETE"] and log[-1][1].endswith(f"/Keys/{sid1}.json")
    assert [s for n, s in stack.steps if n == "deploy-key"] == ["create", "same", "create-delete"]
    assert emu.store.authenticate(sid2, secret2) is not None
    assert emu.store.authenticate(sid1, secret1) is None


def test_replacement_trigger_given_as_an_output_compares_resolved_values(stack, emu):
    def program(trigger: Any) -> Any:
        def run() -> dict[str, pulumi.Output[Any]]:
            key = ApiKey("k", opts=pulumi.ResourceOptions(replacement_trigger=trigger))
            return {"sid": key.sid}

        return run

    sid1 = stack.up(program(pulumi.Output.from_input("q1")))["sid"][0]
    # The same value, now a secret Output and then plain text: no replacement (the engine unwraps).
    assert stack.up(program(pulumi.Output.secret("q1")))["sid"][0] == sid1
    assert stack.up(program("q1"))["sid"][0] == sid1
    sid2 = stack.up(program(pulumi.Output.from_input("q1").apply(lambda v: v + "-next")))["sid"][0]
    assert sid2 != sid1
    assert [s for n, s in stack.steps if n == "k"] == ["create", "same", "same", "create-delete"]


def rotating(rotation: Any, **kwargs: Any) -> Any:
    def run() -> dict[str, pulumi.Output[Any]]:
        key = RotatingApiKey("backend", rotation=rotation, **kwargs)
        return {
            "current": key.current,
            "previous": key.previous,
            "current_sid": key.current_sid,
            "previous_sid": key.previous_sid,
            "current_slot": key.current_slot,
        }

    return run


def valid(emu, pair: dict[str, str]) -> bool:
    return emu.store.authenticate(pair["sid"], pair["secret"]) is not None


def live_keys(emu) -> set[str]:
    return {r["sid"] for _, r in emu.store.list_keys()}


def test_rotating_api_key_keeps_previous_valid_until_the_next_rotation(stack, emu):
    first = stack.up(rotating("2026-01"))
    current, previous = first["current"][0], first["previous"][0]
    assert first["current"][1] and first["previous"][1], "both pairs stay Pulumi secrets"
    assert first["current_sid"] == (current["sid"], False) and first["previous_sid"] == (
        previous["sid"],
        False,
    )
    assert first["current_slot"][0] == "a"
    # Both slots hold a key from the first deploy; previous is the other slot's key.
    assert current["sid"] != previous["sid"] and valid(emu, current) and valid(emu, previous)
    assert live_keys(emu) == {current["sid"], previous["sid"]}
    assert emu.store.get_key(current["sid"])["friendly_name"] == "backend 2026-01"

    seen = {current["sid"], previous["sid"]}
    for n, rotation in enumerate(["2026-04", "2026-07", "2026-10"]):
        before, two_ago = current, previous
        out = stack.up(rotating(rotation))
        current, previous = out["current"][0], out["previous"][0]
        assert out["current"][1] and out["previous"][1]
        assert current["sid"] not in seen, f"{rotation}: current is a brand-new key"
        seen.add(current["sid"])
        assert previous == before, f"{rotation}: previous is exactly the key that was current"
        assert valid(emu, current) and valid(emu, previous)  # a late consumer still works
        assert not valid(emu, two_ago), f"{rotation}: the key from two rotations ago is deleted"
        assert live_keys(emu) == {current["sid"], previous["sid"]}
        assert out["current_slot"][0] == ("b", "a", "b")[n]
        assert emu.store.get_key(current["sid"])["friendly_name"] == f"backend {rotation}"

        # Neither a repeated up nor a refresh (then an up) rotates anything.
        keys = live_keys(emu)
        emu.clear_request_log()
        start = len(stack.steps)
        again = stack.up(rotating(rotation))
        stack.refresh()
        after_refresh = stack.up(rotating(rotation))
        for result in (again, after_refresh):
            assert result["current"][0] == current and result["previous"][0] == previous
        assert live_keys(emu) == keys and key_calls(emu) == []
        # Not even the slots' own state moved: every step was "same" or a read.
        assert {s for _, s in stack.steps[start:]} == {"same", "refresh"}

    # The replaced slot's new key was made before its old key went, and the other slot was untouched.
    replaced = [(n, s) for n, s in stack.steps if n.startswith("backend-") and s != "refresh"]
    assert ("backend-b", "create-delete") in replaced and ("backend-a", "create-delete") in replaced
    assert {s for n, s in replaced if n == "backend-slots"} == {"create", "update", "same"}
    assert not [s for _, s in replaced if s in ("delete", "delete-create")]


def test_rotating_api_key_takes_an_output_and_a_structured_rotation(stack, emu):
    first = stack.up(rotating(pulumi.Output.from_input({"year": 2026, "q": 1})))
    # Same value, keys in another order: the same rotation.
    again = stack.up(rotating({"q": 1, "year": 2026}))
    assert again["current"][0] == first["current"][0] and again["previous"][0] == first["previous"][0]
    second = stack.up(rotating({"q": 2, "year": 2026}))
    assert second["previous"][0] == first["current"][0] and valid(emu, second["current"][0])
    assert second["current"][0]["sid"] not in (first["current"][0]["sid"], first["previous"][0]["sid"])


def test_rotating_back_to_the_previous_value_makes_its_key_current_again(stack, emu):
    first = stack.up(rotating("v1"))
    second = stack.up(rotating("v2"))
    keys = live_keys(emu)
    emu.clear_request_log()
    back = stack.up(rotating("v1"))
    assert back["current"][0] == first["current"][0] and back["previous"][0] == second["current"][0]
    assert live_keys(emu) == keys and key_calls(emu) == []


def test_rotating_restricted_keys(stack, emu):
    first = stack.up(rotating(1, key_type="restricted", policy=READ, friendly_name="reader"))
    second = stack.up(rotating(2, key_type="restricted", policy=READ, friendly_name="reader"))
    assert second["previous"][0] == first["current"][0]
    for pair in (second["current"][0], second["previous"][0]):
        key = emu.store.get_key(pair["sid"])
        assert key["key_type"] == "restricted" and key["policy"] == READ and key["friendly_name"] == "reader"


class _Opaque:
    pass


@pytest.mark.parametrize(
    "rotation,message",
    [
        (None, "'rotation' is required"),
        (_Opaque(), "'rotation' must be made of JSON values"),
        (pulumi.Output.from_input(None), "'rotation' is required"),
    ],
)
def test_rotating_api_key_refuses_bad_rotations_before_any_key_is_made(stack, emu, rotation, message):
    def run() -> dict[str, pulumi.Output[Any]]:
        RotatingApiKey("bad", rotation=rotation)
        return {}

    with pytest.raises(Exception, match=message):
        stack.up(run)
    assert not [k for k in stack.resources if k[0].endswith(":ApiKey")] and emu.request_log() == []


def test_rotation_text_is_deterministic_json():
    import datetime

    assert rotation_text("2026-04") == '"2026-04"'
    assert rotation_text(2026) != rotation_text("2026")
    assert rotation_text({"q": 2, "a": [1]}) == rotation_text({"a": [1], "q": 2}) != rotation_text({"q": 3})
    assert rotation_text(datetime.date(2026, 4, 1)) == '"2026-04-01"'
    assert rotation_text({"b", "a"}) == '["a","b"]'
    assert rotation_text(None) is None


def test_rotation_slots_provider_rules():
    p = RotationSlotsProvider()
    created = p.create({"rotation": '"r1"'}).outs
    assert created == {"rotation": '"r1"', "slot_a": '"r1"', "slot_b": '"r1"', "current": "a", "version": 2}
    assert p.diff("id", created, {"rotation": '"r1"'}).changes is False
    assert p.diff("id", created, {"rotation": '"r2"'}).changes is True
    second = p.update("id", created, {"rotation": '"r2"'}).outs
    assert second == {"rotation": '"r2"', "slot_a": '"r1"', "slot_b": '"r2"', "current": "b", "version": 2}
    third = p.update("id", second, {"rotation": '"r3"'}).outs
    assert third == {"rotation": '"r3"', "slot_a": '"r3"', "slot_b": '"r2"', "current": "a", "version": 2}
    read = p.read("id", {**third, "__provider": "x"})
    assert read.id == "id" and read.outs == third and read.inputs == {"rotation": '"r3"'}
    assert p.check({}, {}).failures and p.check({}, {"rotation": 5}).failures
    # In a preview the new rotation may be unknown: it passes check and counts as a change.
    assert not p.check({}, {"rotation": Unknown()}).failures
    assert p.diff("id", third, {"rotation": Unknown()}).changes is True
    assert p.__getstate__() == {}


def test_rotating_api_key_has_the_index_token_and_an_alias_from_its_old_one():
    from _mocks import EngineLikeMonitor, ProviderMocks

    from microvisor_pulumi.resources.rotating_api_key import OLD_TYPE_TOKEN, TYPE_TOKEN

    class Recording(EngineLikeMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            requests[request.name] = request
            return super().RegisterResource(request)

    class Echo(ProviderMocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            outs = {k: v for k, v in args.inputs.items() if k != "__provider"}
            if args.typ.endswith("RotationSlots"):
                outs.update(slot_a='"q1"', slot_b='"q1"', current="a")
            return f"{args.name}-id", outs

    requests: dict[str, Any] = {}
    mocks = Echo({})
    pulumi.runtime.set_mocks(mocks, project="fleet", stack="dev", monitor=Recording(mocks))

    @pulumi.runtime.test
    def body() -> pulumi.Output[Any]:
        return RotatingApiKey("backend", rotation="q1").current_slot

    body()
    assert TYPE_TOKEN == "microvisor:index:RotatingApiKey"
    component = requests["backend"]
    assert component.type == TYPE_TOKEN
    # The old token, same name and parent: the engine moves a stack's existing component (and with it
    # its children, whose URNs follow) instead of deleting the keys and making new ones.
    specs = [a.spec for a in component.aliases]
    assert [(s.type, s.name, s.project, s.stack) for s in specs] == [(OLD_TYPE_TOKEN, "", "", "")]
    for child in ("backend-a", "backend-b", "backend-slots"):
        assert requests[child].parent.endswith(f"{TYPE_TOKEN}::backend")


# -- at most one key replaced per up, whatever changed or failed ------------------------------------


def keys_made_and_deleted(emu) -> tuple[int, int]:
    """(keys created, keys deleted) in the emulator's log since it was last cleared."""
    creates = ("/Keys.json", "/v1/Keys")  # API v2010 (Standard keys), IAM v1 (restricted keys)
    made = [r for r in emu.request_log() if r["method"] == "POST" and r["path"].endswith(creates)]
    gone = [r for r in emu.request_log() if r["method"] == "DELETE" and r["status"] == 204]
    return len(made), len(gone)


def test_a_new_key_type_alone_is_refused_with_the_two_steps_and_touches_nothing(stack, emu):
    first = stack.up(rotating("r1"))
    keys = live_keys(emu)
    emu.clear_request_log()
    with pytest.raises(Exception, match="two steps") as info:
        stack.up(rotating("r1", key_type="restricted", policy=READ))
    assert "key_type from 'standard' to 'restricted'" in str(info.value)
    assert "together with a new 'rotation'" in str(info.value)
    assert key_calls(emu) == [] and live_keys(emu) == keys
    assert valid(emu, first["current"][0]) and valid(emu, first["previous"][0])
    # Nothing moved: the same program as before is still no change.
    again = stack.up(rotating("r1"))
    assert again["current"][0] == first["current"][0] and key_calls(emu) == []


def test_a_new_key_type_with_a_rotation_replaces_one_key_per_up(stack, emu):
    first = stack.up(rotating("r1"))
    emu.clear_request_log()
    second = stack.up(rotating("r2", key_type="restricted", policy=READ))
    assert keys_made_and_deleted(emu) == (1, 1), "one key replaced, not both"
    new, kept = second["current"][0], second["previous"][0]
    assert kept == first["current"][0] and valid(emu, kept) and valid(emu, new)
    assert emu.store.get_key(new["sid"])["key_type"] == "restricted"
    assert emu.store.get_key(new["sid"])["policy"] == READ
    assert emu.store.get_key(kept["sid"])["key_type"] != "restricted"  # until its own rotation

    emu.clear_request_log()
    again = stack.up(rotating("r2", key_type="restricted", policy=READ))
    assert again["current"][0] == new and again["previous"][0] == kept and key_calls(emu) == []

    third = stack.up(rotating("r3", key_type="restricted", policy=READ))
    assert third["previous"][0] == new and not valid(emu, kept)
    assert {emu.store.get_key(p["sid"])["key_type"] for p in (third["current"][0], new)} == {"restricted"}


def fail_next_key_create(emu) -> None:
    emu.add_fault(method="POST", path=r"/Keys\.json$", times=1, status=400)


def test_after_a_failed_rotation_the_next_value_is_refused_until_it_is_finished(stack, emu):
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r2"))
    assert valid(emu, a1) and valid(emu, b1)  # nothing made, nothing deleted

    # The next value would replace slot b's key (never made for r2) and slot a's, the one consumers
    # use: refused, before any key is touched, with the two steps.
    emu.clear_request_log()
    with pytest.raises(Exception, match="two steps") as info:
        stack.up(rotating("r3"))
    assert "rotation 'r2'" in str(info.value) and "then with rotation 'r3'" in str(info.value)
    assert key_calls(emu) == [] and valid(emu, a1) and valid(emu, b1)

    # Step one finishes the interrupted rotation: one new key, a1 kept and now previous.
    emu.clear_request_log()
    second = stack.up(rotating("r2"))
    assert keys_made_and_deleted(emu) == (1, 1)
    assert second["previous"][0] == a1 and valid(emu, a1) and not valid(emu, b1)
    b2 = second["current"][0]
    # Step two: one new key, b2 kept.
    emu.clear_request_log()
    third = stack.up(rotating("r3"))
    assert keys_made_and_deleted(emu) == (1, 1)
    assert third["previous"][0] == b2 and valid(emu, b2) and not valid(emu, a1)


def test_after_a_failed_rotation_a_retry_replaces_only_the_key_that_was_not_made(stack, emu):
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r2"))
    emu.clear_request_log()
    retried = stack.up(rotating("r2"))
    assert keys_made_and_deleted(emu) == (1, 1)
    assert retried["previous"][0] == a1 and retried["current"][0]["sid"] not in (a1["sid"], b1["sid"])
    assert valid(emu, a1) and not valid(emu, b1) and retried["current_slot"][0] == "b"


def test_after_a_failed_rotation_going_back_changes_no_key(stack, emu):
    first = stack.up(rotating("r1"))
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r2"))
    emu.clear_request_log()
    back = stack.up(rotating("r1"))
    # Slot b was planned for r2 but its key is still the r1 one: it is not "rotated back" into a new key.
    assert key_calls(emu) == []
    assert back["current"][0] == first["current"][0] and back["previous"][0] == first["previous"][0]
    assert back["current_slot"][0] == "a"


def test_a_stack_from_before_keys_kept_their_state_is_first_recorded_then_rotated():
    """States written by earlier versions: RotationSlots without 'version', keys without 'rotation'."""
    slots = RotationSlotsProvider()
    legacy = {"rotation": '"r1"', "slot_a": '"r1"', "slot_b": '"r1"', "current": "a"}
    # Rotating in the first up of this version is refused before anything is touched...
    with pytest.raises(ValueError, match="once with 'rotation' unchanged \\('r1'\\)"):
        slots.diff("id", legacy, {"rotation": '"r2"'})
    # ...the same value records the version (an update of the state only, nothing remote).
    assert slots.diff("id", legacy, {"rotation": '"r1"'}).changes is True
    assert slots.update("id", legacy, {"rotation": '"r1"'}).outs == {**legacy, "version": 2}

    keys = SlotKeyProvider()
    old_inputs = {"friendly_name": "backend r1", "__provider": "x"}
    for slot, current in (("a", "a"), ("b", "a")):
        request = {"slot": slot, "current": current, "plan": '"r1"', "other_plan": '"r1"', "newest": '"r1"'}
        if slot == current:
            request["partner"] = {"slot": "b", "made_for": '"r1"', "gen": 0, "asked": [None, "standard"]}
        checked = keys.check(old_inputs, {"friendly_name": "backend r1", "rotation": request})
        assert not checked.failures
        kept = checked.inputs["rotation"]
        # The slots are what the keys were made for; the current one is the newer.
        assert (kept["made_for"], kept["gen"]) == ('"r1"', 1 if slot == current else 0)
        # Recording it is an update of the state, not a new key.
        outs = {**old_inputs, "sid": "SK1"}
        diff = keys.diff("SK1", outs, checked.inputs)
        assert diff.changes and not diff.replaces


def test_after_going_back_the_next_rotation_replaces_the_key_that_is_not_current(stack, emu):
    first = stack.up(rotating("v1"))
    second = stack.up(rotating("v2"))
    back = stack.up(rotating("v1"))
    assert back["current"][0] == first["current"][0]
    emu.clear_request_log()
    third = stack.up(rotating("v3"))
    assert keys_made_and_deleted(emu) == (1, 1)
    # v1's key, current after going back, is kept as previous; v2's key goes.
    assert third["previous"][0] == first["current"][0] and valid(emu, first["current"][0])
    assert not valid(emu, second["current"][0])


def test_two_failed_creates_then_a_new_value_still_leads_out_in_two_steps(stack, emu):
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r2"))
    with pytest.raises(Exception, match="two steps"):
        stack.up(rotating("r3"))
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r2"))
    emu.clear_request_log()
    with pytest.raises(Exception, match="two steps") as info:
        stack.up(rotating("r4"))
    assert "rotation 'r2'" in str(info.value) and key_calls(emu) == []
    assert valid(emu, a1) and valid(emu, b1)
    second = stack.up(rotating("r2"))
    assert second["previous"][0] == a1 and valid(emu, a1) and not valid(emu, b1)
    emu.clear_request_log()
    third = stack.up(rotating("r4"))
    assert keys_made_and_deleted(emu) == (1, 1) and third["previous"][0] == second["current"][0]


def refresh_dropping_gone(stack: StackMocks) -> None:
    """`pulumi refresh`: a resource whose remote object is gone leaves the state."""
    for key, tracked in list(stack.resources.items()):
        state = tracked.engine.refresh(tracked.state)
        if state is None:
            del stack.resources[key]
        else:
            tracked.state = state


def test_a_key_deleted_outside_pulumi_is_made_again_before_the_other_one_is_rotated(stack, emu):
    """The current key deleted outside Pulumi and refreshed away: slot b's key is the only one left.
    A rotation makes slot a's key again; replacing slot b's in the same `up` (or in a retry, before
    the new key was ever current) would leave consumers no key they have: refused, b1 kept. The two
    steps the message names keep b1 for a whole rotation period."""
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    emu.store.delete_key(a1["sid"])
    refresh_dropping_gone(stack)

    for _ in range(2):  # the rotation, then a retry of it
        emu.clear_request_log()
        with pytest.raises(Exception, match="two steps") as info:
            stack.up(rotating("r2"))
        message = str(info.value)
        assert "the key of slot a was made again" in message and "only the key of slot b" in message
        assert "`pulumi up` with rotation 'r1'" in message and "then with rotation 'r2'" in message
        assert keys_made_and_deleted(emu)[1] == 0 and valid(emu, b1)
    assert len(live_keys(emu)) == 2

    emu.clear_request_log()
    second = stack.up(rotating("r1"))  # step one: slot a's new key becomes current, b1 previous
    assert keys_made_and_deleted(emu) == (0, 0) and valid(emu, b1)
    a2 = second["current"][0]
    assert a2["sid"] != a1["sid"] and valid(emu, a2) and second["previous"][0] == b1

    emu.clear_request_log()
    third = stack.up(rotating("r2"))  # step two: b1 goes, a2 kept as previous
    assert keys_made_and_deleted(emu) == (1, 1)
    assert third["previous"][0] == a2 and valid(emu, a2) and not valid(emu, b1)


def test_the_previous_key_deleted_outside_pulumi_is_simply_made_by_the_next_rotation(stack, emu):
    """The slot a rotation makes anyway has no key: the rotation makes it, the current key stays."""
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    emu.store.delete_key(b1["sid"])
    refresh_dropping_gone(stack)
    emu.clear_request_log()
    second = stack.up(rotating("r2"))
    assert keys_made_and_deleted(emu) == (1, 0)
    assert second["previous"][0] == a1 and valid(emu, a1) and valid(emu, second["current"][0])


def test_a_first_up_whose_first_key_failed_then_a_new_value_makes_both_keys(stack, emu):
    """No key at all (the first up failed at its first key) and then another rotation value: there is
    no key to protect, so the next `up` makes both keys rather than refusing forever."""
    fail_next_key_create(emu)
    with pytest.raises(Exception, match="create failed"):
        stack.up(rotating("r1"))
    assert live_keys(emu) == set()
    out = stack.up(rotating("r2"))
    assert len(live_keys(emu)) == 2 and valid(emu, out["current"][0]) and valid(emu, out["previous"][0])
    again = stack.up(rotating("r2"))
    assert again["current"][0] == out["current"][0]
    third = stack.up(rotating("r3"))
    assert third["previous"][0] == out["current"][0] and valid(emu, out["current"][0])


def test_a_key_made_again_and_never_current_may_itself_be_replaced_by_the_next_value(stack, emu):
    """After the refusal, a new value instead of the two steps: slot a's fresh key (no consumer has
    had it) is the one replaced, and slot b's key, the one consumers have, stays as previous."""
    first = stack.up(rotating("r1"))
    a1, b1 = first["current"][0], first["previous"][0]
    emu.store.delete_key(a1["sid"])
    refresh_dropping_gone(stack)
    with pytest.raises(Exception, match="two steps"):
        stack.up(rotating("r2"))
    emu.clear_request_log()
    out = stack.up(rotating("r3"))
    assert keys_made_and_deleted(emu) == (1, 1)
    assert out["previous"][0] == b1 and valid(emu, b1) and valid(emu, out["current"][0])
    assert len(live_keys(emu)) == 2

"""Key rotation without downtime, as successive `pulumi up`s under mocks, every step sent through the
real provider host to the emulator: ApiKey with `replacement_trigger`, and RotatingApiKey.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from _deploy import StackMocks
from _host import ProviderHost

from microvisor_pulumi import ApiKey, RotatingApiKey
from microvisor_pulumi.resources.rotating_api_key import rotation_label

READ = {"allow": ["/twilio/messaging/messages/read"]}


@pytest.fixture(scope="module")
def host(emulator):
    h = ProviderHost()
    h.configure(
        {
            "twilio:accountSid": emulator.account_sid,
            "twilio:authToken": emulator.auth_token,
            "twilio:endpoint": emulator.url,
        }
    )
    yield h
    h.close()


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


def rotating(rotation: Any, previous: Any = None, **kwargs: Any) -> Any:
    def run() -> dict[str, pulumi.Output[Any]]:
        key = RotatingApiKey("backend", rotation=rotation, previous_rotation=previous, **kwargs)
        return {
            "current": key.current,
            "previous": key.previous,
            "current_sid": key.current_sid,
            "previous_sid": key.previous_sid,
        }

    return run


def valid(emu, pair: dict[str, str]) -> bool:
    return emu.store.authenticate(pair["sid"], pair["secret"]) is not None


def test_rotating_api_key_keeps_previous_valid_until_the_next_rotation(stack, emu):
    first = stack.up(rotating("2026-01"))
    current1, is_secret = first["current"]
    assert is_secret and first["previous"] == (None, True) and first["previous_sid"][0] is None
    assert valid(emu, current1) and first["current_sid"] == (current1["sid"], False)
    assert emu.store.get_key(current1["sid"])["friendly_name"] == "backend 2026-01"

    second = stack.up(rotating("2026-04", "2026-01"))
    current2, previous2 = second["current"][0], second["previous"][0]
    assert second["current"][1] and second["previous"][1]
    assert previous2 == current1 and current2["sid"] != current1["sid"]
    assert valid(emu, current2) and valid(emu, current1)  # a late consumer still works

    # Neither a repeated up nor a refresh rotates anything.
    emu.clear_request_log()
    again = stack.up(rotating("2026-04", "2026-01"))
    stack.refresh()
    after_refresh = stack.up(rotating("2026-04", "2026-01"))
    assert again["current"][0] == after_refresh["current"][0] == current2
    assert again["previous"][0] == after_refresh["previous"][0] == current1
    assert key_calls(emu) == []

    third = stack.up(rotating("2026-07", "2026-04"))
    current3, previous3 = third["current"][0], third["previous"][0]
    assert previous3 == current2 and current3["sid"] not in (current1["sid"], current2["sid"])
    assert valid(emu, current3) and valid(emu, current2)
    assert not valid(emu, current1)  # the oldest key went, and only after the new one was made
    assert {r["sid"] for _, r in emu.store.list_keys()} == {current2["sid"], current3["sid"]}
    steps = [(n, s) for n, s in stack.steps if s in ("create", "delete", "create-delete")]
    assert steps[-2:] == [("backend-2026-07", "create"), ("backend-2026-01", "delete")]


def test_rotating_restricted_keys(stack, emu):
    first = stack.up(rotating(1, key_type="restricted", policy=READ, friendly_name="reader"))
    second = stack.up(rotating(2, 1, key_type="restricted", policy=READ, friendly_name="reader"))
    assert second["previous"][0] == first["current"][0]
    for pair in (second["current"][0], second["previous"][0]):
        key = emu.store.get_key(pair["sid"])
        assert key["key_type"] == "restricted" and key["policy"] == READ and key["friendly_name"] == "reader"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"rotation": None}, "'rotation' is required"),
        ({"rotation": "2026-01", "previous_rotation": "2026-01"}, "must differ"),
        ({"rotation": pulumi.Output.from_input("x")}, "'rotation' must be a plain value"),
    ],
)
def test_rotating_api_key_refuses_bad_rotations_before_anything_is_registered(stack, emu, kwargs, message):
    def run() -> dict[str, pulumi.Output[Any]]:
        RotatingApiKey("bad", **kwargs)
        return {}

    with pytest.raises(Exception, match=message):
        stack.up(run)
    assert stack.resources == {} and emu.request_log() == []


def test_rotation_labels_name_one_key_per_value():
    assert rotation_label("2026-04") == "2026-04"
    assert rotation_label(2026) != rotation_label("2026")
    assert rotation_label({"q": 2}) == rotation_label({"q": 2}) != rotation_label({"q": 3})
    assert rotation_label("a b") != rotation_label("a  b")
    assert len(rotation_label("x" * 200)) < 40

"""RotatingApiKey: two live API keys, so that a rotation never cuts off a consumer that deploys late.

A program sees only its own inputs, never its last deployment, so from ``rotation`` alone it cannot
tell which of two keys was made for which earlier value. The stack's own state can: `RotationSlots`,
a dynamic resource with no remote side, keeps the value each of two fixed slots ("a" and "b") was
last made for and which slot is current. Each slot's value is the ``replacement_trigger`` of that
slot's `ApiKey`, so the engine replaces exactly the key whose slot took a new value.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from microvisor_pulumi.resources._schema import FRIENDLY_NAME_MAX, is_unknown, plain
from microvisor_pulumi.resources.api_key import ApiKey

SLOTS = ("a", "b")
TYPE_TOKEN = "microvisor:index:RotatingApiKey"
# The token this component had before it joined DeviceProfile's scheme: stacks made then keep their
# keys through this alias (children's URNs follow their parent's, so they move with it).
OLD_TYPE_TOKEN = "microvisor-pulumi:twilio:RotatingApiKey"
_REQUIRED = "RotatingApiKey: 'rotation' is required (any value, e.g. a date string '2026-04')"


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=_json_default))
    # str() of an arbitrary object may carry its address and change on every run: that would rotate
    # the key on every `up`, so refuse it.
    raise TypeError(
        "RotatingApiKey: 'rotation' must be made of JSON values (str, int, float, bool, None, list, "
        f"dict), dates, times or sets; got {type(value).__name__}"
    )


def rotation_text(value: Any) -> str | None:
    """The form a rotation value is stored in: JSON with sorted keys, so equal values give equal text
    on every run and on every machine (``2026`` and ``"2026"`` stay different). None stays None."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def other_slot(slot: str) -> str:
    return "b" if slot == "a" else "a"


class RotationSlotsProvider(ResourceProvider):
    """The two slots of a RotatingApiKey, kept in the stack's state; nothing remote, no credentials.

    Outputs: ``rotation`` (the input, echoed), ``slot_a`` and ``slot_b`` (the rotation value each slot
    was last made for) and ``current`` ("a" or "b"). Created with both slots on the first value and
    "a" current. A ``rotation`` that differs from the current slot's value goes to the other (older)
    slot, which becomes current; the same value is no change. ``read`` returns what is stored, so a
    refresh changes nothing.
    """

    # -- pickling: the class reference only (see _provider.SchemaProvider) --------------------
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        rotation = plain(news.get("rotation"))
        if rotation is None:
            return CheckResult({}, [CheckFailure("rotation", _REQUIRED)])
        if not is_unknown(rotation) and not isinstance(rotation, str):
            # The component stores every value as JSON text (rotation_text); anything else is a bug.
            reason = (
                f"RotatingApiKey: 'rotation' must reach RotationSlots as text, got {type(rotation).__name__}"
            )
            return CheckResult({}, [CheckFailure("rotation", reason)])
        return CheckResult({"rotation": rotation}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        rotation = plain(news.get("rotation"))
        changed = is_unknown(rotation) or rotation != current_value(olds)
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        rotation = plain(props["rotation"])
        outs = {"rotation": rotation, "slot_a": rotation, "slot_b": rotation, "current": "a"}
        return CreateResult(f"slots-{uuid.uuid4().hex}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        rotation = plain(news["rotation"])
        outs = {slot_key(s): plain(olds.get(slot_key(s))) for s in SLOTS}
        current = current_slot(olds)
        if rotation != outs[slot_key(current)]:
            # The older slot takes the new value; the current one (now previous) keeps its own.
            current = other_slot(current)
            outs[slot_key(current)] = rotation
        return UpdateResult({"rotation": rotation, **outs, "current": current})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Nothing remote to look at: the stored slots are the truth, so refresh rotates nothing.
        outs = {k: plain(v) for k, v in props.items() if k != "__provider"}
        return ReadResult(id_, outs, {"rotation": current_value(props)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        pass


def slot_key(slot: str) -> str:
    return f"slot_{slot}"


def current_slot(props: Mapping[str, Any]) -> str:
    slot = plain(props.get("current"))
    return slot if slot in SLOTS else "a"


def current_value(props: Mapping[str, Any]) -> Any:
    return plain(props.get(slot_key(current_slot(props))))


class RotationSlots(Resource, module="twilio", name="RotationSlots"):
    """The state of a RotatingApiKey's two slots (see RotationSlotsProvider); not meant to be used alone."""

    rotation: pulumi.Output[str]
    slot_a: pulumi.Output[str]
    slot_b: pulumi.Output[str]
    current: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        rotation: pulumi.Input[str | None],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"rotation": rotation, "slot_a": None, "slot_b": None, "current": None}
        super().__init__(RotationSlotsProvider(), resource_name, props, opts)


class RotatingApiKey(pulumi.ComponentResource):
    """Two API keys that take turns, so consumers can move to a new key at their own pace.

    Inputs: ``rotation`` (required; any value, plain or an Output, e.g. ``"2026-04"``, changed on
    every rotation), plus the `ApiKey` inputs ``friendly_name``, ``account_sid``, ``key_type`` and
    ``policy``, given to both keys.

    The component holds two fixed slots, "a" and "b", each one child `ApiKey` (``<name>-a``,
    ``<name>-b``), and a child `RotationSlots` (``<name>-slots``) that keeps, in the stack's own state,
    the rotation value each slot was last made for and which slot is current. On the first ``up``
    both keys are made and "a" is current. When ``rotation`` changes, the older slot takes the new
    value and becomes current: its key is replaced (the new key created first, the old one deleted
    after it), because the slot value is the key's ``replacement_trigger``; the other key is left
    alone and becomes ``previous``. Only inputs and the stack's state decide this, nothing remote,
    so a ``refresh`` or a repeated ``up`` with the same ``rotation`` rotates nothing. Setting
    ``rotation`` back to the value the previous slot holds makes that key current again, with no
    new key.

    Outputs: ``current`` and ``previous``, each ``{"sid": ..., "secret": ...}`` and a Pulumi secret;
    ``current_sid``, ``previous_sid`` and ``current_slot`` in plain text. Consumers read ``current``
    through a StackReference; one that deploys late keeps working with ``previous`` for a whole
    rotation period.
    """

    current: pulumi.Output[dict[str, str]]
    previous: pulumi.Output[dict[str, str]]
    current_sid: pulumi.Output[str]
    previous_sid: pulumi.Output[str]
    current_slot: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        rotation: pulumi.Input[Any],
        friendly_name: pulumi.Input[str] | None = None,
        account_sid: pulumi.Input[str] | None = None,
        key_type: pulumi.Input[str] | None = None,
        policy: pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if rotation is None:
            raise ValueError(_REQUIRED)
        if not isinstance(rotation, pulumi.Output):
            rotation_text(rotation)  # a value that cannot be stored fails here, before anything is made
        moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=OLD_TYPE_TOKEN)])
        super().__init__(TYPE_TOKEN, resource_name, None, pulumi.ResourceOptions.merge(opts, moved))
        child = pulumi.ResourceOptions(parent=self)
        self.slots = RotationSlots(
            f"{resource_name}-slots",
            rotation=pulumi.Output.from_input(rotation).apply(rotation_text),
            opts=child,
        )
        slot_values = {"a": self.slots.slot_a, "b": self.slots.slot_b}

        def key(slot: str) -> ApiKey:
            value = slot_values[slot]
            name = (
                friendly_name
                if friendly_name is not None
                else value.apply(lambda v: _label(resource_name, v))
            )
            return ApiKey(
                f"{resource_name}-{slot}",
                friendly_name=name,
                account_sid=account_sid,
                key_type=key_type,
                policy=policy,
                # A new slot value replaces this key, the new one made before the old one goes (explicit:
                # a key replaced for another reason, a new key_type, is also made first).
                opts=pulumi.ResourceOptions(
                    parent=self, replacement_trigger=value, delete_before_replace=False
                ),
            )

        self.keys = {slot: key(slot) for slot in SLOTS}
        a, b = self.keys["a"], self.keys["b"]
        current = self.slots.current
        self.current_slot = current
        self.current_sid = pulumi.Output.all(current, a.sid, b.sid).apply(lambda v: _pick(v, False))
        self.previous_sid = pulumi.Output.all(current, a.sid, b.sid).apply(lambda v: _pick(v, True))
        pairs = pulumi.Output.all(current, a.sid, a.secret, b.sid, b.secret)
        self.current = pulumi.Output.secret(pairs.apply(lambda v: _pair(v, False)))
        self.previous = pulumi.Output.secret(pairs.apply(lambda v: _pair(v, True)))
        self.register_outputs(
            {
                "current": self.current,
                "previous": self.previous,
                "current_sid": self.current_sid,
                "previous_sid": self.previous_sid,
                "current_slot": self.current_slot,
            }
        )


def _label(resource_name: str, stored: str | None) -> str:
    """The default friendly name of a key: the component's name and the rotation it was made for."""
    value = json.loads(stored) if stored is not None else None
    text = value if isinstance(value, str) else stored
    return f"{resource_name} {text}"[:FRIENDLY_NAME_MAX]


def _pick(values: list[Any], previous: bool) -> Any:
    current, a, b = values
    return a if (current == "a") != previous else b


def _pair(values: list[Any], previous: bool) -> dict[str, str]:
    current, a_sid, a_secret, b_sid, b_secret = values
    if (current == "a") != previous:
        return {"sid": a_sid, "secret": a_secret}
    return {"sid": b_sid, "secret": b_secret}

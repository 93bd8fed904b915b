"""RotatingApiKey: two live API keys, so that a rotation never cuts off a consumer that deploys late.

A program sees only its own inputs, never its last deployment, so from ``rotation`` alone it cannot
tell which of two keys was made for which earlier value. The stack's own state can: `RotationSlots`,
a dynamic resource with no remote side, keeps the value each of two fixed slots ("a") and ("b") was
last planned for and which slot is current.

The plan is written before the keys are made, so it can be ahead of them: a key create that failed
leaves the plan moved and the key not made. So each slot key also keeps, in its own state, the value
it was really made for and a generation (higher is newer), and the keys, not the plan, decide what
is replaced. They are registered one after the other: first the slot the plan does not make current
(it is never replaced by a rotation), then the current one, which sees the first one's state as it
is after this step and is replaced only when it holds the older key. So at most one key is replaced
per ``up``, and never the newer key, which consumers may be using; what cannot keep that promise is
refused before any key is touched, with the way to do it in two steps.
"""

from __future__ import annotations

import dataclasses
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

from microvisor_pulumi.resources._resource import TwilioResource
from microvisor_pulumi.resources._schema import FRIENDLY_NAME_MAX, Prop, is_unknown, plain
from microvisor_pulumi.resources.api_key import STANDARD, ApiKeyProvider

SLOTS = ("a", "b")
# RotationSlots' state from when the slot keys record what they were made for (absent before).
VERSION = 2
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
        if plain(olds.get("version")) != VERSION:
            if changed and not is_unknown(rotation):
                # Keys made before their state said what they were made for: only a plan that has
                # not moved tells it truly, so the first `up` of this version must not rotate.
                raise ValueError(
                    "RotatingApiKey: this stack's keys were made by an earlier microvisor-pulumi, whose "
                    "state does not record what each key was made for. Run `pulumi up` once with "
                    f"'rotation' unchanged ({_shown(current_value(olds))}) to record it, then change it."
                )
            changed = True  # record the version: the keys then trust the slots as they stand
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        rotation = plain(props["rotation"])
        outs = {
            "rotation": rotation,
            "slot_a": rotation,
            "slot_b": rotation,
            "current": "a",
            "version": VERSION,
        }
        return CreateResult(f"slots-{uuid.uuid4().hex}", outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        rotation = plain(news["rotation"])
        outs = {slot_key(s): plain(olds.get(slot_key(s))) for s in SLOTS}
        current = current_slot(olds)
        if rotation != outs[slot_key(current)]:
            # The older slot takes the new value; the current one (now previous) keeps its own.
            current = other_slot(current)
            outs[slot_key(current)] = rotation
        return UpdateResult({"rotation": rotation, **outs, "current": current, "version": VERSION})

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
    version: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        rotation: pulumi.Input[str | None],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"rotation": rotation, "slot_a": None, "slot_b": None, "current": None, "version": None}
        super().__init__(RotationSlotsProvider(), resource_name, props, opts)


def _shown(stored: Any) -> str:
    """A stored rotation value as the program wrote it (rotation values are not secret)."""
    if not isinstance(stored, str):
        return repr(stored)
    try:
        value = json.loads(stored)
    except ValueError:
        return repr(stored)
    return repr(value) if isinstance(value, str) else stored


# What a slot key keeps about itself in its hidden ``rotation`` input (echoed in its outputs):
#   slot      "a" or "b"
#   made_for  the rotation value (JSON text) its key was really made for
#   gen       its generation: one more than the other key's when it was made (higher is newer)
#   asked     [account_sid, key_type] the program asked for at its last step, to tell a new ask
#   fresh     true while a key made again after it was lost has not yet been current (see plan_step)
# The component sends, in the same input, what this `up` plans:
#   slot, current (the slot the plan makes current), plan (this slot's planned value), newest (the
#   current slot's planned value), partner (only for the current slot: the other key's kept state
#   after its step in this `up`), label (the default friendly name's prefix, or None), name.
_KEPT = ("slot", "made_for", "gen", "asked", "fresh")
_SPEC = ("account_sid", "key_type")


class RotationRefused(ValueError):
    """What the program asks would break RotatingApiKey's promise; nothing was touched."""


def _kept(value: Any) -> dict[str, Any] | None:
    value = plain(value)
    gen = value.get("gen") if isinstance(value, Mapping) else None
    # (A number comes back from the engine as a float.)
    if isinstance(value, Mapping) and "made_for" in value and isinstance(gen, (int, float)):
        return {**{k: plain(value.get(k)) for k in _KEPT}, "gen": int(gen)}
    return None


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


def plan_step(
    request: Mapping[str, Any], olds: Mapping[str, Any], asks: list[Any]
) -> tuple[dict[str, Any], bool]:
    """What one slot key does in this `up`: (the state it keeps, whether its key is made now).

    The slot the plan does not make current goes first and is never replaced: its key is what
    consumers use now, or the one they used before. The current slot goes second, seeing the first
    one's state, and is replaced when neither key was made for the newest value and its key is the
    older one. So at most one key is replaced per `up`, and never the one consumers moved to last,
    nor the only one they have (the other key made again after it was lost, never current yet).
    Raises RotationRefused when that cannot be kept.
    """
    slot, current = request["slot"], request["current"]
    plan, newest = request["plan"], request["newest"]
    exists = any(k != "__provider" for k in olds)
    mine = _kept(olds.get("rotation"))
    if exists and mine is None:
        # Made before keys kept this (RotationSlots refuses to rotate in that first `up`): the
        # slots are what the keys were made for.
        mine = {"slot": slot, "made_for": plan, "gen": 1 if slot == current else 0, "asked": None}

    def made(value: Any, gen: int) -> tuple[dict[str, Any], bool]:
        return {"slot": slot, "made_for": value, "gen": gen, "asked": asks}, True

    if slot != current:
        if mine is None:
            kept, make = made(plan, 0)
            if plan != newest:
                # Made again while a rotation is under way: its key was lost (deleted outside Pulumi
                # and refreshed away), and no consumer has had this one. Until it has been current,
                # the other key is the only one they have (see the current slot below).
                kept["fresh"] = True
            return kept, make
        return {**mine, "asked": asks}, False
    partner = _kept(request.get("partner"))
    partner_gen = partner["gen"] if partner else -1
    if mine is None:
        return made(newest, partner_gen + 1)
    if newest in (mine["made_for"], partner and partner["made_for"]):
        _refuse_new_spec(request, olds, mine, asks)
        # Current now, so consumers are given it: no longer the fresh key nobody has.
        return {**mine, "asked": asks, "fresh": None}, False
    planned_other = _other_plan(request)
    if partner is not None and partner.get("fresh"):
        _refuse_lost_partner(request, slot)
    if (
        partner is None
        or partner["made_for"] == planned_other
        or mine["gen"] < partner["gen"]
        or mine.get("fresh")
    ):
        # The other key was really made for what the plan says it holds (it is what consumers moved
        # to), or, if not, this key is still the older one, or one no consumer has had: this one goes.
        return made(newest, max(mine["gen"], partner_gen) + 1)
    name = request.get("name") or "RotatingApiKey"
    other = other_slot(slot)
    raise RotationRefused(
        f"RotatingApiKey '{name}': the key of slot {other} was never made for rotation "
        f"{_shown(planned_other)} (a `pulumi up` failed while making it), so slot {slot} still holds "
        "the newer key, the one consumers use. Rotating to "
        f"{_shown(newest)} now would replace that key with no rotation period. Do it in two steps: "
        f"`pulumi up` with rotation {_shown(planned_other)}, which finishes the interrupted rotation "
        f"(a new key in slot {other}), then with rotation {_shown(newest)}."
    )


def _refuse_lost_partner(request: Mapping[str, Any], slot: str) -> None:
    """The other slot's key was made again after it was lost, and never given to consumers: this
    slot's key is the only one they have, so it is not replaced until the other has been current."""
    name = request.get("name") or "RotatingApiKey"
    other = other_slot(slot)
    before, newest = _shown(_other_plan(request)), _shown(request["newest"])
    raise RotationRefused(
        f"RotatingApiKey '{name}': the key of slot {other} was made again (the one before was deleted "
        "outside Pulumi and dropped by a refresh, or removed from the state) and has never been "
        f"current, so consumers have only the key of slot {slot}. Rotating to {newest} would replace "
        f"that one too, with no rotation period; it was kept. Do it in two steps: `pulumi up` with "
        f"rotation {before}, which makes slot {other}'s new key current (slot {slot}'s key stays as "
        f"previous), then with rotation {newest}."
    )


def _other_plan(request: Mapping[str, Any]) -> Any:
    return request.get("other_plan")


def _refuse_new_spec(
    request: Mapping[str, Any], olds: Mapping[str, Any], mine: Mapping[str, Any], asks: list[Any]
) -> None:
    """A new account_sid or key_type means a new key: refused when no key is made in this `up`."""
    actual = [plain(olds.get("account_sid")), plain(olds.get("key_type")) or STANDARD]
    before = mine.get("asked") or actual
    changed = [
        f"{prop} from {before[i]!r} to {asks[i]!r}"
        for i, prop in enumerate(_SPEC)
        if asks[i] is not None and asks[i] != before[i] and asks[i] != actual[i]
    ]
    if changed:
        name = request.get("name") or "RotatingApiKey"
        raise RotationRefused(
            f"RotatingApiKey '{name}': changing {' and '.join(changed)} needs new keys, and a "
            "RotatingApiKey replaces at most one key per `pulumi up`, only when 'rotation' changes, so "
            "that consumers always keep a working key. Do it in two steps: change it together with a "
            "new 'rotation' value (the new key is made with it; the other key keeps its own), then "
            "rotate once more to replace the other key."
        )


class SlotKeyProvider(ApiKeyProvider):
    """An ApiKey that is one slot of a RotatingApiKey: it decides in check, from its own state and
    the other key's, whether this `up` replaces it (see plan_step); Twilio calls are ApiKey's."""

    # ApiKey's declaration plus the slot's own record of what its key was made for (an input, so
    # also an output: the other slot's check reads it from this key's state).
    schema = dataclasses.replace(
        ApiKeyProvider.schema,
        props=(
            *ApiKeyProvider.schema.props,
            Prop(
                "rotation",
                required=False,
                description="The rotation this slot's key was made for (kept by RotatingApiKey).",
            ),
        ),
    )

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        request = plain(news.get("rotation"))
        program = {k: v for k, v in news.items() if k != "rotation"}
        if request is None:
            return super().check(olds, program)
        if _has_unknown(request):
            # A preview of a rotation: the plan is not known yet, so neither is the outcome.
            result = super().check(olds, program)
            result.inputs["rotation"] = request
            return result
        asks = [plain(news.get("account_sid")), plain(news.get("key_type")) or STANDARD]
        try:
            kept, make = plan_step(request, olds, asks)
        except RotationRefused as err:
            return CheckResult({}, [CheckFailure("rotation", str(err))])
        inputs = dict(program)
        if not make and any(k != "__provider" for k in olds):
            # Not made now: this key keeps the account and type it was made with (a new one would be a
            # replacement), and its own policy if its type is no longer the one asked for.
            for prop in _SPEC:
                inputs[prop] = plain(olds.get(prop))
            if (plain(olds.get("key_type")) or STANDARD) != asks[1]:
                inputs["policy"] = plain(olds.get("policy"))
        label = request.get("label")
        if plain(inputs.get("friendly_name")) is None and label is not None:
            inputs["friendly_name"] = _label(label, kept["made_for"])
        result = super().check(olds, inputs)
        result.inputs["rotation"] = kept
        return result

    def same(self, prop: Prop, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        if prop.name == "rotation":
            old_kept, new_kept = _kept(old), _kept(new)
            if old_kept is None or new_kept is None:
                return False  # not kept yet: an update records it
            return all(old_kept[k] == new_kept[k] for k in ("made_for", "gen")) and bool(
                old_kept["fresh"]
            ) == bool(new_kept["fresh"])
        return super().same(prop, old, new, olds)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        new, old = plain(news.get("rotation")), _kept(olds.get("rotation"))
        kept = _kept(new)
        remade = _has_unknown(new) or (
            old is not None and kept is not None and kept["made_for"] != old["made_for"]
        )
        if remade and "rotation" not in (result.replaces or []):
            # A key made for another rotation is a new key: made first, the old one deleted after.
            return DiffResult(
                changes=True,
                replaces=[*(result.replaces or []), "rotation"],
                stables=[],
                delete_before_replace=False,
            )
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        result = super().create(props)
        return CreateResult(result.id, {**(result.outs or {}), "rotation": plain(props.get("rotation"))})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        result = super().update(id_, olds, news)
        return UpdateResult({**(result.outs or {}), "rotation": plain(news.get("rotation"))})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        result = super().read(id_, props)
        kept = plain(props.get("rotation"))
        if not result.id or kept is None:
            return result
        # Nothing remote says what a key was made for: what the state kept stays.
        return ReadResult(
            result.id, {**(result.outs or {}), "rotation": kept}, {**(result.inputs or {}), "rotation": kept}
        )


class _SlotKey(TwilioResource, module="twilio", name="ApiKey"):
    """One slot's key: an ApiKey (same type token, so states made before keep their keys) whose
    replacement is decided by SlotKeyProvider rather than a replacement_trigger."""

    sid: pulumi.Output[str]
    secret: pulumi.Output[str]
    rotation: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        resource_name: str,
        *,
        rotation: pulumi.Input[Mapping[str, Any]],
        friendly_name: pulumi.Input[str] | None,
        account_sid: pulumi.Input[str] | None,
        key_type: pulumi.Input[str] | None,
        policy: pulumi.Input[Mapping[str, Any]] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "friendly_name": friendly_name,
            "account_sid": account_sid,
            "key_type": key_type,
            "policy": policy,
            "rotation": rotation,
        }
        super().__init__(SlotKeyProvider(), resource_name, inputs, opts)


class RotatingApiKey(pulumi.ComponentResource):
    """Two API keys that take turns, so consumers can move to a new key at their own pace.

    Inputs: ``rotation`` (required; any value, plain or an Output, e.g. ``"2026-04"``, changed on
    every rotation), plus the `ApiKey` inputs ``friendly_name``, ``account_sid``, ``key_type`` and
    ``policy``, given to both keys.

    The component holds two fixed slots, "a" and "b", each one child `ApiKey` (``<name>-a``,
    ``<name>-b``), and a child `RotationSlots` (``<name>-slots``) that keeps, in the stack's own state,
    the rotation value each slot is planned for and which slot is current. On the first ``up``
    both keys are made and "a" is current. When ``rotation`` changes, the older slot takes the new
    value and becomes current: its key is replaced (the new key created first, the old one deleted
    after it); the other key is left alone and becomes ``previous``. Each key keeps what it was
    really made for, and the keys decide the replacement (see `plan_step`), so at most one key is
    replaced per ``up``: a new ``key_type`` or ``account_sid`` without a new ``rotation``, or a new
    ``rotation`` while an earlier one whose key create failed is unfinished, or a rotation that would
    replace the only key consumers have (the other one was deleted outside Pulumi, refreshed away,
    and made again), is refused with the two steps to take. Only inputs and the stack's state
    decide this, nothing remote, so a ``refresh`` or a repeated ``up`` with the same ``rotation``
    rotates nothing. Setting ``rotation`` back to
    the value the previous slot holds makes that key current again, with no new key. Type token
    ``microvisor:index:RotatingApiKey``, aliased from ``microvisor-pulumi:twilio:RotatingApiKey``.

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
        plan = pulumi.Output.all(current=self.slots.current, a=self.slots.slot_a, b=self.slots.slot_b)
        self.keys: dict[str, _SlotKey] = {}
        label = resource_name if friendly_name is None else None

        def request(slot: str) -> pulumi.Output[Any]:
            def build(values: dict[str, Any]) -> Any:
                current = values["current"]
                asked = {
                    "slot": slot,
                    "current": current,
                    "plan": values[slot],
                    "other_plan": values[other_slot(slot)],
                    "newest": values[current],
                    "label": label,
                    "name": resource_name,
                }
                if slot != current:
                    return asked
                # The current slot goes second, once the other key's step in this `up` is done.
                partner = self.keys[other_slot(slot)].rotation
                return partner.apply(lambda kept: {**asked, "partner": kept})

            return plan.apply(build)

        for slot in SLOTS:
            self.keys[slot] = _SlotKey(
                f"{resource_name}-{slot}",
                rotation=request(slot),
                friendly_name=friendly_name,
                account_sid=account_sid,
                key_type=key_type,
                policy=policy,
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
            )
        a, b = self.keys["a"], self.keys["b"]
        # Current is the key made for the newest value (the plan's current slot when both were).
        current = pulumi.Output.all(plan, a.rotation, b.rotation).apply(lambda v: _current(*v))
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


def _current(plan: Mapping[str, Any], a: Any, b: Any) -> str:
    newest = plan[plan["current"]]
    made = {slot: (_kept(k) or {}).get("made_for") for slot, k in (("a", a), ("b", b))}
    if made[plan["current"]] == newest:
        return str(plan["current"])
    other = other_slot(plan["current"])
    return other if made[other] == newest else str(plan["current"])


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

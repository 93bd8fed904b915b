"""RotatingApiKey: two live API keys, so that a rotation never cuts off a consumer that deploys late."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from microvisor_pulumi.resources._schema import FRIENDLY_NAME_MAX
from microvisor_pulumi.resources.api_key import ApiKey

_PLAIN_LABEL = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def rotation_label(value: Any) -> str:
    """The name a rotation value gives its key: the value itself when it is short plain text (a date),
    else a digest of its JSON form, so any value names one key and two values never share one."""
    if isinstance(value, str) and _PLAIN_LABEL.match(value):
        return value
    text = json.dumps(value, sort_keys=True, default=str)
    return "h" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_rotation(field: str, value: Any, *, required: bool) -> None:
    if isinstance(value, pulumi.Output):
        # The value names a resource, and names must be known when the program runs, even in preview.
        raise ValueError(
            f"RotatingApiKey: '{field}' must be a plain value known to the program, not an Output"
        )
    if value is None and required:
        raise ValueError(f"RotatingApiKey: '{field}' is required (any value, e.g. a date string '2026-04')")


class RotatingApiKey(pulumi.ComponentResource):
    """Two API keys that take turns, so consumers can move to a new key at their own pace.

    Inputs: ``rotation`` (any value, e.g. ``"2026-04"``, changed on every rotation) and
    ``previous_rotation`` (the value ``rotation`` had before the last rotation; None at first), plus
    the `ApiKey` inputs ``friendly_name``, ``account_sid``, ``key_type`` and ``policy``, given to both
    keys.

    Each of the two values names one key (a child `ApiKey` called ``<name>-<rotation>``). To rotate,
    the program moves the value of ``rotation`` to ``previous_rotation`` and sets a new ``rotation``:
    the key of the new value is created, the key of ``previous_rotation`` is left alone, and the key
    of the value before that, which the program no longer names, is deleted by the engine at the end
    of the update, after the new key exists. So the keys, and which one is ``current``, are a pure
    function of the two inputs: a ``refresh`` or a repeated ``up`` rotates nothing.

    Why two inputs and not ``rotation`` alone: a program sees only its own inputs, never its last
    deployment, so from ``rotation`` alone it cannot tell which key was made for which earlier value;
    any rule that guessed (a hash, a slot index) would sometimes replace the key a late consumer still
    uses. Naming the two values the stack keeps makes that impossible.

    Outputs: ``current`` and ``previous``, each ``{"sid": ..., "secret": ...}`` and a Pulumi secret
    (``previous`` is None before the first rotation); ``current_sid`` and ``previous_sid`` in plain
    text. Consumers read ``current`` through a StackReference; one that deploys late keeps working
    with ``previous`` for a whole rotation period.
    """

    current: pulumi.Output[dict[str, str]]
    previous: pulumi.Output[dict[str, str] | None]
    current_sid: pulumi.Output[str]
    previous_sid: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        rotation: Any,
        previous_rotation: Any = None,
        friendly_name: pulumi.Input[str] | None = None,
        account_sid: pulumi.Input[str] | None = None,
        key_type: pulumi.Input[str] | None = None,
        policy: pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _check_rotation("rotation", rotation, required=True)
        _check_rotation("previous_rotation", previous_rotation, required=False)
        if previous_rotation is not None and rotation_label(previous_rotation) == rotation_label(rotation):
            raise ValueError(
                "RotatingApiKey: 'rotation' must differ from 'previous_rotation' (each names its own key)"
            )
        super().__init__("microvisor-pulumi:twilio:RotatingApiKey", resource_name, None, opts)

        def key(value: Any) -> ApiKey:
            label = rotation_label(value)
            name = (
                friendly_name if friendly_name is not None else f"{resource_name} {label}"[:FRIENDLY_NAME_MAX]
            )
            return ApiKey(
                f"{resource_name}-{label}",
                friendly_name=name,
                account_sid=account_sid,
                key_type=key_type,
                policy=policy,
                # Explicit: a key replaced for another reason (a new key_type) is also made first.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
            )

        new = key(rotation)
        old = key(previous_rotation) if previous_rotation is not None else None
        self.keys = {rotation_label(rotation): new}
        if old is not None:
            self.keys[rotation_label(previous_rotation)] = old
        self.current = pulumi.Output.secret(pulumi.Output.all(new.sid, new.secret).apply(_pair))
        self.current_sid = new.sid
        if old is not None:
            self.previous = pulumi.Output.secret(pulumi.Output.all(old.sid, old.secret).apply(_pair))
            self.previous_sid = old.sid
        else:
            self.previous = pulumi.Output.secret(None)
            self.previous_sid = pulumi.Output.from_input(None)
        self.register_outputs(
            {
                "current": self.current,
                "previous": self.previous,
                "current_sid": self.current_sid,
                "previous_sid": self.previous_sid,
            }
        )


def _pair(values: list[Any]) -> dict[str, str]:
    sid, key_secret = values
    return {"sid": sid, "secret": key_secret}

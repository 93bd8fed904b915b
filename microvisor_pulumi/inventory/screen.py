"""Which listed records the adopting program may declare, and which it must leave out and say why.

Twilio, the emulator, or whatever answers at ``--endpoint`` may hold items that the provider's
``check`` refuses (a key holding a tab, the key ``.``, a Config value holding NUL): one of them in
the program would stop the preview of the whole fleet. So each item goes through the provider's own
``check`` with the very inputs the program would give it (no second copy of the rules), and one
that fails is left out and reported. SIDs are matched against their patterns before anything uses
them: they reach URLs, comments, resource names and stack config names, so a SID holding a newline
from a broken or hostile endpoint could otherwise inject code into the program.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources._schema import API_KEY_SID_RE, DEVICE_SID_RE
from microvisor_pulumi.resources.microvisor import (
    AccountConfigProvider,
    AccountSecretProvider,
    DeviceConfigProvider,
    DeviceSecretProvider,
)


@dataclass(frozen=True)
class Skipped:
    """A listed record the program does not declare. ``ident`` is the key or SID as listed (raw: escape
    it before writing it anywhere); ``reason`` is the rule it breaks and never holds the value."""

    kind: str  # "AccountConfig", "DeviceSecret", ..., "Device" or "ApiKey"
    ident: str
    reason: str
    device_sid: str | None = None  # the (valid) device an item belongs to


# (collection, device-scoped) -> the provider the program's resource would use. Its check is
# offline and keeps no state, so one instance serves every item and thread.
_PROVIDERS: dict[tuple[str, bool], SchemaProvider] = {
    ("Configs", False): AccountConfigProvider(),
    ("Configs", True): DeviceConfigProvider(),
    ("Secrets", False): AccountSecretProvider(),
    ("Secrets", True): DeviceSecretProvider(),
}

_DEVICE_SID_RULE = (
    "Device: 'sid' must be a Device SID (UV + 32 hex digits); its Configs and Secrets were not read"
)
_API_KEY_SID_RULE = "ApiKey: 'sid' must be an API key SID (SK + 32 hex digits)"


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def sid_problem(kind: str, value: Any) -> str | None:
    """Why ``value`` is not a valid SID of ``kind`` (``Device`` or ``ApiKey``), or None."""
    if kind == "Device":
        return None if _matches(DEVICE_SID_RE, value) else _DEVICE_SID_RULE
    return None if _matches(API_KEY_SID_RE, value) else _API_KEY_SID_RULE


def item_problems(collection: str, device_sid: str | None, key: Any, value: Any = None) -> list[str]:
    """What the provider's ``check`` says about the item the program would declare, [] if nothing.

    A Secret's value is not readable, so it goes in as unknown, as in a preview: only its key and
    device are judged.
    """
    provider = _PROVIDERS[(collection, device_sid is not None)]
    news: dict[str, Any] = {"key": key, "value": value if collection == "Configs" else rpc.UNKNOWN}
    news["overwrite"] = True
    if device_sid is not None:
        news["device_sid"] = device_sid
    return [failure.reason for failure in provider.check({}, news).failures]


def screen_items(
    collection: str, records: Iterable[Mapping[str, Any]], device_sid: str | None = None
) -> tuple[dict[str, str], list[Skipped]]:
    """The items the program may declare (key -> value, by key; a Secret's value is ``""``), and the
    ones it must leave out. A key listed twice is left out the second time (one resource per key)."""
    kind = _PROVIDERS[(collection, device_sid is not None)].schema.kind
    kept: dict[str, str] = {}
    skipped: list[Skipped] = []
    for record in records:
        key = record.get("key")
        value = str(record.get("value") or "") if collection == "Configs" else ""
        problems = item_problems(collection, device_sid, key, value)
        if not problems and key in kept:
            problems = [f"{kind}: 'key' is listed twice"]
        if problems:
            skipped.append(Skipped(kind, str(key), "; ".join(problems), device_sid))
        else:
            kept[str(key)] = value
    skipped.sort(key=lambda s: s.ident)
    return dict(sorted(kept.items())), skipped


def screen_records(
    kind: str, records: Iterable[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Skipped]]:
    """Device or API key records (``kind`` ``Device`` or ``ApiKey``) whose SID is valid and first seen,
    and the rest."""
    kept: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    skipped: list[Skipped] = []
    for record in records:
        sid = record.get("sid")
        problem = sid_problem(kind, sid)
        # Either case of hex digits passes the pattern, and both name one record: `UVab..` and
        # `UVAB..` declared twice would be one device with two owners.
        if problem is None and str(sid).lower() in seen:
            problem = f"{kind}: 'sid' is listed twice"
        if problem is not None:
            skipped.append(Skipped(kind, str(sid), problem))
            continue
        seen.add(str(sid).lower())
        kept.append(record)
    skipped.sort(key=lambda s: s.ident)
    return kept, skipped


def optional_text(value: Any) -> str | None:
    """A listed name (unique name, friendly name) as text, None when absent: it is only ever written
    escaped, but it must be a string to be escaped."""
    return None if value is None or value == "" else str(value)

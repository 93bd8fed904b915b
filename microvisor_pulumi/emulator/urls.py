"""The routing table (moto's ``urls.py``): method + raw path template -> handler and permission.

This is the emulator's whole API surface in one place. Each product's handlers live in
:mod:`.responses`; the permission is what a restricted API key's policy must allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from microvisor_pulumi.emulator.responses import Responses
from microvisor_pulumi.emulator.responses.api_v2010 import ApiV2010Responses
from microvisor_pulumi.emulator.responses.iam import IamResponses
from microvisor_pulumi.emulator.responses.microvisor import MicrovisorResponses

KEYS_PERMISSION_PREFIX = "/twilio/iam/api-keys/"


@dataclass(frozen=True)
class Route:
    """One line of the routing table: method + path template -> ``responses.handler``, with the
    permission it needs (None: no documented restricted-key permission covers it)."""

    method: str
    template: str
    responses: type[Responses]
    handler: str
    permission: str | None
    kwargs: dict[str, Any]
    regex: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    # Templates name segments {like_this}; each matches one raw (still percent-encoded) segment,
    # so a key holding "/" arrives as %2F and never splits the path.
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


_Row = tuple[str, str, str, str | None, dict[str, Any]]


def _routes(responses: type[Responses], rows: tuple[_Row, ...]) -> tuple[Route, ...]:
    return tuple(
        Route(method, template, responses, handler, permission, kwargs, _compile(template))
        for method, template, handler, permission, kwargs in rows
    )


# Twilio documents no restricted-key permission for Microvisor, so its routes name none (None) and
# a restricted key is refused there whatever its policy: an assumption, said in the README.
_NO_DOCUMENTED_PERMISSION = None
_KEYS = KEYS_PERMISSION_PREFIX
_V2010 = "/2010-04-01/Accounts/{account}"
_CFG: dict[str, Any] = {"kind": "config"}
_SEC: dict[str, Any] = {"kind": "secret"}

# Each row: method, raw path template, handler method, permission, fixed handler arguments.
MICROVISOR = _routes(
    MicrovisorResponses,
    (
        ("GET", "/v1/Configs", "list_items", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("POST", "/v1/Configs", "create_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("GET", "/v1/Configs/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("POST", "/v1/Configs/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("DELETE", "/v1/Configs/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("GET", "/v1/Secrets", "list_items", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("POST", "/v1/Secrets", "create_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("GET", "/v1/Secrets/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("POST", "/v1/Secrets/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("DELETE", "/v1/Secrets/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("GET", "/v1/Devices", "list_devices", _NO_DOCUMENTED_PERMISSION, {}),
        ("GET", "/v1/Devices/{device}", "fetch_device", _NO_DOCUMENTED_PERMISSION, {}),
        ("POST", "/v1/Devices/{device}", "update_device", _NO_DOCUMENTED_PERMISSION, {}),
        ("GET", "/v1/Devices/{device}/Configs", "list_items", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("POST", "/v1/Devices/{device}/Configs", "create_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("GET", "/v1/Devices/{device}/Configs/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("POST", "/v1/Devices/{device}/Configs/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("DELETE", "/v1/Devices/{device}/Configs/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _CFG),
        ("GET", "/v1/Devices/{device}/Secrets", "list_items", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("POST", "/v1/Devices/{device}/Secrets", "create_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("GET", "/v1/Devices/{device}/Secrets/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("POST", "/v1/Devices/{device}/Secrets/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _SEC),
        ("DELETE", "/v1/Devices/{device}/Secrets/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ),
)

API_V2010 = _routes(
    ApiV2010Responses,
    (
        ("GET", _V2010 + "/Keys.json", "list_keys", _KEYS + "read", {}),
        ("POST", _V2010 + "/Keys.json", "create_key", _KEYS + "create", {}),
        ("GET", _V2010 + "/Keys/{sid}.json", "fetch_key", _KEYS + "read", {}),
        ("POST", _V2010 + "/Keys/{sid}.json", "update_key", _KEYS + "update", {}),
        ("DELETE", _V2010 + "/Keys/{sid}.json", "delete_key", _KEYS + "delete", {}),
    ),
)

IAM = _routes(
    IamResponses,
    (
        ("GET", "/v1/Keys", "list_keys", _KEYS + "read", {}),
        ("POST", "/v1/Keys", "create_key", _KEYS + "create", {}),
        ("GET", "/v1/Keys/{sid}", "fetch_key", _KEYS + "read", {}),
        ("POST", "/v1/Keys/{sid}", "update_key", _KEYS + "update", {}),
        ("DELETE", "/v1/Keys/{sid}", "delete_key", _KEYS + "delete", {}),
    ),
)

ROUTES: tuple[Route, ...] = (*MICROVISOR, *API_V2010, *IAM)

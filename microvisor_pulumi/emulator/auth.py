"""Who a request is (Basic credentials) and whether that principal may use a route.

The README's "Who may do what": the account may do everything; a Standard key everything but key
management; a Restricted key only what its policy allows, and no Microvisor path at all.
"""

from __future__ import annotations

import base64
import binascii

from microvisor_pulumi.emulator.store import Principal, Store, policy_allows
from microvisor_pulumi.emulator.urls import KEYS_PERMISSION_PREFIX, Route
from microvisor_pulumi.emulator.wire import Response, error_response


def authenticate(store: Store, header: str | None) -> Principal | None:
    """The principal named by an ``Authorization: Basic`` header, or None."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return store.authenticate(username, password)


def authorize(principal: Principal, route: Route) -> Response | None:
    """None if ``principal`` may use ``route``, else the 403 to answer."""
    if principal.kind == "account":
        return None
    if principal.kind == "standard":
        # Twilio: Standard keys cannot manage API keys; everything else is open to them.
        if route.permission is not None and route.permission.startswith(KEYS_PERMISSION_PREFIX):
            return error_response(403, 20403, "Standard API keys cannot manage API keys")
        return None
    if route.permission is None:
        return error_response(
            403,
            20403,
            "Restricted API keys cannot use this API: Twilio documents no restricted-key permission "
            "for it (an assumption of this emulator)",
        )
    if policy_allows(principal.allow, route.permission):
        return None
    return error_response(403, 20403, f"This API key's policy does not allow {route.permission}")

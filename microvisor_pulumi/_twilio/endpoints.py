"""Typed Twilio endpoints: every URL this package calls is built here, and nowhere else.

Each path parameter is percent-encoded with ``quote(x, safe="")``: Microvisor keys are free text
(``a/b``, ``50%``, ``ключ``...) and a Device may be addressed by its unique name, so a raw value
could otherwise change which resource the path names.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from microvisor_pulumi._twilio.errors import TwilioError

#: "Configs" or "Secrets" (checked at run time, so callers may pass a plain str).
ItemKind = str
Record = dict[str, Any]


def segment(value: str, what: str) -> str:
    """Percent-encode one path segment; refuse an empty one, which would address the list instead."""
    if not isinstance(value, str) or value == "":
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        # Dots are unreserved, so no escaping survives requests/urllib3, which then resolve the
        # dot segment and call a different URL (/v1/Configs/.. is /v1/).
        raise ValueError(f"{what} {value!r} cannot be used in a URL path")
    return quote(value, safe="")


def _item_collection(kind: str, device: str | None) -> str:
    if kind not in ("Configs", "Secrets"):
        raise ValueError(f"kind must be 'Configs' or 'Secrets', got {kind!r}")
    if device is None:
        return f"/v1/{kind}"
    return f"/v1/Devices/{segment(device, 'device')}/{kind}"


def _secret_fields(kind: str) -> tuple[str, ...]:
    # A Secret's value is secret, whatever its length; a Config's is not.
    return ("Value",) if kind == "Secrets" else ()


def _api_keys(account_sid: str) -> str:
    return f"/2010-04-01/Accounts/{segment(account_sid, 'account_sid')}/Keys"


def _policy_param(policy: Mapping[str, Any] | str | None) -> str | None:
    # IAM takes the policy document as a JSON *string* form value (twilio-python serialize.object).
    if policy is None or isinstance(policy, str):
        return policy
    return json.dumps(policy)


class TwilioEndpoints(ABC):
    """Typed calls for Microvisor Configs/Secrets/Devices, API v2010 Keys and IAM v1 Keys.

    Create calls are never retried once sent (a create that reached Twilio must not be repeated);
    update, fetch, delete and list calls are retried on 429, 5xx and network failures.
    """

    @abstractmethod
    def request(
        self,
        method: str,
        product: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        retry: bool | None = None,
        secret: Sequence[str] = (),
    ) -> Record | None: ...

    @abstractmethod
    def iter_list(
        self,
        product: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[Record]: ...

    def _record(self, method: str, product: str, path: str, **kwargs: Any) -> Record:
        body = self.request(method, product, path, **kwargs)
        if body is None:
            raise TwilioError("expected a JSON object but the response was empty", method=method, path=path)
        return body

    # Microvisor Configs and Secrets, account level (device=None) or device level.

    def create_item(self, kind: ItemKind, key: str, value: str, device: str | None = None) -> Record:
        """Create a Config or Secret (HTTP 201); not retried after it was sent."""
        segment(key, "key")
        path = _item_collection(kind, device)
        data = {"Key": key, "Value": value}
        return self._record("POST", "microvisor", path, data=data, retry=False, secret=_secret_fields(kind))

    def fetch_item(self, kind: ItemKind, key: str, device: str | None = None) -> Record:
        """Fetch a Config (with value) or a Secret (metadata only: Twilio never returns the value)."""
        path = f"{_item_collection(kind, device)}/{segment(key, 'key')}"
        return self._record("GET", "microvisor", path)

    def update_item(self, kind: ItemKind, key: str, value: str, device: str | None = None) -> Record:
        """Set a new value on an existing Config or Secret; idempotent, so retried."""
        path = f"{_item_collection(kind, device)}/{segment(key, 'key')}"
        data = {"Value": value}
        return self._record("POST", "microvisor", path, data=data, retry=True, secret=_secret_fields(kind))

    def delete_item(self, kind: ItemKind, key: str, device: str | None = None) -> None:
        """Delete a Config or Secret (HTTP 204)."""
        path = f"{_item_collection(kind, device)}/{segment(key, 'key')}"
        self.request("DELETE", "microvisor", path)

    def list_items(self, kind: ItemKind, device: str | None = None) -> Iterator[Record]:
        """Every Config or Secret of the account or of one device, across all pages."""
        return self.iter_list("microvisor", _item_collection(kind, device))

    def probe_items(self, kind: ItemKind, device: str | None = None) -> None:
        """Ask for one record of a collection: returns if it answers, raises NotFound if Twilio says
        there is no such collection (the device is gone), or another error. Proves that a 404 for an
        item came from a service that knows the collection, not from a misrouted endpoint."""
        next(self.iter_list("microvisor", _item_collection(kind, device), page_size=1), None)

    def items_path(self, kind: ItemKind, device: str | None = None) -> str:
        """The path of a Config or Secret collection (for messages and bookkeeping)."""
        return _item_collection(kind, device)

    # Microvisor Devices (read only: devices are hardware, never created or deleted by the API).

    def fetch_device(self, sid_or_unique_name: str) -> Record:
        """Fetch a Device by SID (``UV...``) or by its unique name."""
        path = f"/v1/Devices/{segment(sid_or_unique_name, 'device')}"
        return self._record("GET", "microvisor", path)

    def list_devices(self) -> Iterator[Record]:
        """Every Device of the account, across all pages."""
        return self.iter_list("microvisor", "/v1/Devices")

    # API v2010 Keys (Standard keys; the secret is returned by create only).

    def create_api_key(self, account_sid: str, friendly_name: str | None = None) -> Record:
        """Create a Standard API key; the response holds ``secret``, which is never returned again."""
        return self._record(
            "POST", "api", f"{_api_keys(account_sid)}.json", data={"FriendlyName": friendly_name}, retry=False
        )

    def fetch_api_key(self, account_sid: str, sid: str) -> Record:
        """Fetch an API key's metadata (no secret)."""
        return self._record("GET", "api", f"{_api_keys(account_sid)}/{segment(sid, 'sid')}.json")

    def update_api_key(self, account_sid: str, sid: str, friendly_name: str | None) -> Record:
        """Rename an API key; idempotent, so retried."""
        path = f"{_api_keys(account_sid)}/{segment(sid, 'sid')}.json"
        return self._record("POST", "api", path, data={"FriendlyName": friendly_name}, retry=True)

    def delete_api_key(self, account_sid: str, sid: str) -> None:
        """Delete an API key (HTTP 204)."""
        self.request("DELETE", "api", f"{_api_keys(account_sid)}/{segment(sid, 'sid')}.json")

    def probe_api_keys(self, account_sid: str) -> None:
        """Ask for one API key of the account: returns if the collection answers (see ``probe_items``)."""
        next(self.iter_list("api", f"{_api_keys(account_sid)}.json", page_size=1), None)

    def api_keys_path(self, account_sid: str) -> str:
        """The path of the account's API key collection (for messages and bookkeeping)."""
        return f"{_api_keys(account_sid)}.json"

    def list_api_keys(self, account_sid: str) -> Iterator[Record]:
        """Every API key of the account, across all pages."""
        return self.iter_list("api", f"{_api_keys(account_sid)}.json")

    # IAM v1 Keys (Standard or Restricted keys with a policy).

    def create_iam_key(
        self,
        account_sid: str,
        friendly_name: str | None = None,
        key_type: str | None = None,
        policy: Mapping[str, Any] | str | None = None,
    ) -> Record:
        """Create an API key through IAM v1 (``key_type="restricted"`` takes a ``policy``); not retried."""
        data = {
            "AccountSid": account_sid,
            "FriendlyName": friendly_name,
            "KeyType": key_type,
            "Policy": _policy_param(policy),
        }
        return self._record("POST", "iam", "/v1/Keys", data=data, retry=False)

    def fetch_iam_key(self, sid: str) -> Record:
        """Fetch an IAM key's metadata and policy (no secret)."""
        return self._record("GET", "iam", f"/v1/Keys/{segment(sid, 'sid')}")

    def update_iam_key(
        self, sid: str, friendly_name: str | None = None, policy: Mapping[str, Any] | str | None = None
    ) -> Record:
        """Change an IAM key's friendly name and/or policy; idempotent, so retried."""
        data = {"FriendlyName": friendly_name, "Policy": _policy_param(policy)}
        return self._record("POST", "iam", f"/v1/Keys/{segment(sid, 'sid')}", data=data, retry=True)

    def delete_iam_key(self, sid: str) -> None:
        """Delete an IAM key (HTTP 204)."""
        self.request("DELETE", "iam", f"/v1/Keys/{segment(sid, 'sid')}")

    def list_iam_keys(self, account_sid: str) -> Iterator[Record]:
        """Every IAM key of the account (``AccountSid`` is a required query parameter), across all pages."""
        return self.iter_list("iam", "/v1/Keys", params={"AccountSid": account_sid})

    def probe_iam_keys(self, account_sid: str) -> None:
        """Ask IAM for one API key of the account: returns if the collection answers (see ``probe_items``)."""
        next(self.iter_list("iam", "/v1/Keys", params={"AccountSid": account_sid}, page_size=1), None)

    def iam_keys_path(self) -> str:
        """The path of IAM's API key collection (for messages and bookkeeping)."""
        return "/v1/Keys"

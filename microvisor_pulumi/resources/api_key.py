"""Twilio API keys (API v2010 Keys), whose secret Twilio returns once, at creation.

`ApiKeyProvider` is stored, by module and name, in users' Pulumi state: never rename or move it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from microvisor_pulumi._twilio import NotFound, TwilioError
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources._resource import TwilioResource
from microvisor_pulumi.resources._schema import (
    Prop,
    Schema,
    check_account_sid,
    check_friendly_name,
    plain,
    secret,
)

# Keys made this close to a create whose answer was lost are taken for orphans of that create.
_ORPHAN_WINDOW_SECONDS = 300.0
_LOCK = threading.Lock()
_FIELDS = ("sid", "friendly_name", "date_created", "date_updated")


def _parse_rfc2822(stamp: Any) -> float | None:
    try:
        return parsedate_to_datetime(stamp).timestamp() if isinstance(stamp, str) else None
    except (TypeError, ValueError):
        return None


class ApiKeyProvider(SchemaProvider):
    """Create, read, update and delete one Twilio API key."""

    forbidden_hint = (
        " The credentials are not allowed to do this. Managing API keys needs the Account SID and "
        "Auth Token, a Main API key, or a restricted key whose policy allows it; a Standard key cannot."
    )
    schema = Schema(
        "ApiKey",
        (
            Prop("friendly_name", required=False, validate=check_friendly_name),
            Prop("account_sid", required=False, replaces=True, validate=check_account_sid),
        ),
    )

    def same(self, prop: Prop, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        if prop.name == "friendly_name":
            return (old or "") == (new or "")
        return bool(old == new)

    # Per-process bookkeeping (never pickled): keys this process made, creates under way by name.
    def _known(self) -> set[str]:
        known: set[str] | None = getattr(self, "_known_sids", None)
        if known is None:
            known = set()
            self._known_sids = known
        return known

    def _inflight(self) -> dict[tuple[str, str], int]:
        inflight: dict[tuple[str, str], int] | None = getattr(self, "_inflight_creates", None)
        if inflight is None:
            inflight = {}
            self._inflight_creates = inflight
        return inflight

    def outputs(self, account_sid: str, remote: Mapping[str, Any], key_secret: Any) -> dict[str, Any]:
        outs = {field: remote.get(field) for field in _FIELDS}
        outs["account_sid"] = account_sid
        if key_secret is not None:
            outs["secret"] = secret(key_secret)
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = plain(props.get("friendly_name"))
        client = self.client()
        try:
            # With no credentials at all, say so (naming every setting) rather than only that the
            # Account SID is missing, which would send the user round twice.
            client.settings.basic_auth()
            account = plain(props.get("account_sid")) or client.account_sid
        except TwilioError as err:
            self.fail(name or "(unnamed)", err, "create")

        def make() -> dict[str, Any]:
            made = client.create_api_key(account, friendly_name=name)
            with _LOCK:
                self._known().add(str(made.get("sid")))
            return made

        def find_ours(started: float) -> None:
            # A key made by a create whose answer was lost is useless (its secret is gone): delete it.
            # Only when no other create of a key with this name runs beside ours in this process, since
            # that one's key would look just the same before its answer arrives.
            with _LOCK:
                alone = self._inflight().get(ident, 0) == 1
                known = set(self._known())
            if not alone:
                return None
            for key in list(client.list_api_keys(account)):
                made = _parse_rfc2822(key.get("date_created"))
                if (
                    (key.get("friendly_name") or "") == (name or "")
                    and key.get("sid") not in known
                    and made is not None
                    and made >= started - _ORPHAN_WINDOW_SECONDS
                ):
                    try:
                        client.delete_api_key(account, key["sid"])
                    except NotFound:
                        pass
            return None

        ident = (account, name or "")
        with _LOCK:
            self._inflight()[ident] = self._inflight().get(ident, 0) + 1
        try:
            remote = self.create_resilient(make, find_ours)
        except TwilioError as err:
            self.fail(name or "(unnamed)", err, "create")
        finally:
            with _LOCK:
                self._inflight()[ident] -= 1
        outs = self.outputs(account, remote, remote.get("secret"))
        return CreateResult(str(remote["sid"]), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.client()
        try:
            account = plain(props.get("account_sid")) or client.account_sid
            remote = client.fetch_api_key(account, id_)
        except NotFound:
            return ReadResult(None, {})
        except TwilioError as err:
            self.fail(id_, err, "refresh")
        # The secret is never returned again: carry it over from state.
        outs = self.outputs(account, remote, plain(props.get("secret")))
        inputs = {"friendly_name": outs.get("friendly_name"), "account_sid": account}
        return ReadResult(id_, outs, {k: v for k, v in inputs.items() if v is not None})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        account = plain(olds.get("account_sid"))
        try:
            remote = self.client().update_api_key(account, id_, plain(news.get("friendly_name")) or "")
        except TwilioError as err:
            self.fail(id_, err, "update")
        return UpdateResult(self.outputs(account, remote, plain(olds.get("secret"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            self.client().delete_api_key(plain(props.get("account_sid")), id_)
        except NotFound:
            pass
        except TwilioError as err:
            self.fail(id_, err, "delete")


class ApiKey(TwilioResource, module="twilio", name="ApiKey"):
    """A Twilio API key (a Standard key, made through API v2010).

    Inputs: ``friendly_name`` (optional, at most 64 characters), ``account_sid`` (optional; defaults to
    the account of the configured credentials).
    A new ``friendly_name`` is updated in place; a new ``account_sid`` replaces the key (the new key is
    created before the old one is deleted, so consumers can move over).
    Outputs: ``sid`` (the id, ``SK…``), ``friendly_name``, ``account_sid``, ``date_created``,
    ``date_updated`` and ``secret``: a Pulumi secret, captured at creation and carried over by every
    refresh and update, since Twilio returns it only once. It cannot be recovered if state is lost.
    Managing keys needs the Account SID and Auth Token or a Main key: a Standard key gets a 403.
    """

    sid: pulumi.Output[str]
    friendly_name: pulumi.Output[str | None]
    account_sid: pulumi.Output[str]
    date_created: pulumi.Output[str]
    date_updated: pulumi.Output[str]
    secret: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        friendly_name: pulumi.Input[str] | None = None,
        account_sid: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {"friendly_name": friendly_name, "account_sid": account_sid}
        super().__init__(
            ApiKeyProvider(),
            resource_name,
            inputs,
            ("sid", "friendly_name", "account_sid", "date_created", "date_updated", "secret"),
            opts,
            secret_outputs=("secret",),
        )

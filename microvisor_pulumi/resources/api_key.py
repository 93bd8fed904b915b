"""Twilio API keys (API v2010 Keys), whose secret Twilio returns once, at creation.

`ApiKeyProvider` is stored, by module and name, in users' Pulumi state: never rename or move it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
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

# A key is created under a name unique to that one attempt and given its real name once the answer
# is in. After a create whose answer was lost, a key carrying one of our attempt names provably came
# from this create (its secret never arrived, so it is useless and is deleted), and no other key on
# the account, whatever its name or age, can be taken for it. The price is one more call per create.
PENDING_PREFIX = "pulumi-pending-"
_FIELDS = ("sid", "friendly_name", "date_created", "date_updated")


class ApiKeyProvider(SchemaProvider):
    """Create, read, update and delete one Twilio API key."""

    product = "api"
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
        attempts: list[str] = []

        def make() -> dict[str, Any]:
            pending = PENDING_PREFIX + uuid.uuid4().hex
            attempts.append(pending)
            return client.create_api_key(account, friendly_name=pending)

        def find_ours(_started: float) -> None:
            # Keys that carry one of this create's attempt names are ours, and useless: delete them.
            for key in list(client.list_api_keys(account)):
                if key.get("friendly_name") in attempts:
                    try:
                        client.delete_api_key(account, key["sid"])
                    except NotFound:
                        pass
            return None

        try:
            made = self.create_resilient(make, find_ours)
        except TwilioError as err:
            self.fail(name or "(unnamed)", err, "create")
        try:
            named = client.update_api_key(account, str(made["sid"]), name or "")
        except TwilioError as err:
            # Ours beyond doubt, and not usable as asked: delete it rather than leave it half made.
            try:
                client.delete_api_key(account, str(made["sid"]))
            except TwilioError:
                pass  # then the key keeps its pending name, which says what it is
            self.fail(name or "(unnamed)", err, "create (naming the new key)")
        outs = self.outputs(account, {**made, **named}, made.get("secret"))
        return CreateResult(str(made["sid"]), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.client()
        try:
            account = plain(props.get("account_sid")) or client.account_sid
            remote = client.fetch_api_key(account, id_)
        except NotFound:
            self.confirm_gone(id_, "refresh", self._probes(account))
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
        account = plain(props.get("account_sid"))
        try:
            self.client().delete_api_key(account, id_)
        except NotFound:
            self.confirm_gone(id_, "delete", self._probes(account))
        except TwilioError as err:
            self.fail(id_, err, "delete")

    def _probes(self, account: str) -> list[tuple[str, Callable[[], None]]]:
        client = self.client()
        return [(client.api_keys_path(account), lambda: client.probe_api_keys(account))]


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

"""Twilio API keys, whose secret Twilio returns once, at creation: Standard keys through API v2010,
restricted keys (with a policy) through IAM v1. Both APIs manage the same keys.

Why one resource with ``key_type`` rather than a kind of its own: it is one remote object (a key
made by IAM is listed by v2010), its type is one property whose change means a replacement, which
the schema says (``replaces=True``, new key first), and users' states keep the one `ApiKey` type
token. A Standard key still goes through API v2010, so a state written before key types existed
makes exactly the calls it always made.

`ApiKeyProvider` is stored, by module and name, in users' Pulumi state: never rename or move it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, UpdateResult

from microvisor_pulumi._twilio import NotFound, TwilioError
from microvisor_pulumi.resources._provider import MicrovisorPulumiError, SchemaProvider
from microvisor_pulumi.resources._resource import TwilioResource
from microvisor_pulumi.resources._schema import (
    FRIENDLY_NAME_MAX,
    STRING,
    Enum,
    ListOf,
    Out,
    Prop,
    Schema,
    Struct,
    check_account_sid,
    check_friendly_name,
    is_unknown,
    plain,
    secret,
)

# A key is created under a name unique to that one attempt and given its real name once the answer
# is in. After a create whose answer was lost, a key carrying one of our attempt names provably came
# from this create (its secret never arrived, so it is useless and is deleted), and no other key on
# the account, whatever its name or age, can be taken for it. The price is one more call per create.
PENDING_PREFIX = "pulumi-pending-"
_FIELDS = ("sid", "friendly_name", "date_created", "date_updated")

STANDARD = "standard"
RESTRICTED = "restricted"
KEY_TYPES = (STANDARD, RESTRICTED)
POLICY_MAX = 100  # Twilio: at most 100 permissions per restricted key
_PERMISSION_RE = re.compile(r"^/twilio/\S+$")
_WHITE_RE = re.compile(r"\s")


def check_key_type(value: Any) -> str | None:
    """'standard' (API v2010) or 'restricted' (IAM v1, with a policy)."""
    if value in KEY_TYPES:
        return None
    return f"must be one of {', '.join(repr(t) for t in KEY_TYPES)}, got {str(value)[:40]!r}"


def check_policy(value: Any) -> str | None:
    """A mapping ``{"allow": [...]}`` of 1 to 100 distinct ``/twilio/...`` permissions, no white space.

    A permission is no secret, so the rule names the offending entry; unknown entries pass for now.
    """
    if not isinstance(value, Mapping):
        return f"must be a mapping with an 'allow' list, got {type(value).__name__}"
    others = sorted(str(k) for k in value if k != "allow")
    if others:
        # A 'deny' Twilio ignored would grant more than the program says: refuse what is not known.
        return f"may hold only 'allow' (Twilio's only policy field), got {', '.join(map(repr, others))}"
    if "allow" not in value:
        return "must have an 'allow' list of permissions"
    allow = value["allow"]
    if is_unknown(allow):
        return None
    if not isinstance(allow, (list, tuple)):
        return f"'allow' must be a list of permissions, got {type(allow).__name__}"
    if not 1 <= len(allow) <= POLICY_MAX:
        return f"'allow' must hold 1 to {POLICY_MAX} permissions, got {len(allow)}"
    seen: set[str] = set()
    for i, entry in enumerate(allow):
        if is_unknown(entry):
            continue
        if not isinstance(entry, str):
            return f"'allow'[{i}] must be a permission string, got {type(entry).__name__}"
        shown = repr(entry[:80])
        if _WHITE_RE.search(entry):
            return f"'allow'[{i}] {shown} must not contain white space"
        if not _PERMISSION_RE.match(entry):
            return f"'allow'[{i}] {shown} must be a /twilio/... permission path"
        if entry in seen:
            return f"'allow'[{i}] {shown} is listed twice"
        seen.add(entry)
    return None


KEY_TYPE = Enum(
    "ApiKeyType",
    KEY_TYPES,
    "The kind of API key: `standard` (API v2010) or `restricted` (IAM v1, limited to its policy).",
)
POLICY = Struct(
    "ApiKeyPolicy",
    (
        Prop(
            "allow",
            type=ListOf(STRING),
            description=(
                f"1 to {POLICY_MAX} distinct permissions, each a `/twilio/...` path with no white space, "
                "e.g. `/twilio/messaging/messages/read`."
            ),
        ),
    ),
    "What a restricted key may do: the Twilio permissions it allows (Twilio's only policy field).",
)


def same_policy(old: Any, new: Any) -> bool:
    """Policies mean the same when they allow the same permissions: an allow list is a set (a
    permission is granted or not), so its order carries no meaning and Twilio need not keep it."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return bool(old == new)
    old_allow, new_allow = old.get("allow"), new.get("allow")
    if isinstance(old_allow, (list, tuple)) and isinstance(new_allow, (list, tuple)):
        return set(map(str, old_allow)) == set(map(str, new_allow)) and set(old) == set(new)
    return bool(old == new)


def key_type_of(props: Mapping[str, Any]) -> str:
    """A state without ``key_type`` (every key made before restricted keys existed) is a Standard key."""
    return plain(props.get("key_type")) or STANDARD


@dataclass(frozen=True)
class _KeyApi:
    """The endpoint calls for one key type: all that Standard and restricted keys do differently."""

    create: Callable[[str], dict[str, Any]]  # (pending name) -> the new key, with its secret
    listing: Callable[[], Iterable[dict[str, Any]]]
    fetch: Callable[[str], dict[str, Any]]
    update: Callable[[str, str], dict[str, Any]]  # (sid, friendly name; policy too, if restricted)
    delete: Callable[[str], None]
    collection: str
    probe: Callable[[], None]


class ApiKeyProvider(SchemaProvider):
    """Create, read, update and delete one Twilio API key, Standard or restricted."""

    product = "api"
    forbidden_hint = (
        " The credentials are not allowed to do this. Managing API keys needs the Account SID and "
        "Auth Token, a Main API key, or a restricted key whose policy allows it "
        "(/twilio/iam/api-keys/create, read, update, delete); a Standard key cannot."
    )
    schema = Schema(
        "ApiKey",
        (
            Prop(
                "friendly_name",
                required=False,
                validate=check_friendly_name,
                description=f"A descriptive name for the key: at most {FRIENDLY_NAME_MAX} characters.",
            ),
            Prop(
                "account_sid",
                required=False,
                replaces=True,
                validate=check_account_sid,
                computed=True,
                description=(
                    "The account the key belongs to (`AC…`); defaults to the account of the configured "
                    "credentials."
                ),
            ),
            Prop(
                "key_type",
                required=False,
                replaces=True,
                validate=check_key_type,
                type=KEY_TYPE,
                computed=True,
                description=(
                    "`standard` (the default: made through API v2010) or `restricted` (made through IAM v1, "
                    "with a `policy`). A key made before key types existed is a Standard key."
                ),
            ),
            Prop(
                "policy",
                required=False,
                validate=check_policy,
                type=POLICY,
                description=(
                    "Restricted keys only, and required for them: what the key may do, e.g. "
                    '`{"allow": ["/twilio/messaging/messages/read"]}`. Checked before any call to Twilio. '
                    "Policies compare as sets: reordering `allow` is no change, and a refresh shows a "
                    "policy changed outside Pulumi, which the next `up` sets back."
                ),
            ),
        ),
        (
            Out("sid", description="The key's SID (`SK…`), also its id.", always=True),
            Out("date_created", description="Twilio's date of the key's creation."),
            Out("date_updated", description="Twilio's date of the key's last change."),
            Out(
                "secret",
                secret=True,
                always=True,
                description=(
                    "The key's secret, a Pulumi secret: captured at creation (Twilio returns it only once) "
                    "and carried over by every refresh and update. It cannot be recovered if state is lost."
                ),
            ),
        ),
        (
            "A Twilio API key: a Standard key (API v2010) or a restricted key with a policy (IAM v1).\n\n"
            "A new `friendly_name` or `policy` is updated in place; a new `account_sid` or `key_type` "
            "replaces the key (the new key is created before the old one is deleted, so consumers can move "
            "over). Managing keys needs the Account SID and Auth Token, a Main key, or a restricted key "
            "allowed `/twilio/iam/api-keys/...`: a Standard key gets a 403."
        ),
    )

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(olds, news)
        kind = plain(result.inputs.get("key_type"))
        policy = result.inputs.get("policy")
        if not is_unknown(kind):
            failures = list(result.failures or [])
            if (kind or STANDARD) == RESTRICTED and policy is None:
                failures.append(
                    CheckFailure("policy", "ApiKey: 'policy' is required when key_type is 'restricted'")
                )
            elif (kind or STANDARD) == STANDARD and policy is not None:
                failures.append(
                    CheckFailure(
                        "policy",
                        "ApiKey: 'policy' is allowed only with key_type 'restricted'",
                    )
                )
            result = CheckResult(result.inputs, failures)
        return result

    def changed_props(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        changed = super().changed_props(olds, news)
        # Left out, key_type is not "whatever it was" but its documented default, a Standard key: a
        # program that drops key_type and policy from a restricted key asks for a Standard one.
        dropped = plain(news.get("key_type")) is None and key_type_of(olds) != STANDARD
        if dropped and "key_type" not in changed:
            changed.append("key_type")
        # Likewise a name left out is no name (create and update send ""), not the old one kept.
        unnamed = plain(news.get("friendly_name")) is None and plain(olds.get("friendly_name"))
        if unnamed and "friendly_name" not in changed:
            changed.append("friendly_name")
        return changed

    def same(self, prop: Prop, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        if prop.name == "friendly_name":
            return (old or "") == (new or "")
        if prop.name == "key_type":
            return (old or STANDARD) == (new or STANDARD)
        if prop.name == "policy":
            return same_policy(old, new)
        return bool(old == new)

    def _api(self, account: str, props: Mapping[str, Any]) -> _KeyApi:
        client = self.client()
        if key_type_of(props) == RESTRICTED:
            policy = plain(props.get("policy"))
            return _KeyApi(
                create=lambda name: client.create_iam_key(account, name, key_type=RESTRICTED, policy=policy),
                listing=lambda: client.list_iam_keys(account),
                fetch=client.fetch_iam_key,
                update=lambda sid, name: client.update_iam_key(sid, friendly_name=name, policy=policy),
                delete=client.delete_iam_key,
                collection=client.iam_keys_path(),
                probe=lambda: client.probe_iam_keys(account),
            )
        return _KeyApi(
            create=lambda name: client.create_api_key(account, friendly_name=name),
            listing=lambda: client.list_api_keys(account),
            fetch=lambda sid: client.fetch_api_key(account, sid),
            update=lambda sid, name: client.update_api_key(account, sid, name),
            delete=lambda sid: client.delete_api_key(account, sid),
            collection=client.api_keys_path(account),
            probe=lambda: client.probe_api_keys(account),
        )

    def outputs(
        self, account_sid: str, kind: str, remote: Mapping[str, Any], key_secret: Any
    ) -> dict[str, Any]:
        outs = {field: remote.get(field) for field in _FIELDS}
        outs["account_sid"] = account_sid
        outs["key_type"] = kind
        # IAM's fetch and update carry the policy; a Standard key has none.
        outs["policy"] = remote.get("policy") if kind == RESTRICTED else None
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
        api = self._api(account, props)
        attempts: list[str] = []

        def make() -> dict[str, Any]:
            pending = PENDING_PREFIX + uuid.uuid4().hex
            attempts.append(pending)
            return api.create(pending)

        looked: list[bool] = []

        def find_ours(_started: float) -> None:
            # Keys that carry one of this create's attempt names are ours, and useless: delete them.
            looked.append(True)
            for key in list(api.listing()):
                if key.get("friendly_name") in attempts:
                    try:
                        api.delete(key["sid"])
                    except NotFound:
                        pass
            return None

        try:
            made = self.create_resilient(make, find_ours)
        except TwilioError as err:
            self.fail(name or "(unnamed)", err, "create")
        try:
            named = api.update(str(made["sid"]), name or "")
        except TwilioError as err:
            # Ours beyond doubt, and not usable as asked: delete it rather than leave it half made.
            try:
                api.delete(str(made["sid"]))
            except TwilioError:
                pass  # then the key keeps its pending name, which says what it is
            self.fail(name or "(unnamed)", err, "create (naming the new key)")
        if looked:
            # An earlier attempt whose answer was lost may have landed since we looked: its key is
            # ours and useless. One more look narrows that window (it cannot close it: a request
            # can land at any later time; README says what a leftover pending key is).
            try:
                for key in list(api.listing()):
                    if key.get("friendly_name") in attempts[:-1] and key.get("sid") != made["sid"]:
                        api.delete(str(key["sid"]))
            except TwilioError:
                pass  # the key we made is fine; a leftover keeps its pending name
        outs = self.outputs(account, key_type_of(props), {**made, **named}, made.get("secret"))
        return CreateResult(str(made["sid"]), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = self.client()
        kind = key_type_of(props)
        try:
            account = plain(props.get("account_sid")) or client.account_sid
            api = self._api(account, props)
            remote = api.fetch(id_)
        except NotFound:
            self.confirm_gone(id_, "refresh", [(api.collection, api.probe)])
            return ReadResult(None, {})
        except TwilioError as err:
            self.fail(id_, err, "refresh")
        # The secret is never returned again: carry it over from state.
        outs = self.outputs(account, kind, remote, plain(props.get("secret")))
        inputs: dict[str, Any] = {"friendly_name": outs.get("friendly_name"), "account_sid": account}
        if kind == RESTRICTED:
            inputs["key_type"] = kind
            # A policy changed outside Pulumi shows as drift; one that only lists the same
            # permissions in another order keeps the program's form.
            old = plain(props.get("policy"))
            inputs["policy"] = old if same_policy(old, outs["policy"]) else outs["policy"]
        return ReadResult(id_, outs, {k: v for k, v in inputs.items() if v is not None})

    def import_read(self, id_: str) -> tuple[ReadResult, list[str]]:
        # Refused: an adopted key would have no secret, and a key without its secret is useless to
        # every consumer of this resource's `secret` output.
        raise MicrovisorPulumiError(
            f"{self.describe(id_)}: cannot be imported: Twilio returns an API key's secret only once, "
            "in the answer to its creation, so an imported key would have no secret. Declare a new "
            "ApiKey (or a RotatingApiKey) instead, move its consumers to the new key, then delete "
            f"{id_} in the Twilio Console."
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        account = plain(olds.get("account_sid"))
        kind = key_type_of(olds)
        try:
            remote = self._api(account, {**news, "key_type": kind}).update(
                id_, plain(news.get("friendly_name")) or ""
            )
        except TwilioError as err:
            self.fail(id_, err, "update")
        return UpdateResult(self.outputs(account, kind, remote, plain(olds.get("secret"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        account = plain(props.get("account_sid"))
        api = self._api(account, props)
        try:
            api.delete(id_)
        except NotFound:
            self.confirm_gone(id_, "delete", [(api.collection, api.probe)])
        except TwilioError as err:
            self.fail(id_, err, "delete")


class ApiKey(TwilioResource, module="twilio", name="ApiKey"):
    """A Twilio API key: a Standard key (API v2010) or a restricted key with a policy (IAM v1).

    Inputs: ``friendly_name`` (optional, at most 64 characters), ``account_sid`` (optional; defaults to
    the account of the configured credentials), ``key_type`` (``"standard"``, the default, or
    ``"restricted"``) and ``policy`` (restricted keys only, and required for them:
    ``{"allow": ["/twilio/messaging/messages/read", ...]}``, 1 to 100 distinct permissions, checked
    before any call to Twilio).
    A new ``friendly_name`` or ``policy`` is updated in place; a new ``account_sid`` or ``key_type``
    replaces the key (the new key is created before the old one is deleted, so consumers can move
    over). Policies compare as sets: reordering ``allow`` is no change, and a refresh shows a policy
    changed outside Pulumi, which the next ``up`` sets back.
    Outputs: ``sid`` (the id, ``SK…``), ``friendly_name``, ``account_sid``, ``key_type``, ``policy``,
    ``date_created``, ``date_updated`` and ``secret``: a Pulumi secret, captured at creation and
    carried over by every refresh and update, since Twilio returns it only once. It cannot be
    recovered if state is lost. To rotate it, give the key ``ResourceOptions(replacement_trigger=...)``
    or use `RotatingApiKey`.
    Managing keys needs the Account SID and Auth Token, a Main key, or a restricted key allowed
    ``/twilio/iam/api-keys/...``: a Standard key gets a 403.
    """

    provider_class = ApiKeyProvider

    sid: pulumi.Output[str]
    friendly_name: pulumi.Output[str | None]
    account_sid: pulumi.Output[str]
    key_type: pulumi.Output[str]
    policy: pulumi.Output[dict[str, Any] | None]
    date_created: pulumi.Output[str]
    date_updated: pulumi.Output[str]
    secret: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        friendly_name: pulumi.Input[str] | None = None,
        account_sid: pulumi.Input[str] | None = None,
        key_type: pulumi.Input[str] | None = None,
        policy: pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "friendly_name": friendly_name,
            "account_sid": account_sid,
            "key_type": key_type,
            "policy": policy,
        }
        super().__init__(self.provider_class(), resource_name, inputs, opts)

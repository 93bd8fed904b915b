"""Microvisor Configs and Secrets, at account level and per device.

The four kinds share one provider, `_ItemProvider`, parameterised by two class attributes: the
collection (``Configs`` or ``Secrets``) and whether the item belongs to a device. The classes named
here are stored, by module and name, in users' Pulumi state: never rename or move them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from microvisor_pulumi._twilio import Conflict, InvalidInput, NotFound, TwilioError
from microvisor_pulumi.resources._provider import (
    AlreadyExists,
    MicrovisorPulumiError,
    OnceCache,
    SchemaProvider,
)
from microvisor_pulumi.resources._resource import TwilioResource, encoded_input
from microvisor_pulumi.resources._schema import (
    BOOLEAN,
    DEVICE_SID_RE,
    KEY_MAX,
    STRING,
    VALUE_MAX,
    ListOf,
    Out,
    Prop,
    Schema,
    changed_outside,
    check_bool,
    check_device,
    check_key,
    check_secret_value,
    check_value,
    encode_value,
    failures,
    is_changed_outside,
    plain,
    secret,
)

if TYPE_CHECKING:
    from microvisor_pulumi._twilio import TwilioClient

# After an ambiguous create, an item counts as ours only if Twilio's own date of its last change
# falls within our attempts, measured on Twilio's clock. Both Twilio's dates and its Date header have
# one-second resolution, so two seconds of margin cover the rounding and nothing much older.
_OURS_MARGIN_SECONDS = 2.0
# Devices resolved in this process, by (Microvisor base URL, SID or unique name); shared by every
# kind, so a device is looked up once per process whatever mix of configs and secrets it carries.
_DEVICES = OnceCache()
# How many earlier unique names of a device an item remembers (see _same_device).
_ALIASES_MAX = 10
# The type token of DeviceProfile (profile.py imports this module, so it cannot be imported here).
_PROFILE_TYPE = "microvisor:index:DeviceProfile"


@dataclass
class _Holder:
    """Which resource of this deployment holds (or is about to hold) one item.

    ``resource`` is what the program said about the resource (its kind, name and parent, see
    `_Item._register`), None when it said nothing (a program of an older version of this package).
    ``claim`` is the random id in that resource's state (see `_ItemProvider._claim`), None while its
    create has not succeeded.
    """

    resource: Mapping[str, str] | None
    device: str | None  # the device as that resource names it (a SID or a unique name)
    claim: str | None
    # The holder's own diff asked to delete the item before creating it again (a secret's new value):
    # the one delete this deployment may send for the item while the holder has no claim to show.
    deletes_first: bool = False


# One item, one resource per stack. The host is one process per deployment, serving every dynamic
# resource of the stack, and every resource the program declares passes through it: an existing one
# through diff (its state says which item it holds), a new one through create (after the device
# lookup). Each records here the item it will hold once the deployment is done:
# (collection, device SID or "", key) -> _Holder. A second resource naming the same item (the same
# device by SID and by unique name, say) is refused before it writes anything, and a delete by any
# resource other than the holder is skipped: a resource the program dropped must not delete what
# another resource of the stack still holds (the second half of a replacement that landed on the
# item, an overwrite=True neighbour, or a duplicate left in the state by an earlier version).
# Deletes of dropped resources come after every declared resource has been diffed, so a holder in
# the state is always known by then.
#
# Kept in this process, and also in a directory the processes of one deployment share when a face
# names one (`share_holders`): the engine runs the provider plugin once per provider, so an item
# taken over through an explicit provider would otherwise be deleted by a process that never saw it.
# Items are keyed by base URL and account too, as two providers may talk to two accounts.
# Names the temporary file a record is written to before it replaces the last: unique per process
# (its pid) and per write (itertools.count is atomic in CPython).
_PART_IDS = itertools.count()


class _Holders:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # held around a look and the record that follows it
        self._mine: dict[tuple[str, ...], _Holder] = {}
        self._shared: Path | None = None
        self._paths: dict[tuple[str, ...], Path] = {}

    def share(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._shared = directory
        self._paths = {}

    def _file(self, item: tuple[str, ...]) -> Path | None:
        if self._shared is None:
            return None
        path = self._paths.get(item)
        if path is None:  # named once per item: the hash and the path cost more than the read
            path = self._paths[item] = self._shared / hashlib.sha256(json.dumps(item).encode()).hexdigest()
        return path

    def get(self, item: tuple[str, ...]) -> _Holder | None:
        path = self._file(item)
        if path is not None:
            try:
                # The latest record of any process of the deployment, this one's included.
                return _Holder(**json.loads(path.read_text()))
            except FileNotFoundError:
                pass
            except (ValueError, TypeError):
                return _Holder(None, None, "unreadable")  # held by someone: never delete on a guess
        return self._mine.get(item)

    def put(self, item: tuple[str, ...], holder: _Holder) -> None:
        self._mine[item] = holder
        path = self._file(item)
        if path is not None:
            # Whole or not at all: another process may read it at any moment. (A record by hand, not
            # dataclasses.asdict, whose deep copy cost a third of a record's time.)
            record = {
                "resource": None if holder.resource is None else dict(holder.resource),
                "device": holder.device,
                "claim": holder.claim,
                "deletes_first": holder.deletes_first,
            }
            part = path.with_name(f"{path.name}.{os.getpid()}.{next(_PART_IDS)}")
            part.write_text(json.dumps(record))
            os.replace(part, path)

    def release(self, item: tuple[str, ...], holder: _Holder) -> None:
        if self._mine.get(item) == holder:
            self._mine.pop(item, None)
        path = self._file(item)
        if path is not None:
            try:
                if _Holder(**json.loads(path.read_text())) == holder:
                    path.unlink()
            except (FileNotFoundError, ValueError, TypeError):
                pass


_HOLDERS = _Holders()


def share_holders(directory: Path) -> None:
    """Let the processes of one deployment see which resource holds each item (see _Holders)."""
    _HOLDERS.share(directory)


def _declared_by(props: Mapping[str, Any]) -> Mapping[str, str] | None:
    """What the program said about the resource (see `_Item._register`), None if it said nothing."""
    resource = plain(props.get("declared_by"))
    if not isinstance(resource, Mapping) or not isinstance(resource.get("name"), str):
        return None
    return {k: str(v) for k, v in resource.items() if isinstance(v, str)}


def _resource_text(resource: Mapping[str, str] | None) -> str:
    """A resource as the program declared it, for messages: "DeviceConfig 'x' of DeviceProfile 'p'"."""
    if not resource:
        return "another resource of this stack"
    text = f"{resource.get('type', 'resource')} {resource.get('name')!r}"
    parent = resource.get("parent_type")
    if parent and resource.get("parent_name") is not None:
        text += f" of {parent.rpartition(':')[2]} {resource.get('parent_name')!r}"
    elif parent:
        # Named from its URN (the provider plugin), which gives the parents' types, not their names.
        chain = resource.get("parent_chain") or parent
        text += " under " + " in ".join(t.rpartition(":")[2] for t in reversed(chain.split("$")))
    return text


class _NoSuchDevice(MicrovisorPulumiError):
    """No device on the account has that SID or unique name."""


class _Taken(Exception):
    """After an ambiguous create, the key turned out to hold somebody else's item."""

    def __init__(self, remote: Mapping[str, Any]) -> None:
        super().__init__("taken")
        self.remote = remote


def _item_schema(kind: str, description: str, *, device: bool, secret_value: bool) -> Schema:
    what = "secret" if secret_value else "config"
    props = []
    outputs = []
    if device:
        props.append(
            Prop(
                "device_sid",
                replaces=True,
                validate=check_device,
                description=(
                    "The device: its `UV…` SID or its unique name. As an output, always the resolved `UV…` "
                    "SID. The same device under any of its names is no change."
                ),
            )
        )
        outputs += [
            Out("device_name", description="The device's unique name, kept current by refresh."),
            Out(
                "device_aliases",
                ListOf(STRING),
                "Names the device had before, once a refresh saw it renamed.",
            ),
        ]
    value_text = (
        f"The value: text of at most {VALUE_MAX} characters (a Python program's `bytes` are stored "
        "base64-encoded)."
    )
    if secret_value:
        value_text += (
            " Always a Pulumi secret, in inputs, outputs and state. Twilio never returns it: the output "
            "is carried from the input."
        )
    props += [
        Prop(
            "key",
            replaces=True,
            validate=check_key,
            description=f"The {what}'s key: 1 to {KEY_MAX} characters of printable text.",
        ),
        Prop(
            "value",
            replaces=secret_value,
            secret=secret_value,
            write_only=secret_value,
            validate=check_secret_value if secret_value else check_value,
            description=value_text,
        ),
        Prop(
            "overwrite",
            required=False,
            validate=check_bool,
            type=BOOLEAN,
            computed=True,
            description=(
                f"Default false: creating a {what} whose key already exists fails. True takes the existing "
                f"{what} over (this resource then manages it, sets its value and deletes it on destroy). "
                "Changing it later is no change to the item."
            ),
        ),
    ]
    if secret_value:
        dated = Out(
            "date_rotated",
            description=(
                "Twilio's date of the secret's last change (one-second resolution): a refresh notices a "
                "secret rotated outside Pulumi by it."
            ),
            always=True,
        )
    else:
        dated = Out("date_updated", description="Twilio's date of the config's last change.", always=True)
    outputs += [
        dated,
        Out("url", description=f"The {what}'s address in the Microvisor API.", always=True),
        Out(
            "claim",
            description=(
                "A random id of the create that made or took over the item, so that the delete half of a "
                "replacement never deletes what the new resource now owns."
            ),
        ),
    ]
    return Schema(kind, tuple(props), tuple(outputs), description)


def _parse_iso(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


class _ItemProvider(SchemaProvider):
    """Create, read, update and delete one Microvisor Config or Secret."""

    collection: ClassVar[str]  # "Configs" or "Secrets"
    device_scoped: ClassVar[bool]
    description: ClassVar[str]  # Markdown, for the kind's Schema (the provider plugin's package schema)
    # A new key or a new device: the replacement can be made before the old item goes, so a failed
    # create leaves the old one in place. Whether the device is really another one is settled in
    # `same` (it asks Twilio when the program names the device by a name state does not know).
    new_name_props = ("key", "device_sid")
    delete_first_on_replace = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The schema follows from the two class attributes: nothing is said twice.
        super().__init_subclass__(**kwargs)
        cls.schema = _item_schema(
            cls.__name__.removesuffix("Provider"),
            cls.description,
            device=cls.device_scoped,
            secret_value=cls.collection == "Secrets",
        )

    # -- naming ----------------------------------------------------------------------------------
    @property
    def is_secret(self) -> bool:
        return self.collection == "Secrets"

    @property
    def dated(self) -> str:
        """The field holding Twilio's date of the item's last change."""
        return "date_rotated" if self.is_secret else "date_updated"

    def ident(self, props: Mapping[str, Any]) -> str:
        key = str(plain(props.get("key")))
        return f"{plain(props.get('device_sid'))}/{key}" if self.device_scoped else key

    def normalize(self, prop: Prop, value: Any) -> Any:
        return encode_value(value) if prop.name == "value" else value

    def same(self, prop: Prop, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        if prop.name == "device_sid":
            return self._same_device(old, new, olds)
        if prop.name == "overwrite":
            return bool(old) == bool(new)
        return bool(old == new)

    def create_resolves(self, news: Mapping[str, Any]) -> list[str]:
        # The output is always the device's SID; a unique name is resolved only by the create.
        device = plain(news.get("device_sid"))
        if self.device_scoped and isinstance(device, str) and not DEVICE_SID_RE.match(device):
            return ["device_sid"]
        return []

    def _same_device(self, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        """Whether the program's device (SID or unique name) is the device the item lives on.

        The same device under any of its names is no change, or a create-first replacement would
        land on the very item it replaces and the engine would then delete it. Offline when the
        program uses the SID or the device's recorded name. Any other name is asked of Twilio (once
        per process): it is the same device if it resolves to this SID, another device if it
        resolves to another; a name that resolves to nothing is the same device only if state knows
        it as one of this device's earlier names (renamed outside Pulumi, then refreshed).
        """
        if not isinstance(new, str) or not isinstance(old, str):
            return False
        if new.upper() == old.upper() or new == plain(olds.get("device_name")):
            return True
        if DEVICE_SID_RE.match(new):
            return False  # another SID names another device
        try:
            return bool(self.device(new)["sid"] == old)
        except _NoSuchDevice:
            if new in (plain(olds.get("device_aliases")) or []):
                return True
            raise

    # -- one item, one resource per stack (see _HOLDERS) -------------------------------------------
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(olds, news)
        resource = _declared_by(news)
        if resource is not None:
            result.inputs["declared_by"] = resource
        return result

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        # The item this resource will hold once the deployment is done, if it is known: a preview may
        # not know the key or device yet.
        key, named = plain(news.get("key")), plain(news.get("device_sid"))
        if not isinstance(key, str) or (self.device_scoped and not isinstance(named, str)):
            return result
        old_sid = plain(olds.get("device_sid")) if self.device_scoped else None
        sid = old_sid
        if self.device_scoped and "device_sid" in (result.replaces or []):
            sid = named if DEVICE_SID_RE.match(named) else self.device(named)["sid"]
        same_item = (sid or "").upper() == (old_sid or "").upper() and key == plain(olds.get("key"))
        claim = plain(olds.get("claim")) if same_item else None
        # Only a replacement this diff asks for deletes the item first. deleteBeforeReplace is also
        # answered for an in-place change (in case the program forces a replacement), and taken as
        # leave to delete there it would let a dropped claimless duplicate delete the item this one
        # keeps; a replacement the program forces on a claimless item stops at "already exists".
        deletes_first = same_item and bool(result.replaces) and bool(result.delete_before_replace)
        self._hold(news, sid, key, claim, deletes_first=deletes_first)
        return result

    # -- devices: resolved once per device per process ---------------------------------------------
    def device(self, name_or_sid: str) -> dict[str, Any]:
        client = self.client()
        base = client.base_url("microvisor")

        def fetch() -> dict[str, Any]:
            try:
                remote = client.fetch_device(name_or_sid)
            except NotFound:
                raise _NoSuchDevice(
                    f"{self.schema.kind}: device_sid '{name_or_sid}' names no Microvisor device on this "
                    "account (no device has that SID or unique name)"
                ) from None
            except TwilioError as err:
                self.fail(name_or_sid, err, "looking up the device")
            found = {"sid": remote.get("sid") or name_or_sid, "unique_name": remote.get("unique_name")}
            # Under every name it answers to, so a later lookup by SID or name asks nothing.
            for name in {found["sid"], found["unique_name"]} - {None, name_or_sid}:
                _DEVICES.put((base, name), found)
            return found

        found: dict[str, Any] = _DEVICES.get((base, name_or_sid), fetch)
        return found

    def _device_for_write(self, given: str) -> dict[str, Any]:
        """The device a create writes to: a SID as given (its name unknown until a refresh), a
        unique name resolved through Twilio (once per process)."""
        if DEVICE_SID_RE.match(given):
            return {"sid": given, "unique_name": None}
        return self.device(given)

    # -- shaping outputs -------------------------------------------------------------------------
    def outputs(self, inputs: Mapping[str, Any], remote: Mapping[str, Any], device: Mapping[str, Any] | None):
        outs: dict[str, Any] = {}
        for prop in self.schema.props:
            value = plain(inputs.get(prop.name))
            if value is not None:
                outs[prop.name] = secret(value) if prop.secret else value
        outs["overwrite"] = bool(plain(inputs.get("overwrite")))
        write_only = {p.name for p in self.schema.props if p.write_only}
        for field in ("key", "value", "date_updated", "date_rotated", "url", "device_sid"):
            if field in remote and field not in write_only:
                outs[field] = remote[field]
        if device is not None:
            outs["device_sid"] = remote.get("device_sid") or device["sid"]
            outs["device_name"] = device.get("unique_name")
            aliases = list(plain(inputs.get("device_aliases") or remote.get("device_aliases")) or [])
            earlier = plain(inputs.get("device_name") or remote.get("device_name"))
            if earlier and earlier != outs["device_name"] and earlier not in aliases:
                aliases = [earlier, *aliases][:_ALIASES_MAX]
            if aliases:
                outs["device_aliases"] = aliases
        # Carried from the state (read gets it in `inputs`, update in `remote`): see _HOLDERS.
        claim = plain(inputs.get("claim") or remote.get("claim"))
        if claim:
            outs["claim"] = claim
        return outs

    # -- remote operations -----------------------------------------------------------------------
    def _sid(self, props: Mapping[str, Any]) -> str | None:
        return str(plain(props["device_sid"])) if self.device_scoped else None

    def _write_existing(self, key: str, value: str, sid: str | None) -> dict[str, Any]:
        """Set the value of an item that exists: update in place, or delete and create where the
        service does not support updates (404 or 405 to the update)."""
        client = self.client()
        try:
            return client.update_item(self.collection, key, value, device=sid)
        except TwilioError as err:
            if err.status not in (404, 405):
                raise
        try:
            client.delete_item(self.collection, key, device=sid)
        except NotFound:
            pass
        return client.create_item(self.collection, key, value, device=sid)

    def _is_ours(self, client: TwilioClient, remote: Mapping[str, Any], value: str, started: float) -> bool:
        """Whether an item found after an ambiguous create was written by our own attempts.

        Only Twilio's clock counts: its date of the item's last change must fall after our first
        attempt began, which is the Date of the response just read less the time elapsed here since
        that attempt (a monotonic measure). Anything older belongs to someone else. A config must
        also hold our value; a secret's value cannot be read, so its date is all there is.
        """
        clock = client.server_time()
        changed = _parse_iso(remote.get(self.dated))
        if clock is None or changed is None:
            return False  # no proof either way: not ours
        server_now, seen_at = clock
        began = server_now - (seen_at - started)
        if changed < began - _OURS_MARGIN_SECONDS:
            return False
        return self.is_secret or remote.get("value") == value

    def _take_over(
        self,
        ident: str,
        key: str,
        value: str,
        sid: str | None,
        overwrite: bool,
        found: Mapping[str, Any],
        props: Mapping[str, Any],
    ) -> dict[str, Any]:
        if not overwrite:
            changed = found.get(self.dated)
            when = f" (last changed {changed}, before this create began)" if changed else ""
            # Twilio cannot tell whose it is: a neighbour's, or this stack's own under a resource this
            # program now declares by another name. Say both, and what to write for each.
            raise AlreadyExists(
                f"{self.describe(ident)}: the key already exists in Twilio{when} and this `pulumi up` did "
                f"not make it, so nothing was written. {self._own_item_hint(props)}If it belongs to "
                "someone else, either set overwrite=True to take it over (this resource then manages "
                "it, sets its value and deletes it on destroy), delete it in Twilio by hand, or choose "
                "another key. If it is this resource's own item, being replaced because of "
                "`replacement_trigger` (which the provider is never asked about), give the resource "
                "delete_before_replace=True."
            )
        return self._write_existing(key, value, sid)

    @staticmethod
    def _own_item_hint(props: Mapping[str, Any]) -> str:
        """How to keep the stack's own item when the program now names its resource differently."""
        resource = _declared_by(props)
        if resource and resource.get("parent_type") == _PROFILE_TYPE:
            profile = resource.get("parent_name")
            listed = plain(props.get("device_sid"))
            return (
                f"If it is this stack's own (DeviceProfile {profile!r} listed this device before as "
                f"another string: a unique name it had before a rename, or its name where it now "
                f"lists its SID), keep that child: write renamed={{{listed!r}: '<the device as listed "
                f"before>'}} in DeviceProfile {profile!r} and run `pulumi up` again; nothing changes. "
            )
        return (
            "If it is this stack's own (held by a resource this program no longer declares, or now "
            "declares under another name), keep that resource in the program, or give this one "
            "opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name='<its former name>')]). "
        )

    def _hold(
        self,
        props: Mapping[str, Any],
        sid: str | None,
        key: str,
        claim: str | None,
        deletes_first: bool = False,
    ) -> None:
        """Record that this resource holds the item (see _HOLDERS), or refuse a second holder."""
        resource = _declared_by(props)
        device = plain(props.get("device_sid")) if self.device_scoped else None
        item = self._item_key(sid, key)
        with _HOLDERS.lock:
            held = _HOLDERS.get(item)
            if held is not None and resource and held.resource and held.resource != resource:
                raise MicrovisorPulumiError(self._second_owner(sid, key, resource, device, held))
            if held is not None and resource is None:
                resource = held.resource  # the same resource, or one the program did not name
            _HOLDERS.put(item, _Holder(resource, device, claim, deletes_first))

    def _second_owner(
        self, sid: str | None, key: str, resource: Mapping[str, str], device: str | None, held: _Holder
    ) -> str:
        this, other = _resource_text(resource), _resource_text(held.resource)
        kind = self.collection.removesuffix("s")
        what = f"the {kind} '{key}' of device {sid}" if sid else f"the account {kind} '{key}'"
        if device and held.device and device != held.device:
            what += f" (named '{held.device}' by one and '{device}' by the other)"
        same_profile = (
            resource.get("parent_type") == _PROFILE_TYPE
            and held.resource is not None
            and held.resource.get("parent_type") == _PROFILE_TYPE
            and resource.get("parent_name") == held.resource.get("parent_name")
            and resource.get("parent_urn") == held.resource.get("parent_urn")
            and resource.get("parent_chain") == held.resource.get("parent_chain")
        )
        if same_profile:
            way_out = (
                f"DeviceProfile {resource.get('parent_name')!r} lists this device twice: list it once "
                f"(as '{held.device}', which holds the item)."
            )
        else:
            way_out = (
                f"Keep one: remove {this} from the program ({other} holds the item; a resource removed "
                "from the program never deletes an item another resource of the stack holds), or give "
                "one of them another key."
            )
        return (
            f"{self.describe(f'{sid}/{key}' if sid else key)}: {this} and {other} both declare {what}. "
            "One item, one resource per stack: two resources would overwrite each other's value, "
            f"and deleting either would delete the item under the other. {this} wrote nothing. {way_out}"
        )

    def _item_key(self, sid: str | None, key: str) -> tuple[str, ...]:
        """An item wherever it lives: base URL, account, collection, device SID (any case) and key."""
        client = self.client()
        settings = client.settings
        account = settings.account_sid or settings.api_key or ""
        return (client.base_url(self.product), account, self.collection, (sid or "").upper(), key)

    def _claim(self, props: Mapping[str, Any], sid: str | None, key: str, outs: dict[str, Any]) -> None:
        outs["claim"] = uuid.uuid4().hex
        self._hold(props, sid, key, outs["claim"])

    def create(self, props: dict[str, Any]) -> CreateResult:
        key = str(plain(props["key"]))
        value = str(plain(props["value"]))
        overwrite = bool(plain(props.get("overwrite")))
        given = str(plain(props["device_sid"])) if self.device_scoped else None
        # A SID needs no resolving: a device that does not exist is told by the create's own 404
        # (below), and `refresh` records device_name. Only a unique name is looked up.
        device = None if given is None else self._device_for_write(given)
        sid = device["sid"] if device else None
        ident = f"{sid}/{key}" if sid else key
        # Before anything is written: is the item another resource's of this stack?
        self._hold(props, sid, key, None)
        if is_changed_outside(value):
            raise MicrovisorPulumiError(
                f"{self.describe(ident)}: cannot create the secret: its value was changed outside Pulumi "
                "(a refresh saw it) and `ignore_changes` on 'value' keeps Pulumi from knowing the new "
                "one. Drop 'value' from ignore_changes for one `pulumi up`, so the declared value is set."
            )
        client = self.client()
        started = time.monotonic()
        sent: list[int] = []
        failure: TwilioError | None = None

        def make() -> dict[str, Any]:
            sent.append(1)
            return client.create_item(self.collection, key, value, device=sid)

        def find_ours(started: float) -> dict[str, Any] | None:
            try:
                remote = client.fetch_item(self.collection, key, device=sid)
            except NotFound:
                return None
            if not self._is_ours(client, remote, value, started):
                raise _Taken(remote)
            return remote

        try:
            try:
                remote = self.create_resilient(make, find_ours)
            except (Conflict, InvalidInput) as err:
                # Twilio's answer to a duplicate key is not documented: confirm by looking.
                try:
                    found = client.fetch_item(self.collection, key, device=sid)
                except NotFound:
                    raise err from None
                if len(sent) > 1 and self._is_ours(client, found, value, started):
                    # An earlier attempt whose answer was lost landed after we looked: ours.
                    remote = found
                else:
                    remote = self._take_over(ident, key, value, sid, overwrite, found, props)
            except _Taken as taken:
                remote = self._take_over(ident, key, value, sid, overwrite, taken.remote, props)
        except TwilioError as err:
            failure = err
        if failure is not None:
            if isinstance(failure, NotFound) and sid is not None:
                # Outside the except block: the clear error chains to nothing.
                self.device(sid)  # raises _NoSuchDevice when the device is what is missing
            self.fail(ident, failure, "create")
        outs = self.outputs(props, remote, device)
        self._claim(props, sid, key, outs)
        return CreateResult(self.ident(outs), outs)

    def _probes(self, sid: str | None) -> list[tuple[str, Callable[[], None]]]:
        """What holds an item of `sid`, to prove that a 404 for the item came from Twilio: its
        collection, and for a device's item the device itself. Nothing else holds it."""
        client = self.client()
        probes: list[tuple[str, Callable[[], None]]] = [
            (client.items_path(self.collection, sid), lambda: client.probe_items(self.collection, device=sid))
        ]
        if sid is not None:

            def device_answers() -> None:
                client.fetch_device(sid)

            probes.append((f"/v1/Devices/{sid}", device_answers))
        return probes

    def from_id(self, id_: str) -> dict[str, Any]:
        """The item an id names (`pulumi import`, a `get`), checked by the same rules as the
        program's inputs before any call: a mistyped id is an error naming the form, not a request
        for another URL (a key with a newline, a device part of '..') or a 404 that reads as "gone"."""
        props: dict[str, Any] = {}
        if self.device_scoped:
            device, slash, key = id_.partition("/")
            if not slash:
                raise MicrovisorPulumiError(
                    f"{self.schema.kind} id {id_[:120]!r} must be '<device SID or unique name>/<key>', "
                    f"e.g. 'UV0123…cdef/{id_[:40] or 'my-key'}'"
                )
            props["device_sid"] = device
        else:
            key = id_
        props["key"] = key
        # Only the parts the id carries: `value` and the rest are not in it.
        problems = [
            f"{reason} (in the id {id_[:120]!r})"
            for name, reason in failures(self.schema, props)
            if name in props
        ]
        if problems:
            raise MicrovisorPulumiError("; ".join(problems))
        return props

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = dict(props)
        by_id = "key" not in props or (self.device_scoped and "device_sid" not in props)
        if by_id:
            # A read with no state, or too little to name the item (`pulumi import`, a `get`, whose
            # state a YAML program writes by hand): the id says which item.
            props = self.from_id(id_)
        key = str(plain(props["key"]))
        sid = self._sid(props)
        try:
            remote = self.client().fetch_item(self.collection, key, device=sid)
        except NotFound:
            if by_id and sid is not None:
                self.device(sid)  # an id naming no device says so, rather than "check the endpoint"
            self.confirm_gone(self.ident(props), "refresh", self._probes(sid))
            return ReadResult(None, {})
        except TwilioError as err:
            self.fail(self.ident(props), err, "refresh")
        # The device's current unique name (it may have been renamed outside Pulumi).
        device = self.device(sid) if sid else None
        outs = self.outputs(props, remote, device)
        if self.is_secret and remote.get("date_rotated") != plain(props.get("date_rotated")):
            # Changed outside Pulumi: the value in Twilio is no longer the one in state, and it cannot
            # be read back. Keep a marker in its place (see CHANGED_OUTSIDE): the next `up` sees a
            # change and sets the declared value again, unless the program ignores changes to it.
            for prop in self.schema.props:
                if prop.write_only:
                    outs[prop.name] = secret(changed_outside(remote.get("date_rotated")))
        inputs = {p.name: outs[p.name] for p in self.schema.props if p.name in outs}
        # An id given by unique name ('thermostat-7/mode') is stored in its documented form, by SID.
        return ReadResult(self.ident(outs) if by_id else id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # Only in-place changes reach update: a config's value, or `overwrite` (which is never sent).
        key = str(plain(news["key"]))
        value = str(plain(news["value"]))
        sid = self._sid(olds)
        remote: Mapping[str, Any] = olds
        if plain(olds.get("value")) != value and not is_changed_outside(value):
            try:
                remote = self._write_existing(key, value, sid)
            except TwilioError as err:
                self.fail(id_, err, "update")
        device = {"sid": sid, "unique_name": plain(olds.get("device_name"))} if sid else None
        # Keep what update did not touch (dates, url) and what the inputs say.
        outs = self.outputs(news, {**{k: plain(v) for k, v in olds.items()}, **remote}, device)
        return UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        key = str(plain(props["key"]))
        sid = self._sid(props)
        item = self._item_key(sid, key)
        with _HOLDERS.lock:
            held = _HOLDERS.get(item)
            if held is not None and held.claim is None and held.deletes_first:
                # Its own delete-first replacement: this delete, once.
                held = dataclasses.replace(held, deletes_first=False)
                _HOLDERS.put(item, held)
            elif held is not None and (held.claim is None or held.claim != plain(props.get("claim"))):
                # Another resource of this deployment holds the item (see _HOLDERS): a replacement
                # that landed on it, an overwrite=True neighbour, or a resource still declared that
                # names the same item. Deleting it would delete theirs. A holder without a claim (its
                # state is older than claims, or imported) cannot prove a claimless delete its own,
                # so that one is skipped too: two duplicates an earlier version left have no claims.
                return
        try:
            self.client().delete_item(self.collection, key, device=sid)
        except NotFound:
            # Already gone is what delete wants, once Twilio (not a misrouted endpoint) says so.
            self.confirm_gone(id_, "delete", self._probes(sid))
        except TwilioError as err:
            self.fail(id_, err, "delete")
        with _HOLDERS.lock:
            if held is not None and _HOLDERS.get(item) == held:
                _HOLDERS.release(item, held)


class AccountConfigProvider(_ItemProvider):
    collection = "Configs"
    device_scoped = False
    description = (
        "An account-level Microvisor Config: a key/value pair every device on the account can fetch.\n\n"
        "A new `key` replaces the config (the new one is created before the old one is deleted); a new "
        "`value` is updated in place. Nothing here is secret: use `AccountSecret` for secrets. The id is "
        "the key."
    )


class DeviceConfigProvider(_ItemProvider):
    collection = "Configs"
    device_scoped = True
    description = (
        "A Microvisor Config of one device: a key/value pair that device fetches at run time.\n\n"
        "A new device or key replaces the config (the new one is created before the old one is "
        "deleted); naming the same device by unique name instead of SID (or the other way round) is no "
        "change. A new `value` is updated in place. Nothing here is secret. The id is `<UV sid>/<key>`."
    )


class AccountSecretProvider(_ItemProvider):
    collection = "Secrets"
    device_scoped = False
    description = (
        "An account-level Microvisor Secret: write-only, every device on the account can fetch it.\n\n"
        "`value` is always a Pulumi secret, in inputs and outputs, even when given as plain text. Any "
        "change to `key` or `value` replaces the secret; when the key stays the same the old secret is "
        "deleted before the new one is created. Twilio never returns a secret's value, so a refresh sees "
        "drift only through `date_rotated`: a secret rotated outside Pulumi is set again by the next "
        "`pulumi up`. The id is the key."
    )


class DeviceSecretProvider(_ItemProvider):
    collection = "Secrets"
    device_scoped = True
    description = (
        "A Microvisor Secret of one device: write-only, only that device can fetch it.\n\n"
        "`value` is always a Pulumi secret. A new device, key or value replaces the secret (deleted "
        "first when device and key stay the same); naming the same device by unique name instead of SID "
        "is no change. A secret rotated outside Pulumi (seen through `date_rotated` on refresh) is set "
        "again by the next `pulumi up`. The id is `<UV sid>/<key>`."
    )


# -- the program side -----------------------------------------------------------------------------


class _Item(TwilioResource):
    """What the four Microvisor kinds share on the program side; subclasses name their provider."""

    provider_class: ClassVar[type[_ItemProvider]]

    key: pulumi.Output[str]
    value: pulumi.Output[str]
    overwrite: pulumi.Output[bool]
    url: pulumi.Output[str]

    def _register(
        self, resource_name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions | None
    ) -> None:
        inputs["value"] = encoded_input(inputs["value"])
        # The host cannot see which resource a call is for (no URN reaches a dynamic provider), yet it
        # must tell two resources naming one item apart and name both in the error: say it here.
        inputs["declared_by"] = _declaration(self, resource_name, opts)
        TwilioResource.__init__(self, self.provider_class(), resource_name, inputs, opts)


def _declaration(resource: pulumi.Resource, name: str, opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    """The resource's kind, name and parent: unique in a stack, as its URN is, and readable.

    The parent's own URN is part of it: two parents of one type and name can sit under parents of
    different types (a DeviceProfile 'p' in each of two components), and their children, alike in
    kind, name and parent, are still two resources."""
    declared: dict[str, Any] = {"type": type(resource).__name__, "name": name}
    parent = opts.parent if opts is not None else None
    if isinstance(parent, pulumi.Resource):
        declared["parent_type"] = str(getattr(parent, "_type", type(parent).__name__))
        declared["parent_name"] = str(getattr(parent, "_name", ""))
        # Its value only: as a dependency it would make the child wait on its own parent's children.
        urn = parent.urn
        declared["parent_urn"] = pulumi.Output(set(), urn.future(), urn.is_known(), urn.is_secret())
    return declared


class _AccountItem(_Item):
    def __init__(
        self,
        resource_name: str,
        *,
        key: pulumi.Input[str],
        value: pulumi.Input[str | bytes],
        overwrite: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        self._register(resource_name, {"key": key, "value": value, "overwrite": overwrite}, opts)


class _DeviceItem(_Item):
    device_sid: pulumi.Output[str]
    device_name: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        *,
        device_sid: pulumi.Input[str],
        key: pulumi.Input[str],
        value: pulumi.Input[str | bytes],
        overwrite: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {"device_sid": device_sid, "key": key, "value": value, "overwrite": overwrite}
        self._register(resource_name, inputs, opts)


class AccountConfig(_AccountItem, module="microvisor", name="AccountConfig"):
    """An account-level Microvisor Config: a key/value pair every device on the account can fetch.

    Inputs: ``key`` (1 to 100 characters), ``value`` (text of at most 4096 characters; ``bytes`` are
    stored base64-encoded), ``overwrite`` (default False: creating a key that already exists fails;
    True takes the existing config over and sets this value).
    A new ``key`` replaces the config (the new one is created before the old one is deleted); a new
    ``value`` is updated in place. Nothing here is secret: use AccountSecret for secrets.
    Outputs: ``key``, ``value``, ``date_updated``, ``url``. The id is the key.
    """

    provider_class = AccountConfigProvider
    date_updated: pulumi.Output[str]


class DeviceConfig(_DeviceItem, module="microvisor", name="DeviceConfig"):
    """A Microvisor Config of one device: a key/value pair that device fetches at run time.

    Inputs: ``device_sid`` (the device's ``UV…`` SID or its unique name), ``key`` (1 to 100
    characters), ``value`` (text of at most 4096 characters; ``bytes`` are stored base64-encoded),
    ``overwrite`` (default False; True takes over a config that already exists).
    A new device or key replaces the config; naming the same device by unique name instead of SID (or
    the other way round) is no change. A new ``value`` is updated in place. Nothing here is secret.
    Outputs: ``device_sid`` (always the resolved ``UV…`` SID), ``device_name``, ``key``, ``value``,
    ``date_updated``, ``url``. The id is ``<UV sid>/<key>``.
    """

    provider_class = DeviceConfigProvider
    date_updated: pulumi.Output[str]


class AccountSecret(_AccountItem, module="microvisor", name="AccountSecret"):
    """An account-level Microvisor Secret: write-only, every device on the account can fetch it.

    Inputs: ``key`` (1 to 100 characters), ``value`` (text of at most 4096 characters; ``bytes`` are
    stored base64-encoded), ``overwrite`` (default False; True takes over a secret that already exists).
    ``value`` is always a Pulumi secret, in inputs and outputs, even when given as a plain string.
    Any change to ``key`` or ``value`` replaces the secret; when the key stays the same the old secret
    is deleted before the new one is created. Twilio never returns a secret's value, so a refresh
    sees drift only through ``date_rotated``: a secret rotated outside Pulumi is set again by the next
    ``pulumi up``. Outputs: ``key``, ``value`` (secret, carried from the input), ``date_rotated``, ``url``.
    The id is the key.
    """

    provider_class = AccountSecretProvider
    date_rotated: pulumi.Output[str]


class DeviceSecret(_DeviceItem, module="microvisor", name="DeviceSecret"):
    """A Microvisor Secret of one device: write-only, only that device can fetch it.

    Inputs: ``device_sid`` (the device's ``UV…`` SID or its unique name), ``key`` (1 to 100
    characters), ``value`` (text of at most 4096 characters; ``bytes`` are stored base64-encoded),
    ``overwrite`` (default False; True takes over a secret that already exists).
    ``value`` is always a Pulumi secret. A new device, key or value replaces the secret (deleted first
    when device and key stay the same); naming the same device by unique name instead of SID is no change.
    A secret rotated outside Pulumi (seen through ``date_rotated`` on refresh) is set again by the next
    ``pulumi up``. Outputs: ``device_sid`` (the resolved ``UV…`` SID), ``device_name``, ``key``,
    ``value`` (secret), ``date_rotated``, ``url``. The id is ``<UV sid>/<key>``.
    """

    provider_class = DeviceSecretProvider
    date_rotated: pulumi.Output[str]

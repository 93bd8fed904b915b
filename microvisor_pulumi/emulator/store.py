"""State and rules of the emulated Twilio account, with no HTTP in sight.

The store is the emulator's "models" layer (moto's ``models.py``): it owns every record, every
uniqueness rule, every length limit and the rule that secret values are never handed back. The
HTTP side (:mod:`.responses`, one module per product) only translates requests into calls here and
records into JSON.

Records come back as plain dicts whose fields are exactly what the API may show. Timestamps are
integer epoch seconds (:mod:`.wire` formats them per API); a Secret record has no ``value``
field at all and an API key record never has its secret, so no handler can leak one by accident.

All state lives in SQLite (``":memory:"`` by default, or a file so a stack deployed yesterday can
be refreshed today). One lock serialises every operation: the emulator answers a handful of
concurrent requests at a time, and a single connection behind a lock is simpler and safer than
SQLite's own locking across threads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Record = dict[str, Any]
ItemKind = Literal["config", "secret"]

KEY_MAX = 100
VALUE_MAX = 4096
FRIENDLY_NAME_MAX = 64

ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
DEVICE_SID_RE = re.compile(r"^UV[0-9a-fA-F]{32}$")
KEY_SID_RE = re.compile(r"^SK[0-9a-fA-F]{32}$")

# Twilio's list items for IAM keys carry "flags"; every key the emulator makes can do both.
KEY_FLAGS = ["rest_api", "signing"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,            -- 'config' | 'secret'
    scope TEXT NOT NULL,           -- '' for the account, else the device SID
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    date_changed INTEGER NOT NULL, -- date_updated (configs) or date_rotated (secrets)
    UNIQUE (kind, scope, key)
);
CREATE TABLE IF NOT EXISTS devices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    unique_name TEXT UNIQUE,
    target_sid TEXT,
    date_targeted INTEGER,
    logging_expires INTEGER,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    friendly_name TEXT,
    secret_sha256 TEXT NOT NULL,   -- only a hash: the secret itself is shown once, at create
    key_type TEXT NOT NULL,        -- 'standard' | 'restricted'
    policy TEXT,                   -- JSON, restricted keys only
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL
);
"""


class StoreError(Exception):
    """A rule was broken; carries the HTTP status, Twilio error code and a message without secrets."""

    status = 400
    code = 20001

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(StoreError):
    """A parameter is missing, too long or malformed (400, code 20001)."""

    status = 400
    code = 20001


class NotFound(StoreError):
    """The addressed resource does not exist (404, code 20404)."""

    status = 404
    code = 20404


class Conflict(StoreError):
    """A create would duplicate a unique key or name (409, code 20409; Twilio documents none)."""

    status = 409
    code = 20409


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: the account itself, or one API key."""

    kind: Literal["account", "standard", "restricted"]
    sid: str
    allow: tuple[str, ...] = field(default=())


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _require(name: str, value: str | None, *, allow_empty: bool = True) -> str:
    if value is None or (not allow_empty and value == ""):
        raise InvalidParameter(f"Missing required parameter {name} in the post body")
    return value


def _limit(name: str, value: str | None, limit: int) -> None:
    # The message names the parameter, the limit and the length, never the (maybe secret) value.
    if value is not None and len(value) > limit:
        raise InvalidParameter(f"{name} must be at most {limit} characters (got {len(value)})")


def parse_policy(raw: str) -> dict[str, Any]:
    """Parse an IAM ``Policy`` form value: a JSON object ``{"allow": [permission, ...]}``."""
    try:
        policy = json.loads(raw)
    except ValueError:
        raise InvalidParameter("Policy must be a JSON object") from None
    if not isinstance(policy, dict):
        raise InvalidParameter("Policy must be a JSON object")
    allow = policy.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(p, str) for p in allow):
        raise InvalidParameter("Policy.allow must be a list of permission strings")
    return policy


class Store:
    """The emulated account: Microvisor configs, secrets and devices, and API keys.

    ``path`` is ``":memory:"`` (the default) or a SQLite file; with a file every change is
    committed at once, so a new Store on the same file sees the same state. ``devices`` are
    ``(sid, unique_name)`` pairs seeded on open (added if missing, never duplicated) and restored
    by :meth:`reset`. The auth token is kept in memory only; API key secrets only as SHA-256.
    """

    def __init__(
        self,
        path: str = ":memory:",
        *,
        account_sid: str,
        auth_token: str,
        devices: Sequence[tuple[str, str | None]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ACCOUNT_SID_RE.match(account_sid):
            raise ValueError("account_sid must match ^AC[0-9a-fA-F]{32}$")
        for sid, _name in devices:
            if not DEVICE_SID_RE.match(sid):
                raise ValueError(f"device SID {sid!r} must match ^UV[0-9a-fA-F]{{32}}$")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._seed = list(devices)
        self.clock = clock  # tests may replace it, e.g. to make a write look older
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            # WAL + NORMAL: every change still reaches the file at commit, without an fsync per write
            # stalling a request for tens of milliseconds.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        with self._lock, self._tx():
            self._seed_devices()

    # -- plumbing ---------------------------------------------------------------------------

    def _tx(self) -> sqlite3.Connection:
        # sqlite3's connection context manager commits or rolls back; with isolation_level=None we
        # open the transaction ourselves so each public method is one atomic commit.
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def _now(self) -> int:
        # One-second resolution, as Twilio's: two writes in the same second show the same date.
        return int(self.clock())

    def close(self) -> None:
        """Close the database; state in a file stays there."""
        with self._lock:
            self._db.close()

    def reset(self) -> None:
        """Drop every config, secret and API key; restore the seeded devices."""
        with self._lock, self._tx():
            self._db.execute("DELETE FROM items")
            self._db.execute("DELETE FROM api_keys")
            self._db.execute("DELETE FROM devices")
            self._seed_devices()

    def _seed_devices(self) -> None:
        now = self._now()
        for sid, name in self._seed:
            # A unique name already used by another device is dropped rather than failing startup.
            taken = (
                name is not None
                and self._db.execute(
                    "SELECT 1 FROM devices WHERE unique_name = ? AND sid != ?", (name, sid)
                ).fetchone()
            )
            self._db.execute(
                "INSERT OR IGNORE INTO devices (sid, unique_name, date_created, date_updated)"
                " VALUES (?, ?, ?, ?)",
                (sid, None if taken else name, now, now),
            )

    # -- auth -------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> Principal | None:
        """Return who ``username``/``password`` are, or None. Deleted keys no longer authenticate."""
        if username == self.account_sid:
            if hmac.compare_digest(password.encode(), self._auth_token.encode()):
                return Principal("account", username)
            return None
        if not KEY_SID_RE.match(username):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT secret_sha256, key_type, policy FROM api_keys WHERE sid = ?", (username,)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], _hash_secret(password)):
            return None
        if row[1] == "restricted":
            allow = tuple(json.loads(row[2] or "{}").get("allow", []))
            return Principal("restricted", username, allow)
        return Principal("standard", username)

    # -- devices ----------------------------------------------------------------------------

    _DEVICE_COLS = (
        "seq, sid, unique_name, target_sid, date_targeted, logging_expires, date_created, date_updated"
    )

    def _device_record(self, row: Sequence[Any]) -> Record:
        _seq, sid, name, target, targeted, expires, created, updated = row
        now = self._now()
        return {
            "sid": sid,
            "unique_name": name,
            "account_sid": self.account_sid,
            "target_sid": target,
            "date_targeted": targeted,
            "logging_enabled": bool(expires and expires > now),
            "logging_expires": expires,
            "date_created": created,
            "date_updated": updated,
        }

    def _device_row(self, ident: str) -> Sequence[Any]:
        row = self._db.execute(
            f"SELECT {self._DEVICE_COLS} FROM devices WHERE sid = ? OR unique_name = ?"
            " ORDER BY sid = ? DESC LIMIT 1",
            (ident, ident, ident),
        ).fetchone()
        if row is None:
            raise NotFound(f"The requested resource /Devices/{ident} was not found")
        return row

    def resolve_device(self, ident: str) -> str:
        """Return the SID of the device addressed by SID or unique name; NotFound otherwise."""
        with self._lock:
            return str(self._device_row(ident)[1])

    def list_devices(self) -> list[tuple[int, Record]]:
        """All devices as ``(cursor, record)`` in registration order."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._DEVICE_COLS} FROM devices ORDER BY seq").fetchall()
            return [(row[0], self._device_record(row)) for row in rows]

    def get_device(self, ident: str) -> Record:
        """One device, by SID or unique name."""
        with self._lock:
            return self._device_record(self._device_row(ident))

    def update_device(
        self,
        ident: str,
        *,
        unique_name: str | None = None,
        target_app: str | None = None,
        logging_enabled: bool | None = None,
        restart_app: bool | None = None,
    ) -> Record:
        """Rename a device, target an App, or enable/disable logging (24 h, as Twilio documents)."""
        with self._lock, self._tx():
            row = self._device_row(ident)
            sid = row[1]
            now = self._now()
            if unique_name is not None:
                clash = self._db.execute(
                    "SELECT 1 FROM devices WHERE unique_name = ? AND sid != ?", (unique_name, sid)
                ).fetchone()
                if clash:
                    raise Conflict(f"A Device with UniqueName {unique_name} already exists")
                self._db.execute("UPDATE devices SET unique_name = ? WHERE sid = ?", (unique_name, sid))
            if target_app is not None:
                self._db.execute(
                    "UPDATE devices SET target_sid = ?, date_targeted = ? WHERE sid = ?",
                    (target_app or None, now, sid),
                )
            if logging_enabled is not None:
                expires = now + 24 * 3600 if logging_enabled else None
                self._db.execute("UPDATE devices SET logging_expires = ? WHERE sid = ?", (expires, sid))
            # RestartApp has no state to keep; it still counts as an update.
            del restart_app
            self._db.execute("UPDATE devices SET date_updated = ? WHERE sid = ?", (now, sid))
            return self._device_record(self._device_row(sid))

    # -- configs and secrets ----------------------------------------------------------------

    @staticmethod
    def _item_record(kind: ItemKind, scope: str, key: str, value: str, changed: int) -> Record:
        record: Record = {}
        if scope:
            record["device_sid"] = scope
        record["key"] = key
        if kind == "config":
            record["value"] = value
            record["date_updated"] = changed
        else:
            # The rule "a secret's value is never returned" is enforced here: the record the rest
            # of the emulator sees simply has no value.
            record["date_rotated"] = changed
        return record

    def _scope(self, device: str | None) -> str:
        return "" if device is None else str(self._device_row(device)[1])

    @staticmethod
    def _noun(kind: ItemKind) -> str:
        return "Configs" if kind == "config" else "Secrets"

    def _missing(self, kind: ItemKind, scope: str, key: str) -> NotFound:
        prefix = f"/Devices/{scope}" if scope else ""
        return NotFound(f"The requested resource {prefix}/{self._noun(kind)}/{key} was not found")

    def list_items(self, kind: ItemKind, device: str | None = None) -> list[tuple[int, Record]]:
        """All configs or secrets of the account (``device`` None) or of one device."""
        with self._lock:
            scope = self._scope(device)
            rows = self._db.execute(
                "SELECT seq, key, value, date_changed FROM items WHERE kind = ? AND scope = ? ORDER BY seq",
                (kind, scope),
            ).fetchall()
            return [(r[0], self._item_record(kind, scope, r[1], r[2], r[3])) for r in rows]

    def create_item(
        self, kind: ItemKind, key: str | None, value: str | None, device: str | None = None
    ) -> Record:
        """Create a config or secret; keys are unique per account, and per device for device items."""
        key = _require("Key", key, allow_empty=False)
        value = _require("Value", value)
        _limit("Key", key, KEY_MAX)
        _limit("Value", value, VALUE_MAX)
        with self._lock, self._tx():
            scope = self._scope(device)
            now = self._now()
            try:
                self._db.execute(
                    "INSERT INTO items (kind, scope, key, value, date_changed) VALUES (?, ?, ?, ?, ?)",
                    (kind, scope, key, value, now),
                )
            except sqlite3.IntegrityError:
                owner = f"Device {scope}" if scope else "this Account"
                raise Conflict(f"A {kind.capitalize()} with Key {key} already exists for {owner}") from None
            return self._item_record(kind, scope, key, value, now)

    def get_item(self, kind: ItemKind, key: str, device: str | None = None) -> Record:
        """One config or secret (a secret without its value)."""
        with self._lock:
            scope = self._scope(device)
            row = self._db.execute(
                "SELECT value, date_changed FROM items WHERE kind = ? AND scope = ? AND key = ?",
                (kind, scope, key),
            ).fetchone()
            if row is None:
                raise self._missing(kind, scope, key)
            return self._item_record(kind, scope, key, row[0], row[1])

    def update_item(self, kind: ItemKind, key: str, value: str | None, device: str | None = None) -> Record:
        """Replace a value; date_updated (configs) or date_rotated (secrets) moves forward."""
        value = _require("Value", value)
        _limit("Value", value, VALUE_MAX)
        with self._lock, self._tx():
            scope = self._scope(device)
            row = self._db.execute(
                "SELECT date_changed FROM items WHERE kind = ? AND scope = ? AND key = ?",
                (kind, scope, key),
            ).fetchone()
            if row is None:
                raise self._missing(kind, scope, key)
            now = self._now()
            self._db.execute(
                "UPDATE items SET value = ?, date_changed = ? WHERE kind = ? AND scope = ? AND key = ?",
                (value, now, kind, scope, key),
            )
            return self._item_record(kind, scope, key, value, now)

    def delete_item(self, kind: ItemKind, key: str, device: str | None = None) -> None:
        """Delete a config or secret; NotFound if it does not exist."""
        with self._lock, self._tx():
            scope = self._scope(device)
            cur = self._db.execute(
                "DELETE FROM items WHERE kind = ? AND scope = ? AND key = ?", (kind, scope, key)
            )
            if cur.rowcount == 0:
                raise self._missing(kind, scope, key)

    def secret_value_for_device(self, key: str, device: str | None = None) -> str:
        """What a device would read: the one place a secret value leaves the store.

        No HTTP endpoint calls this; it exists so in-process tests can check that a rotation
        really changed the stored value.
        """
        with self._lock:
            scope = self._scope(device)
            row = self._db.execute(
                "SELECT value FROM items WHERE kind = 'secret' AND scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is None:
                raise self._missing("secret", scope, key)
            return str(row[0])

    # -- API keys ---------------------------------------------------------------------------

    @staticmethod
    def _key_record(row: Sequence[Any]) -> Record:
        _seq, sid, name, key_type, policy, created, updated = row
        return {
            "sid": sid,
            "friendly_name": name,
            "key_type": key_type,
            "policy": json.loads(policy) if policy else None,
            "flags": list(KEY_FLAGS),
            "date_created": created,
            "date_updated": updated,
        }

    _KEY_COLS = "seq, sid, friendly_name, key_type, policy, date_created, date_updated"

    def _key_row(self, sid: str) -> Sequence[Any]:
        row = self._db.execute(f"SELECT {self._KEY_COLS} FROM api_keys WHERE sid = ?", (sid,)).fetchone()
        if row is None:
            raise NotFound(f"The requested resource /Keys/{sid} was not found")
        return row

    def create_key(
        self,
        friendly_name: str | None = None,
        *,
        key_type: Literal["standard", "restricted"] = "standard",
        policy: dict[str, Any] | None = None,
        sid: str | None = None,
    ) -> tuple[Record, str]:
        """Create an API key; returns ``(record, secret)``. The secret is never available again.

        ``sid`` is for seeding a fixed fleet (no endpoint passes it); by default a random one.
        """
        _limit("FriendlyName", friendly_name, FRIENDLY_NAME_MAX)
        if sid is not None and not KEY_SID_RE.match(sid):
            raise ValueError(f"API key SID {sid!r} must match ^SK[0-9a-fA-F]{{32}}$")
        if key_type == "restricted" and policy is None:
            raise InvalidParameter("Missing required parameter Policy in the post body")
        if key_type == "standard" and policy is not None:
            raise InvalidParameter("Policy is only allowed with KeyType=restricted")
        sid = sid or "SK" + uuid.uuid4().hex
        secret = secrets.token_hex(16)
        with self._lock, self._tx():
            now = self._now()
            self._db.execute(
                "INSERT INTO api_keys (sid, friendly_name, secret_sha256, key_type, policy, date_created,"
                " date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    friendly_name,
                    _hash_secret(secret),
                    key_type,
                    json.dumps(policy) if policy is not None else None,
                    now,
                    now,
                ),
            )
            return self._key_record(self._key_row(sid)), secret

    def list_keys(self) -> list[tuple[int, Record]]:
        """All API keys as ``(cursor, record)`` in creation order, without secrets."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._KEY_COLS} FROM api_keys ORDER BY seq").fetchall()
            return [(row[0], self._key_record(row)) for row in rows]

    def get_key(self, sid: str) -> Record:
        """One API key, without its secret."""
        with self._lock:
            return self._key_record(self._key_row(sid))

    def update_key(
        self, sid: str, *, friendly_name: str | None = None, policy: dict[str, Any] | None = None
    ) -> Record:
        """Rename a key or (restricted keys only) replace its policy; date_updated moves forward."""
        _limit("FriendlyName", friendly_name, FRIENDLY_NAME_MAX)
        with self._lock, self._tx():
            row = self._key_row(sid)
            if policy is not None and row[3] != "restricted":
                raise InvalidParameter("Policy is only allowed with KeyType=restricted")
            now = self._now()
            if friendly_name is not None:
                self._db.execute("UPDATE api_keys SET friendly_name = ? WHERE sid = ?", (friendly_name, sid))
            if policy is not None:
                self._db.execute("UPDATE api_keys SET policy = ? WHERE sid = ?", (json.dumps(policy), sid))
            self._db.execute("UPDATE api_keys SET date_updated = ? WHERE sid = ?", (now, sid))
            return self._key_record(self._key_row(sid))

    def delete_key(self, sid: str) -> None:
        """Delete (and so revoke) an API key at once."""
        with self._lock, self._tx():
            if self._db.execute("DELETE FROM api_keys WHERE sid = ?", (sid,)).rowcount == 0:
                raise NotFound(f"The requested resource /Keys/{sid} was not found")


def policy_allows(allow: Iterable[str], permission: str) -> bool:
    """True if a restricted key's ``allow`` list grants ``permission``.

    Entries match exactly, or as a prefix when they end in ``*`` (``/twilio/messaging/*``).
    """
    for entry in allow:
        if entry == permission or (entry.endswith("*") and permission.startswith(entry[:-1])):
            return True
    return False

"""The sharded layout of an inventory: one Pulumi project, several stacks, each owning its own devices.

One stack of 50,000 resources is more than Pulumi carries well (every changing step rewrites the
whole checkpoint twice; see README "Very large fleets"), so ``inventory --devices-per-stack N``
writes one project whose stacks split the fleet: ``account`` holds the account-level Configs and
Secrets, and ``shard-000``, ``shard-001``... hold at most N devices each, every device in exactly
one of them. The stacks run side by side under an engine that already exists (the CI matrix this
module writes, Pulumi Deployments, the Automation API), never a scheduler of ours.

Where the assignment is remembered: in the stack files themselves (``stacks/<stack>.json``), which
the project commits and the program reads. A separate ``device -> shard`` map would be a second
copy of the same fact that could disagree with what each stack declares; a hash of the SID would
need no memory but gives uneven shards and moves most devices whenever the shard count changes.
With the files as the one record, a re-run keeps every device where it was, puts new devices in
the shards that have room (then in new shards), and only ``--reshard`` moves anything, printing
the ``pulumi state move`` lines that carry the moved resources over without touching Twilio.
``--split-stack`` does the same for a project that so far deployed everything from one stack.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from microvisor_pulumi._version import __version__
from microvisor_pulumi.inventory import Inventory, render
from microvisor_pulumi.resources._schema import DEVICE_SID_RE

ACCOUNT_STACK = "account"
SHARD_PREFIX = "shard-"
STACKS_DIR = "stacks"
#: Written by ``--reshard`` and ``--split-stack``, removed by the move script once every move
#: succeeded: while it exists the program refuses to run, because a stack `up` before its moves
#: would delete from Twilio the items its devices just left.
PENDING_MOVES = "pending-moves.json"
MOVE_SCRIPT = "move-resources.sh"
WORKFLOW = ".github/workflows/pulumi-shards.yml"
#: GitHub Actions runs at most 256 jobs from one matrix.
MAX_MATRIX_JOBS = 256
FORMAT = 1
#: The dynamic resources' type tokens: what `pulumi state move` addresses them by.
TYPE_TOKENS = {
    "AccountConfig": "pulumi-python:dynamic/microvisor:AccountConfig",
    "AccountSecret": "pulumi-python:dynamic/microvisor:AccountSecret",
    "DeviceConfig": "pulumi-python:dynamic/microvisor:DeviceConfig",
    "DeviceSecret": "pulumi-python:dynamic/microvisor:DeviceSecret",
}
_SHARD_RE = re.compile(rf"{SHARD_PREFIX}(\d{{3,}})")
#: A stack name as `pulumi` takes it: ``stack``, ``org/stack`` or ``org/project/stack``.
_STACK_RE = re.compile(r"\A[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*){0,2}\Z")
#: A Secret's stack config name, as render.secret_entries makes them. The files are edited by hand
#: and their names reach shell commands (set-secrets.sh, the move script), so nothing else is read.
_CONFIG_NAME_RE = render.CONFIG_NAME_RE


class ShardError(ValueError):
    """A stack layout that would let two stacks own one device, or that does not fit together."""


def shard_name(index: int) -> str:
    return f"{SHARD_PREFIX}{index:03d}"


def _shard_index(name: str) -> int:
    match = _SHARD_RE.fullmatch(name)
    if not match:
        raise ShardError(f"stack file {name!r}: shard stacks are named {SHARD_PREFIX}NNN")
    return int(match.group(1))


# -- the stack files: reading them back, and the one-owner rule -------------------------------------


@dataclass(frozen=True)
class StackData:
    """What one stack declares: account items (the ``account`` stack) or devices (a shard)."""

    name: str
    account_sid: str
    account_configs: dict[str, str] = field(default_factory=dict)
    account_secrets: dict[str, str] = field(default_factory=dict)  # key -> stack config name
    #: SID -> {"name": unique name or None, "configs": {key: value}, "secrets": {key: config name}}
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        body: dict[str, Any] = {"format": FORMAT, "stack": self.name, "accountSid": self.account_sid}
        if self.name == ACCOUNT_STACK:
            body["accountConfigs"] = self.account_configs
            body["accountSecrets"] = self.account_secrets
        else:
            body["devices"] = self.devices
        return printable_json(body)


def printable_json(body: Any) -> str:
    """JSON of ``body`` whose every line is printable: readable non-ASCII text stays as it is, while
    what JSON leaves raw and a reviewer cannot see right (U+202E reorders a line in a diff, U+2028
    and NEL end lines for some readers, C1 controls) is written as a \\u escape."""
    text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False)
    return "".join(ch if ch.isprintable() or ch == "\n" else json.dumps(ch)[1:-1] for ch in text) + "\n"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys without a word: a device pasted twice into one
    # file, or one key twice in a device, must be refused like a device listed by two files.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ShardError(f"{key!r} appears twice in one object")
        seen[key] = value
    return seen


def _strings(value: Any, what: str, path: Path) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ShardError(f"{path}: {what} must be an object of strings")
    return value


def _config_names(value: Any, what: str, path: Path) -> dict[str, str]:
    names = _strings(value, what, path)
    for key, name in names.items():
        if not _CONFIG_NAME_RE.match(name):
            raise ShardError(
                f"{path}: {what}: {key!r} reads config {name!r}; a config name is letters, digits, "
                "'_', '.' and '-', not starting with '.' or '-'"
            )
    return names


def _parse(path: Path) -> StackData:
    try:
        body = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except ShardError as err:
        raise ShardError(f"{path}: {err}") from None
    except (OSError, ValueError) as err:
        raise ShardError(f"{path}: not a readable stack file ({err})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ShardError(f"{path}: not a stack file of format {FORMAT}")
    name = path.name[: -len(".json")]
    if body.get("stack") != name:
        raise ShardError(f"{path}: says it is stack {body.get('stack')!r}, but its file name says {name!r}")
    if not isinstance(body.get("accountSid"), str):
        raise ShardError(f"{path}: 'accountSid' is missing")
    if name == ACCOUNT_STACK:
        if "devices" in body:
            raise ShardError(f"{path}: the account stack owns no devices; move them to a shard")
        configs = _strings(body.get("accountConfigs"), "'accountConfigs'", path)
        secrets = _config_names(body.get("accountSecrets"), "'accountSecrets'", path)
        return StackData(name, body["accountSid"], configs, secrets)
    _shard_index(name)
    if "accountConfigs" in body or "accountSecrets" in body:
        raise ShardError(f"{path}: account-level items belong to stacks/{ACCOUNT_STACK}.json only")
    devices = body.get("devices")
    if not isinstance(devices, dict):
        raise ShardError(f"{path}: 'devices' must be an object of device SID -> items")
    for sid, device in devices.items():
        if not DEVICE_SID_RE.match(sid):
            # The providers also take a unique name there: one device under its SID in one file and
            # its name in another would have two owners that the check above cannot see.
            raise ShardError(
                f"{path}: {render.shown(sid)}: a device is listed by its SID (UV + 32 hex digits), "
                "never its unique name"
            )
        if not isinstance(device, dict):
            raise ShardError(f"{path}: device {sid} must be an object with 'configs' and 'secrets'")
        _strings(device.get("configs"), f"device {sid}'s 'configs'", path)
        _config_names(device.get("secrets"), f"device {sid}'s 'secrets'", path)
    return StackData(name, body["accountSid"], devices=devices)


def read_stacks(folder: Path) -> dict[str, StackData]:
    """Every stack file of a sharded project, checked so that no device has two owners.

    Raises :class:`ShardError` naming the device and both stacks when shard lists overlap, naming
    the file when it lists a device (or a key) twice, and when the files name different accounts.
    """
    stacks_dir = folder / STACKS_DIR
    stacks: dict[str, StackData] = {}
    for path in sorted(stacks_dir.glob("*.json")):
        if path.name == PENDING_MOVES:
            continue
        data = _parse(path)
        stacks[data.name] = data
    owner: dict[str, str] = {}
    accounts = {data.account_sid for data in stacks.values()}
    if len(accounts) > 1:
        raise ShardError(f"{stacks_dir}: stack files name different accounts: {', '.join(sorted(accounts))}")
    for data in stacks.values():
        for sid in data.devices:
            # By lower case: either case of hex digits names the same device.
            if sid.lower() in owner:
                first = owner[sid.lower()]
                raise ShardError(
                    f"device {sid} is listed by both stacks/{first}.json and stacks/{data.name}.json: "
                    "one device, one owner. Remove it from one of them (and `pulumi state move` its "
                    "resources if that stack already deployed them)."
                )
            owner[sid.lower()] = data.name
    # One name, one value: `pulumi config cp` of a name the destination already uses would replace
    # another Secret's value, and two Secrets reading one name would get the same value.
    reader: dict[str, str] = {}
    for data in stacks.values():
        names = [(f"account/{key}", n) for key, n in data.account_secrets.items()]
        for sid, device in data.devices.items():
            names += [(f"{sid}/{key}", n) for key, n in device["secrets"].items()]
        for item, name in names:
            if name in reader:
                raise ShardError(
                    f"config name {name!r} is read by both {reader[name]} and {item} "
                    f"(stacks/{data.name}.json): every Secret needs a config name of its own"
                )
            reader[name] = item
    return stacks


def load_stack(stack: str, folder: str | Path) -> StackData:
    """What the generated program calls: the stack's own data, after every check on the whole layout.

    Refuses to run while moves are pending, for a stack with no file (a mistyped ``-s`` would
    otherwise declare nothing, and `pulumi up` would delete every item the stack owns), and when
    any two stacks list the same device.
    """
    root = Path(folder)
    pending = root / STACKS_DIR / PENDING_MOVES
    if pending.exists():
        raise ShardError(
            f"{pending} exists: devices were re-sharded and their resources not yet moved. Run "
            f"{MOVE_SCRIPT} (it runs `pulumi state move` and removes that file) before any `pulumi up`."
        )
    stacks = read_stacks(root)
    if stack not in stacks:
        known = ", ".join(stacks) or "(none)"
        raise ShardError(f"stack {stack!r} has no stacks/{stack}.json; this project's stacks are: {known}")
    return stacks[stack]


# -- assignment ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """What leaves one stack's state for another's: a device's resources, or the account's."""

    owner: str  # a device SID, or ACCOUNT_STACK for the account-level items
    source: str
    dest: str
    resources: tuple[tuple[str, str], ...]  # (type token, resource name) in the source stack
    secrets: tuple[str, ...] = ()  # the stack config names its Secrets read their values from


def assign(
    device_sids: Iterable[str],
    previous: Mapping[str, Sequence[str]],
    devices_per_stack: int,
    *,
    reshard: bool = False,
) -> dict[str, list[str]]:
    """Shard -> devices. Without ``reshard`` a device in ``previous`` stays in its shard.

    New devices (by SID, which never changes, unlike a unique name) go to the lowest-numbered shards
    with room, then to new shards. With ``reshard``, the fleet needs ``ceil(devices / N)`` shards:
    shards past that are emptied, each kept shard keeps up to N of its devices, and the rest fill
    the kept shards' room, so a re-shard moves as few devices as it can. Shards are never renamed
    or dropped: an emptied shard keeps its (empty) file until its stack is removed by hand.
    """
    if devices_per_stack < 1:
        raise ShardError(f"--devices-per-stack must be at least 1, got {devices_per_stack}")
    present = set(device_sids)
    shards = {name: sorted(sid for sid in sids if sid in present) for name, sids in previous.items()}
    placed = {sid for sids in shards.values() for sid in sids}
    pool = sorted(present - placed)
    if reshard:
        wanted = max(1, math.ceil(len(present) / devices_per_stack))
        for name in sorted(shards, key=_shard_index):
            keep = devices_per_stack if _shard_index(name) < wanted else 0
            pool += shards[name][keep:]
            shards[name] = shards[name][:keep]
        pool.sort()
    index = 0
    while pool:
        name = shard_name(index)
        current = shards.setdefault(name, [])
        room = devices_per_stack - len(current)
        if room > 0:
            current.extend(pool[:room])
            current.sort()
            pool = pool[room:]
        index += 1
    return dict(sorted(shards.items(), key=lambda item: _shard_index(item[0])))


def _device_resources(sid: str, device: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    configs = [(TYPE_TOKENS["DeviceConfig"], f"{sid}/{key}") for key in device.get("configs", {})]
    secrets = [(TYPE_TOKENS["DeviceSecret"], f"{sid}/{key}") for key in device.get("secrets", {})]
    return tuple(configs + secrets)


def moves_between(old: Mapping[str, StackData], new: Mapping[str, list[str]]) -> tuple[Move, ...]:
    """Devices whose shard changed, with the resources their old stack declared (and so holds)."""
    owner = {sid: shard for shard, sids in new.items() for sid in sids}
    moves = []
    for name, data in old.items():
        for sid, device in data.devices.items():
            dest = owner.get(sid)
            if dest is not None and dest != name:
                secrets = tuple(device.get("secrets", {}).values())
                moves.append(Move(sid, name, dest, _device_resources(sid, device), secrets))
    return tuple(sorted(moves, key=lambda m: (m.source, m.dest, m.owner)))


def split_moves(stacks: Mapping[str, StackData], source: str) -> tuple[Move, ...]:
    """Everything of one stack that held the whole account, to the stacks of the sharded layout.

    The resource names are those the single-stack program gives (``account/<key>``,
    ``<SID>/<key>``), so the same URNs carry over. The moves are computed from this inventory, so
    the old stack should hold exactly what the account has (README: run the plain inventory and
    `up` first): `pulumi state move` only warns about a URN it lacks, but `pulumi config cp` of a
    Secret it never had fails.
    """
    account = stacks[ACCOUNT_STACK]
    resources = [(TYPE_TOKENS["AccountConfig"], f"account/{key}") for key in account.account_configs]
    resources += [(TYPE_TOKENS["AccountSecret"], f"account/{key}") for key in account.account_secrets]
    moves = [
        Move(ACCOUNT_STACK, source, ACCOUNT_STACK, tuple(resources), tuple(account.account_secrets.values()))
    ]
    for name, data in stacks.items():
        for sid, device in data.devices.items():
            secrets = tuple(device["secrets"].values())
            moves.append(Move(sid, source, name, _device_resources(sid, device), secrets))
    return tuple(moves)


def urn(stack: str, project: str, type_token: str, name: str) -> str:
    # A URN names the stack without its organisation (and project): `acme/dev` -> `dev`.
    return f"urn:pulumi:{stack.rsplit('/', 1)[-1]}::{project}::{type_token}::{name}"


def check_split_stack(stack: str, project: str | None = None) -> None:
    """--split-stack goes into every line of the move script and into the URNs: a stack name only."""
    if not _STACK_RE.match(stack):
        raise ShardError(
            f"--split-stack {stack!r}: not a stack name (letters, digits, '_', '.' and '-', as `stack`, "
            "`org/stack` or `org/project/stack`)"
        )
    parts = stack.split("/")
    if project is not None and len(parts) == 3 and parts[1] != project:
        raise ShardError(
            f"--split-stack {stack}: a stack name of project {parts[1]!r}, this program's is {project!r}"
        )


#: URNs per `pulumi state move`: one command per pair of stacks, cut to stay far below the
#: system's limit on a command line (a URN of ours is about 120 bytes).
URNS_PER_COMMAND = 500


def sh_word(text: str) -> str:
    """``text`` as one word of a POSIX shell command, on a printable line.

    A key may hold U+2028 or U+202E (the providers' check keeps them), and a URN carries the key:
    quoted as it is, the move script would hold a line a reviewer cannot read right. Such a word is
    spelled as ``"$(printf '...')"`` with those characters' UTF-8 bytes as octal escapes, which
    every POSIX printf decodes (the check refuses the line ends a command substitution would drop).
    """
    if text.isprintable():
        return shlex.quote(text)
    if text.endswith("\n"):
        raise ShardError(f"{text!r}: a shell word cannot end with a line end here")
    spelled = []
    for ch in text:
        if not ch.isprintable():
            spelled.append("".join(f"\\{byte:03o}" for byte in ch.encode("utf-8")))
        else:
            spelled.append({"%": "%%", "\\": "\\\\", "'": "'\\''"}.get(ch, ch))
    return "\"$(printf '" + "".join(spelled) + "')\""


def move_commands(moves: Sequence[Move], project: str, new_stacks: Iterable[str] = ()) -> list[str]:
    """The commands that carry ``moves`` over: new stacks, the Secrets' config, the resources.

    ``pulumi state move`` (CLI 3.124+) rewrites both stacks' state and calls no provider, so Twilio
    is not touched; its destination must exist (``pulumi stack init`` for a stack new to this
    layout), and a moved Secret reads its value from the destination stack's config, copied first
    with ``pulumi config cp``. A URN missing from the source only draws a warning.
    """
    q = sh_word  # stack names are checked (layout names, check_split_stack); quoted all the same
    lines = [f"pulumi stack init {q(name)}" for name in sorted(set(new_stacks) & {m.dest for m in moves})]
    pairs: dict[tuple[str, str], list[Move]] = {}
    for move in moves:
        pairs.setdefault((move.source, move.dest), []).append(move)
    for (source, dest), group in pairs.items():
        for move in group:
            lines += [
                f"pulumi config cp --stack {q(source)} --dest {q(dest)} {q(name)}" for name in move.secrets
            ]
        urns = [q(urn(source, project, t, n)) for move in group for t, n in move.resources]
        for start in range(0, len(urns), URNS_PER_COMMAND):
            chunk = " ".join(urns[start : start + URNS_PER_COMMAND])
            lines.append(f"pulumi state move --source {q(source)} --dest {q(dest)} --yes {chunk}")
    return lines


# -- writing the project ---------------------------------------------------------------------------


def missing_items(old: Mapping[str, StackData], inv: Inventory) -> list[str]:
    """What the stack files declare that this inventory did not list: each device gone, and each
    item gone from a device or the account that is still listed (escaped, for a message)."""
    by_sid = {d.sid: d for d in inv.devices}
    gone: list[str] = []
    for data in old.values():
        if data.name == ACCOUNT_STACK:
            configs, secrets = set(inv.account_configs), set(inv.account_secrets)
            gone += [f"account Config {render.shown(k)}" for k in data.account_configs if k not in configs]
            gone += [f"account Secret {render.shown(k)}" for k in data.account_secrets if k not in secrets]
            continue
        for sid, device in data.devices.items():
            listed = by_sid.get(sid)
            if listed is None:
                items = len(device["configs"]) + len(device["secrets"])
                gone.append(f"device {sid} ({data.name}) and its {items} items")
                continue
            gone += [f"{sid} Config {render.shown(k)}" for k in device["configs"] if k not in listed.configs]
            gone += [f"{sid} Secret {render.shown(k)}" for k in device["secrets"] if k not in listed.secrets]
    return gone


def kept_secret_names(
    inv: Inventory, old: Mapping[str, StackData], program: str | None = None
) -> dict[tuple[str | None, str], str]:
    """(device SID or None, key) -> the stack config name its Secret reads, kept from the stack files
    (or, for --split-stack, from the single-stack ``program`` being replaced).

    A name is made from the device's unique name, so a device renamed on Twilio would get a new
    one, and two devices that traded names would trade config names: each stack config still holds
    the values set for the old names, and the next `up` would write one device's Secrets onto the
    other (and --split-stack would copy each one's value from the other's name). So a Secret already
    named keeps its name; only new Secrets get new names, never one already in use.
    """
    kept: dict[tuple[str | None, str], str] = render.previous_secret_names(program) if program else {}
    for data in old.values():
        kept.update({(None, key): name for key, name in data.account_secrets.items()})
        for sid, device in data.devices.items():
            kept.update({(sid, key): name for key, name in device["secrets"].items()})
    named = replace(inv, kept_secret_names=kept)
    return {(e.device_sid, e.key): e.config_name for e in render.secret_entries(named)}


def stack_data(
    inv: Inventory, shards: Mapping[str, Sequence[str]], secret_names: Mapping[tuple[str | None, str], str]
) -> dict[str, StackData]:
    """The ``account`` stack and every shard's, from the inventory and the assignment."""
    by_sid = {d.sid: d for d in inv.devices}
    stacks = {
        ACCOUNT_STACK: StackData(
            ACCOUNT_STACK,
            inv.account_sid,
            dict(inv.account_configs),
            {key: secret_names[(None, key)] for key in inv.account_secrets if (None, key) in secret_names},
        )
    }
    for name, sids in shards.items():
        devices = {}
        for sid in sids:
            d = by_sid[sid]
            devices[sid] = {
                "name": d.unique_name,
                "configs": dict(d.configs),
                # Only Secrets that have a config name: render.secret_entries decides which the
                # program declares (and names), for the single-stack layout and this one alike.
                "secrets": {key: secret_names[(sid, key)] for key in d.secrets if (sid, key) in secret_names},
            }
        stacks[name] = StackData(name, inv.account_sid, devices=devices)
    return stacks


PROGRAM = '''"""Adopts the Microvisor Configs and Secrets of a Twilio account, one stack per shard.

Account: {account_sid}
Generated by `microvisor-pulumi inventory --devices-per-stack` (microvisor-pulumi {version}).
Each stack declares what its own file in stacks/ lists: stacks/account.json the account-level
items, stacks/shard-NNN.json its devices. The program refuses to run when two files list one
device, when the stack has no file, or with credentials of another account. Every resource says
overwrite=True: the first `pulumi up` takes over the item that already exists. Resources are named
<device SID>/<key> and account/<key>.
"""

from pathlib import Path

import pulumi
from microvisor_pulumi import AccountConfig, AccountSecret, DeviceConfig, DeviceSecret
from microvisor_pulumi.inventory.guard import check_account
from microvisor_pulumi.inventory.shards import load_stack

config = pulumi.Config()
stack = load_stack(pulumi.get_stack(), Path(__file__).resolve().parent)
check_account(stack.account_sid)

{declarations}
'''


def render_program(account_sid: str) -> str:
    loops = render.declarations("stack.account_configs", "stack.account_secrets", "stack.devices")
    return PROGRAM.format(account_sid=account_sid, version=__version__, declarations="\n".join(loops))


def render_secrets_script(stacks: Mapping[str, StackData], api_key: str | None) -> str:
    """``set-secrets.sh``: each stack's credentials and Secret values, each prompting for its value."""
    lines = [
        "#!/bin/sh",
        "# Twilio never returns a Secret's value, so each stack reads its Secrets from its own",
        "# config. Run these before the first `pulumi up` of each stack; each command prompts for",
        "# the value, or pipe it in:  pulumi config set --stack S --secret NAME < file.pem",
        "# In CI the credentials can come from TWILIO_* variables instead (see the workflow).",
        "set -e",
    ]
    for name, data in stacks.items():
        lines += ["", f"pulumi stack select --create {name}"]
        lines.append(f"pulumi config set --stack {name} twilio:accountSid {data.account_sid}")
        if api_key:
            lines.append(f"pulumi config set --stack {name} twilio:apiKey {api_key}")
            lines.append(f"pulumi config set --stack {name} --secret twilio:apiSecret")
        else:
            lines.append(f"pulumi config set --stack {name} --secret twilio:authToken")
        names = list(data.account_secrets.values())
        for device in data.devices.values():
            names += list(device["secrets"].values())
        lines += [
            f"pulumi config set --stack {name} --secret {shlex.quote(config_name)}" for config_name in names
        ]
    return "\n".join(lines) + "\n"


def render_move_script(commands: Sequence[str]) -> str:
    return (
        "\n".join(
            [
                "#!/bin/sh",
                "# Written by `microvisor-pulumi inventory` (--reshard or --split-stack): moves",
                "# resources between stacks. Nothing here calls Twilio. Run it from the project folder",
                "# before any `pulumi up`; it removes stacks/pending-moves.json when every command",
                "# succeeded. It stops at the first failure: the commands above it are done, so run",
                "# the rest by hand. If the source stacks were never deployed there is nothing to move:",
                f"# delete {STACKS_DIR}/{PENDING_MOVES} instead.",
                "set -e",
                "# The project is this script's folder, wherever it is run from.",
                'cd "$(dirname "$0")"',
                *commands,
                f"rm {STACKS_DIR}/{PENDING_MOVES}",
            ]
        )
        + "\n"
    )


def render_workflow(stacks: Sequence[str], max_parallel: int, max_concurrency: int) -> str:
    """A GitHub Actions workflow: one job per stack, ``max_parallel`` at once.

    What the account sees at once is ``max_parallel x max_concurrency`` requests at most: each job
    is one `pulumi up`, whose provider host lets out at most ``twilio:maxConcurrency`` requests
    (``TWILIO_MAX_CONCURRENCY`` here) and absorbs 429s with its own limiter.
    """
    if len(stacks) > MAX_MATRIX_JOBS:
        raise ShardError(
            f"{len(stacks)} stacks is more than the {MAX_MATRIX_JOBS} jobs GitHub Actions runs from one "
            "matrix: choose a larger --devices-per-stack"
        )
    if max_parallel < 1 or max_concurrency < 1:
        raise ShardError("--ci-max-parallel and --max-concurrency must be at least 1")
    matrix = "\n".join(f"          - {name}" for name in stacks)
    return f"""# Written by `microvisor-pulumi inventory --devices-per-stack` ({__version__}).
# One job per stack; at most {max_parallel} run at once, each letting out at most {max_concurrency}
# requests: the account sees at most {max_parallel * max_concurrency} concurrent requests from this
# workflow.
# Keep max-parallel x TWILIO_MAX_CONCURRENCY under the account's concurrent-request limit
# (README "Very large fleets"). Move this file to the repository's .github/workflows/ and set
# working-directory below if the project is not at the repository's root.
name: pulumi up (shards)

on:
  workflow_dispatch:
  push:
    branches: [main]

# One run at a time: a second `up` of a stack while one runs fails on the stack's lock
# ("another update is currently in progress"), and a later run should see what the earlier did.
concurrency:
  group: pulumi-shards
  cancel-in-progress: false

permissions:
  contents: read

jobs:
  up:
    name: up ${{{{ matrix.stack }}}}
    runs-on: ubuntu-latest
    timeout-minutes: 120
    strategy:
      fail-fast: false
      max-parallel: {max_parallel}
      matrix:
        stack:
{matrix}
    defaults:
      run:
        working-directory: .
    env:
      TWILIO_ACCOUNT_SID: ${{{{ vars.TWILIO_ACCOUNT_SID }}}}
      TWILIO_MAX_CONCURRENCY: "{max_concurrency}"
      STACK: ${{{{ matrix.stack }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # Installs the CLI only (no command given).
      - uses: pulumi/actions@v6
      # The program's virtualenv and plugins, before `up` starts (each job is its own machine).
      - name: pulumi install
        run: pulumi install
      # The secrets go to this step only: not to the actions above, nor to `pulumi install`,
      # which runs the build code of every package the program requires.
      - name: pulumi up
        env:
          # Pulumi Cloud; for a bucket backend set PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE.
          PULUMI_ACCESS_TOKEN: ${{{{ secrets.PULUMI_ACCESS_TOKEN }}}}
          TWILIO_AUTH_TOKEN: ${{{{ secrets.TWILIO_AUTH_TOKEN }}}}
        run: pulumi up --yes --skip-preview --stack "$STACK" --parallel {max_concurrency}
"""


@dataclass(frozen=True)
class Written:
    files: dict[str, Path]
    stacks: dict[str, StackData]
    moves: tuple[Move, ...]
    move_commands: tuple[str, ...]


def write_sharded_project(
    inv: Inventory,
    out: Path,
    project: str,
    devices_per_stack: int,
    *,
    reshard: bool = False,
    split_stack: str | None = None,
    api_key: str | None = None,
    force: bool = False,
    drop_missing: bool = False,
    ci_max_parallel: int = 4,
    max_concurrency: int = 16,
) -> Written:
    """Write (or update) the sharded project in ``out``, keeping every device in its shard.

    A folder that already has ``stacks/`` is the same project run again: its stack files are the
    assignment read back. A folder with other project files is refused unless ``force``, or unless
    ``split_stack`` names the one stack its program deployed: then the program is replaced and
    everything that stack holds is moved to the new stacks.
    """
    stacks_dir = out / STACKS_DIR
    old = read_stacks(out) if stacks_dir.is_dir() else {}
    if (stacks_dir / PENDING_MOVES).exists():
        raise ShardError(
            f"{stacks_dir / PENDING_MOVES} exists: run {MOVE_SCRIPT} first, then inventory again"
        )
    if old and next(iter(old.values())).account_sid != inv.account_sid:
        raise ShardError(
            f"{out} holds the stacks of account {next(iter(old.values())).account_sid}, "
            f"not {inv.account_sid}: choose another --out"
        )
    if split_stack is not None and old:
        raise ShardError(f"{out} is already sharded: --split-stack is for a project of one stack")
    if split_stack is not None:
        check_split_stack(split_stack, project)
    if not old and force and split_stack is None:
        refuse_single_stack_program(out)
    if not old and not force and split_stack is None:
        taken = [n for n in ("Pulumi.yaml", "__main__.py", render.SECRETS_FILE) if (out / n).exists()]
        if taken:
            raise FileExistsError(
                f"{out} already holds {', '.join(taken)}: choose another --out, or pass --force"
            )
    gone = missing_items(old, inv)
    if gone and not drop_missing:
        # The files are the record of what the stacks own: an item they declare and the listing
        # lacks would be deleted from Twilio by the next `up`. The listing may be what is wrong (a
        # broken or hostile --endpoint, a device out of reach): dropping needs the operator's word.
        shown = "\n  ".join(gone[:20]) + (f"\n  ... and {len(gone) - 20} more" if len(gone) > 20 else "")
        raise ShardError(
            f"the stack files declare {len(gone)} things this read of the account did not list:\n  {shown}\n"
            "The next `pulumi up` of their stacks would delete them from Twilio. If they are gone (or "
            "should go), pass --drop-missing; for a device no longer on the account, `pulumi state "
            "delete` its resources after that `up` fails. Nothing was written."
        )
    previous = {name: list(data.devices) for name, data in old.items() if name != ACCOUNT_STACK}
    shards = assign((d.sid for d in inv.devices), previous, devices_per_stack, reshard=reshard)
    program = (out / "__main__.py").read_text(encoding="utf-8", errors="replace") if split_stack else None
    secret_names = kept_secret_names(inv, old, program)
    stacks = stack_data(inv, shards, secret_names)
    if split_stack is not None:
        moves = split_moves(stacks, split_stack)
    else:
        moves = moves_between(old, shards) if reshard else ()
    commands = tuple(move_commands(moves, project, set(stacks) - set(old)))
    workflow = render_workflow(list(stacks), ci_max_parallel, max_concurrency)

    files: dict[str, str] = {
        "Pulumi.yaml": render.render_pulumi_yaml(project, inv.account_sid),
        "__main__.py": render_program(inv.account_sid),
        "requirements.txt": render.render_requirements(),
        "ruff.toml": render.render_ruff_toml(),
        render.SECRETS_FILE: render_secrets_script(stacks, api_key),
        WORKFLOW: workflow,
        **{f"{STACKS_DIR}/{name}.json": data.to_json() for name, data in stacks.items()},
    }
    if commands:
        files[MOVE_SCRIPT] = render_move_script(commands)
        pending = [{"owner": m.owner, "source": m.source, "dest": m.dest} for m in moves]
        files[f"{STACKS_DIR}/{PENDING_MOVES}"] = json.dumps({"moves": pending}, indent=2) + "\n"
    written = {}
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written[name] = path
    for name in (render.SECRETS_FILE, MOVE_SCRIPT):
        if name in written:
            written[name].chmod(0o755)
    return Written(written, stacks, moves, commands)


# -- the command line (kept here so that cli.py only gains two calls) -------------------------------


def add_shard_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "sharded layout",
        "one project with an `account` stack and shard stacks of at most N devices each, run side by "
        "side (README: Very large fleets)",
    )
    group.add_argument(
        "--devices-per-stack",
        type=int,
        metavar="N",
        help="write the sharded layout; a re-run keeps every device in its shard",
    )
    group.add_argument(
        "--reshard",
        action="store_true",
        help="re-balance the shards to --devices-per-stack, writing the `pulumi state move` commands",
    )
    group.add_argument(
        "--split-stack",
        metavar="STACK",
        help="the one stack that deployed this folder's single-stack program: replace the program "
        "with the sharded layout and write the `pulumi state move` commands out of that stack",
    )
    group.add_argument(
        "--drop-missing",
        action="store_true",
        help="let a re-run drop from the stack files the devices and items the account no longer "
        "lists (the next `up` deletes them from Twilio); without it such a re-run is refused",
    )
    group.add_argument(
        "--ci-max-parallel",
        type=int,
        default=4,
        help="jobs the generated workflow runs at once (default: %(default)s)",
    )
    group.add_argument(
        "--max-concurrency",
        type=int,
        default=16,
        help="TWILIO_MAX_CONCURRENCY of each job (default: %(default)s)",
    )


def refuse_sharded_folder(out: Path) -> None:
    """The single-stack program must not replace a sharded one, even with --force: every stack would
    then declare the whole account, adopting (overwrite=True) what the other stacks own."""
    if (out / STACKS_DIR).is_dir():
        raise ShardError(
            f"{out} holds a sharded project ({STACKS_DIR}/): re-run it with --devices-per-stack; the "
            "single-stack program would make every stack declare the whole account"
        )


def refuse_single_stack_program(out: Path) -> None:
    """The sharded layout must not replace the single-stack program without moving what its stack
    holds, even with --force: that stack would keep every resource in its state (a `pulumi destroy`
    of it deletes them from Twilio without running any program) while the shards adopt the same items."""
    program = out / "__main__.py"
    try:
        text = program.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    if render.SINGLE_STACK_MARK in text:
        raise ShardError(
            f"{program} is the single-stack program of `microvisor-pulumi inventory`: if a stack "
            "deployed it, pass --split-stack STACK to move what that stack holds to the shards; if none "
            "did, delete it first"
        )


def check_shard_arguments(args: argparse.Namespace, out: Path, project: str | None = None) -> None:
    """The sharding flags and folder, checked before the account is read (which can take minutes)."""
    if args.devices_per_stack is None:
        if args.reshard or args.split_stack or args.drop_missing:
            flag = "--reshard" if args.reshard else "--split-stack" if args.split_stack else "--drop-missing"
            raise ShardError(f"{flag} needs --devices-per-stack (the shard size)")
        refuse_sharded_folder(out)
        return
    if args.force and args.split_stack is None and not (out / STACKS_DIR).is_dir():
        refuse_single_stack_program(out)  # without --force, any existing program is refused anyway
    if args.split_stack is not None:
        if args.reshard:
            raise ShardError("--split-stack and --reshard do not go together: split first, re-shard later")
        check_split_stack(args.split_stack, project)
        bare = args.split_stack.rsplit("/", 1)[-1]
        if bare == ACCOUNT_STACK or _SHARD_RE.fullmatch(bare):
            raise ShardError(
                f"--split-stack {args.split_stack}: that name is one of the sharded layout's own stacks"
            )
        if (out / STACKS_DIR).is_dir():
            raise ShardError(f"{out} is already sharded: --split-stack is for a project of one stack")
        if not (out / "__main__.py").exists():
            raise ShardError(f"--split-stack: {out} holds no program whose stack could be split")
    for flag, value in (
        ("--devices-per-stack", args.devices_per_stack),
        ("--ci-max-parallel", args.ci_max_parallel),
        ("--max-concurrency", args.max_concurrency),
    ):
        if value < 1:
            raise ShardError(f"{flag} must be at least 1, got {value}")
    pending = out / STACKS_DIR / PENDING_MOVES
    if pending.exists():
        raise ShardError(f"{pending} exists: run {MOVE_SCRIPT} first, then inventory again")
    if (out / STACKS_DIR).is_dir():
        read_stacks(out)  # an overlapping or broken layout is refused now, not after the read


def report_sharded(
    inv: Inventory,
    out: Path,
    project: str,
    args: argparse.Namespace,
    api_key: str | None,
    say: Callable[..., None],
    stderr: TextIO,
) -> int:
    """Write the sharded project and tell what was written, and what must be moved before any up."""
    written = write_sharded_project(
        inv,
        out,
        project,
        args.devices_per_stack,
        reshard=args.reshard,
        split_stack=args.split_stack,
        api_key=api_key,
        force=args.force,
        drop_missing=args.drop_missing,
        ci_max_parallel=args.ci_max_parallel,
        max_concurrency=args.max_concurrency,
    )
    shards = [s for s in written.stacks.values() if s.name != ACCOUNT_STACK]
    biggest = max((len(s.devices) for s in shards), default=0)
    say(
        f"Read {len(inv.devices)} devices and {inv.resource_count} items; wrote stack files for "
        f"`{ACCOUNT_STACK}` and {len(shards)} shards of at most {biggest} devices to "
        f"{out / STACKS_DIR}, and the CI matrix to {written.files[WORKFLOW]}.",
        stderr,
    )
    if written.moves:
        what = (
            f"Splitting stack {args.split_stack} moves everything it holds"
            if args.split_stack
            else f"Re-sharding moved {len(written.moves)} devices"
        )
        say(
            f"{what}. Before any `pulumi up`, carry the resources over (also in "
            f"{written.files[MOVE_SCRIPT]}; nothing here calls Twilio):"
        )
        say("\n".join(written.move_commands))
    elif args.reshard:
        say("Re-sharding moved no device.", stderr)
    say(f"Before the first `pulumi up` of each stack, set its secrets: {written.files[render.SECRETS_FILE]}")
    return 0

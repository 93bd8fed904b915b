"""Write the Pulumi project that adopts an :class:`Inventory`: Pulumi.yaml, __main__.py, secrets list.

The program is written already in ``ruff format`` style (double quotes unless a value holds more
double than single quotes, a magic trailing comma on every multi-line call and literal) so that
``ruff check`` and ``ruff format --check`` pass with the ``ruff.toml`` written beside it, whose
line length of 88 the program's own lines keep to (a long Config value is written whole).

Everything read from the account is remote text, written escaped: keys, values and names as string
literals, and in comments too (a comment ends at a newline, and Python also ends a line at a lone
``\r``). SIDs are checked when read, and escaped all the same where they are written. Every file is
finally checked to hold plain text only (:func:`plain_text`), so no control, line-separator or
bidi character from the account can reach it whatever path it took.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from microvisor_pulumi._version import __version__
from microvisor_pulumi.inventory import Inventory, Skipped
from microvisor_pulumi.resources._schema import API_KEY_SID_RE, check_account_sid

#: Above this many resources the program is a table of devices and items plus a loop: up to it
#: one call per resource reads well and each can be edited alone; beyond it the calls repeat the same
#: six lines per item and the table says the same in one line per item.
TABLE_THRESHOLD = 25
LINE_LENGTH = 88
LAYOUTS = ("auto", "calls", "table")
SECRETS_FILE = "set-secrets.sh"
_INDENT = "    "


@dataclass(frozen=True)
class SecretEntry:
    """One Secret to set in the stack config: where it lives and the config name the program reads."""

    device_sid: str | None
    device_name: str | None
    key: str
    config_name: str


def py_str(text: str) -> str:
    """A Python string literal for ``text`` in ruff's style: double quotes unless more escapes result."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = [quote]
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


#: How much of a refused key or SID a comment or warning shows (a broken one may be any length).
SHOWN_MAX = 80


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """``text`` quoted and escaped as a Python literal, for a comment or a message; cut at ``limit``."""
    if len(text) <= limit:
        return py_str(text)
    return f"{py_str(text[:limit])}... ({len(text)} characters)"


def bare(text: str) -> str:
    """A SID as is when it is letters and digits only (as every valid one is), else :func:`shown`."""
    return text if re.fullmatch(r"[A-Za-z0-9]+", text) else shown(text)


def plain_text(text: str, what: str) -> str:
    """``text`` unchanged if every line is printable; else a ValueError (an escaping bug, caught
    before the file is written rather than left to run at `pulumi up`)."""
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.isprintable():
            raise ValueError(f"{what} line {n} holds an unescaped control character; nothing written")
    return text


def _account_sid(account_sid: str) -> str:
    # The user's own, not remote text; still, only a SID may go into the docstring and the scripts.
    problem = check_account_sid(account_sid)
    if problem:
        raise ValueError(f"account SID {problem}")
    return account_sid


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def secret_entries(inv: Inventory) -> list[SecretEntry]:
    """Every Secret with a stable, readable stack-config name (``account-<key>``, ``<device>-<key>``).

    A device is named by its unique name when it has one, else by SID. Names that would collide
    after slugging get ``-2``, ``-3``... in inventory order, which is sorted, so reruns agree.
    """
    raw: list[tuple[str | None, str | None, str, str]] = [
        (None, None, key, f"account-{_slug(key) or 'secret'}") for key in inv.account_secrets
    ]
    for device in inv.devices:
        label = _slug(device.unique_name or "") or _slug(device.sid)
        raw.extend(
            (device.sid, device.unique_name, key, f"{label}-{_slug(key) or 'secret'}")
            for key in device.secrets
        )
    used: set[str] = set()
    entries = []
    for sid, name, key, base in raw:
        config_name, n = base, 1
        while config_name in used:
            n += 1
            config_name = f"{base}-{n}"
        used.add(config_name)
        entries.append(SecretEntry(sid, name, key, config_name))
    return entries


def choose_layout(inv: Inventory, layout: str = "auto") -> str:
    """``calls`` or ``table``; ``auto`` picks the table above :data:`TABLE_THRESHOLD` resources."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "auto":
        return "table" if inv.resource_count > TABLE_THRESHOLD else "calls"
    return layout


def _call(cls: str, name: str, args: Iterable[tuple[str, str]], indent: str = "") -> list[str]:
    body = [f"{indent}{_INDENT}{py_str(name)},"]
    body += [f"{indent}{_INDENT}{arg}={value}," for arg, value in args]
    return [f"{indent}{cls}(", *body, f"{indent})"]


def _dict(entries: Iterable[tuple[str, str]], indent: str) -> list[str]:
    """The lines of a dict literal's body (``"key": value,``), one entry per line."""
    return [f"{indent}{py_str(k)}: {v}," for k, v in entries]


def _device_comment(sid: str, name: str | None) -> str:
    return f"# Device {bare(sid)} ({py_str(name)})" if name else f"# Device {bare(sid)} (no unique name)"


def _api_key_comments(inv: Inventory) -> list[str]:
    lines = [
        "# API keys on this account, listed but not adopted: Twilio shows a key's secret once,",
        "# when the key is created, so Pulumi could never hold it. Keep using them as they",
        "# are, or declare a new ApiKey (its secret becomes a stack output) and retire the old.",
    ]
    if not inv.api_keys:
        return [*lines, "#   (none)"]
    for key in inv.api_keys:
        name = py_str(key.friendly_name) if key.friendly_name else "(no friendly name)"
        lines.append(f"#   {bare(key.sid)} {name}")
    return lines


def skipped_lines(inv: Inventory) -> list[str]:
    """One line per record left out, ``<where>: <the rule it breaks>``, escaped (comments, stderr)."""
    return [f"{_skipped_where(s)}: {_comment_text(s.reason)}" for s in inv.skipped]


def _skipped_where(item: Skipped) -> str:
    return f"{bare(item.device_sid)}/{shown(item.ident)}" if item.device_sid else shown(item.ident)


def _comment_text(text: str) -> str:
    return text if text.isprintable() else shown(text)


def _skipped_comments(inv: Inventory) -> list[str]:
    if not inv.skipped:
        return []
    lines = [
        "",
        "# Left out: Twilio lists these, but the provider's check refuses them, so declaring one",
        "# would stop every preview. They stay in Twilio as they are. To manage one, fix it there",
        "# (a key cannot be renamed: create the item anew under a valid key) and rerun this.",
    ]
    return lines + [f"#   {line}" for line in skipped_lines(inv)]


def render_program(inv: Inventory, layout: str = "auto") -> str:
    """The program's ``__main__.py``."""
    layout = choose_layout(inv, layout)
    secrets = {(e.device_sid, e.key): e.config_name for e in secret_entries(inv)}
    kinds = [
        name
        for name, used in (
            ("AccountConfig", inv.account_configs),
            ("AccountSecret", inv.account_secrets),
            ("DeviceConfig", any(d.configs for d in inv.devices)),
            ("DeviceSecret", any(d.secrets for d in inv.devices)),
        )
        if used or layout == "table"
    ]
    lines = [
        '"""Adopts the Microvisor Configs and Secrets of a Twilio account.',
        "",
        f"Account: {_account_sid(inv.account_sid)}",
        f"Generated by `microvisor-pulumi inventory` (microvisor-pulumi {__version__}). Every",
        "resource says overwrite=True: the first `pulumi up` takes over the item that already",
        "exists and sets the value declared here (a Config keeps the value read from Twilio; a",
        f"Secret is written once with the value set in the stack config, see {SECRETS_FILE}).",
        "Resources are named <device SID>/<key> and account/<key>: a SID never changes.",
        '"""',
        "",
    ]
    # `pulumi` is only used for the stack config: without Secrets, ruff would flag the import.
    uses_config = bool(secrets) or layout == "table"
    if uses_config:
        lines.append("import pulumi")
    if kinds:
        lines.append(f"from microvisor_pulumi import {', '.join(kinds)}")
    if uses_config or kinds:
        lines.append("")
    if uses_config:
        lines += ["config = pulumi.Config()", ""]
    lines += _api_key_comments(inv)
    lines += _skipped_comments(inv)
    lines.append("")
    if layout == "table":
        lines += _table_body(inv, secrets)
    else:
        lines += _calls_body(inv, secrets)
    while lines and lines[-1] == "":
        lines.pop()
    return plain_text("\n".join(lines) + "\n", "__main__.py")


def _secret_value(config_name: str) -> str:
    return f"config.require_secret({py_str(config_name)})"


def _calls_body(inv: Inventory, secrets: dict[tuple[str | None, str], str]) -> list[str]:
    lines: list[str] = []
    if inv.account_configs or inv.account_secrets:
        lines.append("# Account-level items: every device on the account can read them.")
    for key, value in inv.account_configs.items():
        args = [("key", py_str(key)), ("value", py_str(value)), ("overwrite", "True")]
        lines += _call("AccountConfig", f"account/{key}", args)
    for key in inv.account_secrets:
        args = [("key", py_str(key)), ("value", _secret_value(secrets[(None, key)])), ("overwrite", "True")]
        lines += _call("AccountSecret", f"account/{key}", args)
    for device in inv.devices:
        if lines:
            lines.append("")
        lines.append(_device_comment(device.sid, device.unique_name))
        if not device.configs and not device.secrets:
            left = any(s.device_sid == device.sid for s in inv.skipped)
            lines.append(
                "# (none that can be adopted: see Left out above)" if left else "# (no Configs or Secrets)"
            )
        sid = py_str(device.sid)
        for key, value in device.configs.items():
            args = [
                ("device_sid", sid),
                ("key", py_str(key)),
                ("value", py_str(value)),
                ("overwrite", "True"),
            ]
            lines += _call("DeviceConfig", f"{device.sid}/{key}", args)
        for key in device.secrets:
            value = _secret_value(secrets[(device.sid, key)])
            args = [("device_sid", sid), ("key", py_str(key)), ("value", value), ("overwrite", "True")]
            lines += _call("DeviceSecret", f"{device.sid}/{key}", args)
    if not lines:
        lines.append("# Nothing to adopt: the account has no Configs or Secrets.")
    return lines


def _table_body(inv: Inventory, secrets: dict[tuple[str | None, str], str]) -> list[str]:
    i1, i2, i3 = (_INDENT * n for n in (1, 2, 3))
    lines = ["# Account-level Configs: key -> value.", "ACCOUNT_CONFIGS = {"]
    lines += _dict(((k, py_str(v)) for k, v in inv.account_configs.items()), i1)
    lines += [
        "}",
        f"# Account-level Secrets: key -> stack config holding the value ({SECRETS_FILE}).",
        "ACCOUNT_SECRETS = {",
    ]
    lines += _dict(((k, py_str(secrets[(None, k)])) for k in inv.account_secrets), i1)
    lines += [
        "}",
        "# Devices by SID, with their unique name, Configs (key -> value) and Secrets",
        f"# (key -> stack config holding the value, {SECRETS_FILE}).",
        "DEVICES = {",
    ]
    for device in inv.devices:
        lines.append(f"{i1}{py_str(device.sid)}: {{")
        lines.append(f'{i2}"name": {py_str(device.unique_name) if device.unique_name else "None"},')
        for field, entries in (
            ("configs", [(k, py_str(v)) for k, v in device.configs.items()]),
            ("secrets", [(k, py_str(secrets[(device.sid, k)])) for k in device.secrets]),
        ):
            if entries:
                lines += [f'{i2}"{field}": {{', *_dict(entries, i3), f"{i2}}},"]
            else:
                lines.append(f'{i2}"{field}": {{}},')
        lines.append(f"{i1}}},")
    lines += [
        "}",
        "",
        "for key, value in ACCOUNT_CONFIGS.items():",
        f'{i1}AccountConfig(f"account/{{key}}", key=key, value=value, overwrite=True)',
        "for key, secret_name in ACCOUNT_SECRETS.items():",
        f"{i1}AccountSecret(",
        f'{i2}f"account/{{key}}",',
        f"{i2}key=key,",
        f"{i2}value=config.require_secret(secret_name),",
        f"{i2}overwrite=True,",
        f"{i1})",
        "for sid, device in DEVICES.items():",
        f'{i1}for key, value in device["configs"].items():',
        f"{i2}DeviceConfig(",
        f'{i3}f"{{sid}}/{{key}}",',
        f"{i3}device_sid=sid,",
        f"{i3}key=key,",
        f"{i3}value=value,",
        f"{i3}overwrite=True,",
        f"{i2})",
        f'{i1}for key, secret_name in device["secrets"].items():',
        f"{i2}DeviceSecret(",
        f'{i3}f"{{sid}}/{{key}}",',
        f"{i3}device_sid=sid,",
        f"{i3}key=key,",
        f"{i3}value=config.require_secret(secret_name),",
        f"{i3}overwrite=True,",
        f"{i2})",
    ]
    return lines


def render_pulumi_yaml(project: str, account_sid: str) -> str:
    """``Pulumi.yaml`` of the generated project (the runtime of ``pulumi new python``)."""
    account_sid = _account_sid(account_sid)
    return (
        f"name: {project}\n"
        f"description: Microvisor Configs and Secrets of account {account_sid}, adopted from Twilio\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        "    toolchain: pip\n"
        "    virtualenv: venv\n"
    )


def render_ruff_toml() -> str:
    """``ruff.toml``: the style the program is written in, so that ``ruff check`` agrees wherever
    the folder lands (isort would otherwise sort ``microvisor_pulumi`` as first-party inside a
    checkout of this package and as third-party elsewhere)."""
    return (
        "# The style `microvisor-pulumi inventory` writes __main__.py in; change it freely.\n"
        f"line-length = {LINE_LENGTH}\n"
        "\n"
        "[lint]\n"
        'extend-select = ["E", "W", "I"]\n'
        "# A Config value is written whole, however long.\n"
        'ignore = ["E501"]\n'
        "\n"
        "[lint.isort]\n"
        'known-third-party = ["microvisor_pulumi", "pulumi"]\n'
    )


def render_requirements() -> str:
    """``requirements.txt``: what the program imports."""
    return f"pulumi>=3.216\nmicrovisor-pulumi>={__version__}\n"


def secret_commands(inv: Inventory, api_key: str | None = None) -> list[str]:
    """The ``pulumi config set`` commands, without values, each after a comment naming its Secret."""
    lines = ["# Credentials the provider reads at `pulumi up` (the token or secret prompts, hidden):"]
    account_sid = _account_sid(inv.account_sid)
    if api_key and not API_KEY_SID_RE.fullmatch(api_key):
        raise ValueError("the API key must be an API key SID (SK + 32 hex digits)")
    if api_key:
        lines += [
            f"pulumi config set twilio:accountSid {account_sid}",
            f"pulumi config set twilio:apiKey {api_key}",
            "pulumi config set --secret twilio:apiSecret",
        ]
    else:
        lines += [
            f"pulumi config set twilio:accountSid {account_sid}",
            "pulumi config set --secret twilio:authToken",
        ]
    for entry in secret_entries(inv):
        if entry.device_sid is None:
            lines.append(f"# Account-level Secret {py_str(entry.key)}")
        else:
            sid = bare(entry.device_sid)
            owner = f"{sid} ({py_str(entry.device_name)})" if entry.device_name else sid
            lines.append(f"# Device {owner}, Secret {py_str(entry.key)}")
        lines.append(f"pulumi config set --secret {entry.config_name}")
    return lines


def render_secrets_script(inv: Inventory, api_key: str | None = None) -> str:
    """``set-secrets.sh``: run from the project folder; each command prompts for its value."""
    header = [
        "#!/bin/sh",
        "# Twilio never returns a Secret's value, so the program reads each one from the stack",
        "# config. Run these before the first `pulumi up`; each prompts for the value, or pipe it",
        "# in (multi-line PEM files too):  pulumi config set --secret NAME < file.pem",
        "set -e",
        "",
    ]
    return plain_text("\n".join([*header, *secret_commands(inv, api_key)]) + "\n", SECRETS_FILE)

"""Declarations that check, diff and read follow from, said once per resource kind.

In the spirit of a Terraform schema: each input says whether changing it forces a replacement,
whether it is write-only (the API never returns it) and whether it is secret. The generic
provider in ``_provider.py`` turns these declarations into CheckFailures, DiffResults and the
inputs returned by read, so the five resource kinds never repeat that logic. Each kind also declares
the outputs it adds, the types and its words: the Resource classes take their outputs and secret
outputs from there, and the provider plugin's package schema (``plugin/schema.py``) is generated
from the same declarations.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pulumi.output import Unknown
from pulumi.runtime import rpc

# A validator returns None when the value is acceptable, or the rule it breaks. The rule text
# never contains the value itself: the value may be a secret.
Validator = Callable[[Any], "str | None"]

KEY_MAX = 100
VALUE_MAX = 4096
FRIENDLY_NAME_MAX = 64
UNIQUE_NAME_MAX = 128

# \A and \Z, not ^ and $: `$` also matches before a trailing newline, so "UV<32 hex>\n" would pass
# for a SID and carry its newline into URLs and into the programs the inventory writes.
DEVICE_SID_RE = re.compile(r"\AUV[0-9a-fA-F]{32}\Z")
ACCOUNT_SID_RE = re.compile(r"\AAC[0-9a-fA-F]{32}\Z")
API_KEY_SID_RE = re.compile(r"\ASK[0-9a-fA-F]{32}\Z")
# C0 controls, DEL and the C1 controls (U+0080..U+009F, e.g. NEL): none of them is printable text.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# A property's type, in the terms of Pulumi's package schema: a primitive ("string", "boolean",
# "integer", "number"), a list, or a named enum or object type. Only the provider plugin's schema
# (microvisor_pulumi/plugin/schema.py) reads types: check relies on each Prop's validator, which is
# stricter than any type.
STRING = "string"
BOOLEAN = "boolean"
INTEGER = "integer"
NUMBER = "number"
PRIMITIVES = (STRING, BOOLEAN, INTEGER, NUMBER)


@dataclass(frozen=True)
class ListOf:
    """A list whose items all have one type."""

    items: PropType


@dataclass(frozen=True)
class Enum:
    """A string with a fixed set of values; ``name`` is the type's name in the package schema."""

    name: str
    values: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Struct:
    """An object with named fields; ``name`` is the type's name in the package schema."""

    name: str
    fields: tuple[Prop, ...]
    description: str


PropType: TypeAlias = str | ListOf | Enum | Struct


@dataclass(frozen=True)
class Prop:
    """One input property of a resource kind and how the provider treats it.

    Every input is also an output of the same name (the providers return what they were given), so
    an input is declared here only, never again among the kind's outputs.
    """

    name: str
    required: bool = True
    replaces: bool = False  # a change forces a replacement instead of an update
    secret: bool = False  # always a Pulumi secret, in inputs and outputs
    write_only: bool = False  # the API never returns it: read carries it over from state
    validate: Validator | None = None
    type: PropType = STRING
    # Optional, yet always an output: the provider fills in a default when it is left out.
    computed: bool = False
    description: str = ""


@dataclass(frozen=True)
class Out:
    """An output the provider makes that is not an input (an input is an output already)."""

    name: str
    type: PropType = STRING
    description: str = ""
    secret: bool = False  # the program keeps it secret whatever the provider returns
    always: bool = False  # present in every state (a generated SDK then types it as not optional)


@dataclass(frozen=True)
class Schema:
    """Everything said about one resource kind: its inputs, the outputs it adds, what it is."""

    kind: str
    props: tuple[Prop, ...]
    outputs: tuple[Out, ...] = ()
    description: str = ""  # Markdown; the package schema's description of the resource

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.props)

    def output_names(self) -> tuple[str, ...]:
        """Every output: the inputs, then the outputs the provider adds."""
        return (*self.names(), *(o.name for o in self.outputs))

    def secret_outputs(self) -> tuple[str, ...]:
        """Outputs that are always secret: the secret inputs, then the secret outputs."""
        return (*(p.name for p in self.props if p.secret), *(o.name for o in self.outputs if o.secret))


# What a refresh stores in place of a write-only value that was changed outside Pulumi (a secret
# rotated by someone else): the real value cannot be read back. It starts with NUL, which `check`
# refuses in any value a program sends, so it can never be mistaken for one. Kept in the inputs as
# well as the outputs so that `ignore_changes` on the value carries it forward (the engine copies
# the old input before `check`), and `diff` then sees no change; a program that states its value
# sees a change and sets it again.
CHANGED_OUTSIDE = "\x00changed outside Pulumi"


def changed_outside(stamp: Any) -> str:
    """The marker for a write-only value changed outside Pulumi, with Twilio's date of the change."""
    return f"{CHANGED_OUTSIDE} at {stamp}" if stamp else CHANGED_OUTSIDE


def is_changed_outside(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(CHANGED_OUTSIDE)


def is_unknown(value: Any) -> bool:
    """True for a value that is not known yet during a preview."""
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def plain(value: Any) -> Any:
    """The value without its secret wrapper, as the host may hand either form to a provider."""
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def secret(value: Any) -> Any:
    """Mark a value returned by a provider method as a Pulumi secret."""
    return value if rpc.is_rpc_secret(value) else rpc.wrap_rpc_secret(value)


def encode_value(value: Any) -> Any:
    """Bytes become base64 text: the Microvisor API stores text only."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _describe_type(value: Any) -> str:
    return type(value).__name__


def _text_problem(value: Any, *, max_len: int, min_len: int = 1, allow_control: bool = False) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {_describe_type(value)}"
    n = len(value)
    if n < min_len:
        return "must not be empty" if min_len == 1 else f"must be at least {min_len} characters"
    if n > max_len:
        return f"must be at most {max_len} characters, got {n}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    if "\x00" in value:
        return "must not contain NUL characters"
    if not allow_control and _CONTROL_RE.search(value):
        return "must not contain control characters (tabs, newlines and the like)"
    return None


def _dot_segment(value: str) -> str | None:
    # HTTP clients resolve "." and ".." path segments before sending, whatever the escaping, so such
    # a key would address another URL.
    return "must not be '.' or '..' (it would address another URL)" if value in (".", "..") else None


def check_key(value: Any) -> str | None:
    """Keys are 1 to 100 characters of printable text."""
    return _text_problem(value, max_len=KEY_MAX) or _dot_segment(value)


def check_value(value: Any) -> str | None:
    """Values are text of at most 4096 characters (newlines allowed; bytes are base64-encoded)."""
    return _text_problem(value, max_len=VALUE_MAX, min_len=0, allow_control=True)


def check_secret_value(value: Any) -> str | None:
    """A secret's value as a program sends it: never the marker (see CHANGED_OUTSIDE), which the
    provider's check lets through only when ``ignore_changes`` carried it forward from the old inputs."""
    if is_changed_outside(value):
        return (
            "must not be the marker Pulumi keeps for a value changed outside Pulumi "
            "(it starts with NUL); give the secret's value"
        )
    return check_value(value)


def check_device(value: Any) -> str | None:
    """A Device SID (UV + 32 hex digits) or the device's unique name.

    Only UV followed by exactly 32 hex digits is a SID; anything else (``UV1``, ``UVBEEF``) is a
    unique name, which Twilio allows to look like that.
    """
    if isinstance(value, str) and DEVICE_SID_RE.match(value):
        return None
    problem = _text_problem(value, max_len=UNIQUE_NAME_MAX)
    if problem:
        return f"must be a Device SID (UV + 32 hex digits) or a unique name: it {problem}"
    if value != value.strip():
        return "must not start or end with white space"
    return _dot_segment(value)


def check_friendly_name(value: Any) -> str | None:
    """FriendlyName is at most 64 characters."""
    return _text_problem(value, max_len=FRIENDLY_NAME_MAX, min_len=0)


def check_account_sid(value: Any) -> str | None:
    """An Account SID: AC followed by 32 hex digits."""
    if isinstance(value, str) and ACCOUNT_SID_RE.match(value):
        return None
    if not isinstance(value, str):
        return f"must be an Account SID string, got {_describe_type(value)}"
    return f"must be an Account SID: AC followed by 32 hex digits ({len(value)} characters given)"


def check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be a boolean, got {_describe_type(value)}"


# How much of a value a validator's rule text quotes at most (always through repr()).
_QUOTED_LENGTHS = (None, 80, 40)


def withhold(reason: str, value: Any) -> str:
    """A rule's text with every quotation of `value` (a secret) blanked out.

    Validators quote a value only through ``repr()``, whole or cut to 40 or 80 characters (a policy
    names its offending permission, a key type its wrong word): fine for what the program did not
    make secret, a leak for what it did.
    """
    texts: list[str] = []

    def leaves(v: Any) -> None:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, Mapping):  # its field names are the schema's words, not the secret
            for item in v.values():
                leaves(item)
        elif isinstance(v, (list, tuple)):
            for item in v:
                leaves(item)
        elif v is not None:
            texts.append(str(v))

    leaves(plain(value))
    for text in sorted(texts, key=len, reverse=True):
        for length in _QUOTED_LENGTHS:
            if text[:length]:
                reason = reason.replace(repr(text[:length]), "'[secret]'")
    return reason


def failures(
    schema: Schema, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(property, reason) for every rule the inputs break; unknown values pass until they are known.

    A CHANGED_OUTSIDE marker equal to the old input's is no program's value: the engine copied it
    there for ``ignore_changes`` (before check), so it passes; any other marker is refused.
    """
    found: list[tuple[str, str]] = []
    for prop in schema.props:
        value = plain(news.get(prop.name))
        if is_unknown(value):
            continue
        if is_changed_outside(value) and olds is not None and value == plain(olds.get(prop.name)):
            continue
        if value is None:
            if prop.required:
                found.append((prop.name, f"{schema.kind}: '{prop.name}' is required"))
            continue
        if prop.validate is not None:
            problem = prop.validate(value)
            if problem:
                found.append((prop.name, f"{schema.kind}: '{prop.name}' {problem}"))
    return found

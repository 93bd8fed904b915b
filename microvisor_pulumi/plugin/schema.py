"""The package schema the plugin answers `GetSchema` with, generated from the kinds' declarations.

Nothing here says anything about a resource kind: types, descriptions, required inputs, secrets and
which changes replace come from each provider's `Schema` (its `Prop` inputs and `Out` outputs, in
``microvisor_pulumi/resources/``), the very declaration check and diff follow in both faces. What
this module adds is what only the plugin has: the package's name and languages, and the
descriptions of its config variables (the `twilio:*` settings, named ``microvisor:*`` here).

The generated schema is committed as ``schema.json`` beside this module (shipped in the wheel; a
test fails when it is stale). Regenerate it after changing a declaration or the version::

    python -m microvisor_pulumi.plugin.schema > microvisor_pulumi/plugin/schema.json
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from microvisor_pulumi._twilio.settings import _KEYS as _SETTING_KEYS
from microvisor_pulumi._version import __version__
from microvisor_pulumi.plugin.tokens import (
    CONFIG_VARIABLES,
    DYNAMIC_TYPES,
    MODULE,
    PACKAGE,
    PROVIDERS,
)
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources._schema import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    PRIMITIVES,
    STRING,
    Enum,
    ListOf,
    Out,
    Prop,
    PropType,
    Schema,
    Struct,
)

__all__ = ["PROVIDERS", "SCHEMA_FILE", "package_schema", "resource_spec", "schema_text"]

#: The committed output of `schema_text()`, shipped in the wheel.
SCHEMA_FILE = Path(__file__).with_name("schema.json")

# (type, secret, description) of each setting, by its name in either namespace (``accountSid``). The
# words are the README's ("Pointing it at real Twilio"); the environment variable is added from the
# settings table. A setting missing here stops the generation, and with it the schema's test.
_CONFIG: dict[str, tuple[str, bool, str]] = {
    "accountSid": (
        STRING,
        False,
        "The Account SID (`AC…`); with an API key, the account the key belongs to.",
    ),
    "authToken": (STRING, True, "The account's Auth Token."),
    "apiKey": (STRING, False, "An API key SID (`SK…`), used instead of the Auth Token."),
    "apiSecret": (STRING, True, "That API key's secret."),
    "region": (STRING, False, "e.g. `au1`, `ie1`: hosts become `microvisor.au1.twilio.com`."),
    "edge": (STRING, False, "e.g. `sydney`, `dublin` (an edge alone implies region `us1`)."),
    "endpoint": (
        STRING,
        False,
        "`http(s)://host[:port]` used for every Twilio product (the emulator, a proxy); region and edge "
        "then do not apply.",
    ),
    "allowInsecureEndpoint": (
        BOOLEAN,
        False,
        "`true` lets `endpoint` be plain `http://` to a host that is not loopback: the credentials then "
        "travel unencrypted. Default false: plain http only to 127.0.0.0/8, `::1` or `localhost`.",
    ),
    "connectTimeout": (NUMBER, False, "Seconds to wait for a connection, default 5."),
    "readTimeout": (NUMBER, False, "Seconds to wait for an answer, default 30."),
    "maxRetries": (INTEGER, False, "Retries after 429, 5xx and connection errors, default 4."),
    "retryBaseDelay": (
        NUMBER,
        False,
        "Seconds before the first retry, default 0.25, at most 8; each later retry waits twice as long "
        "(capped at 8 s), with jitter, unless Twilio sent `Retry-After`.",
    ),
    "maxConcurrency": (
        INTEGER,
        False,
        "Most requests out to Twilio at once, and operations served at once, default 32; 1 = one at a time.",
    ),
}

_CREDENTIALS_NOTE = (
    " The credential pair (Account SID and Auth Token, or API key and secret) comes whole from the first "
    "source holding a complete pair: this config, then the environment."
)

_LANGUAGE: dict[str, dict[str, Any]] = {
    # No SDK is generated or published from this schema (see the README): these names are what
    # `pulumi package add` and `gen-sdk` would use for a local one.
    "python": {"packageName": "pulumi_microvisor", "respectSchemaVersion": True},
    "nodejs": {"packageName": "pulumi-microvisor", "respectSchemaVersion": True},
    "go": {"importBasePath": "example.com/microvisor-pulumi/sdk/go/microvisor", "respectSchemaVersion": True},
    "csharp": {
        "rootNamespace": "MicrovisorPulumi",
        "packageReferences": {"Pulumi": "3.*"},
        "respectSchemaVersion": True,
    },
}


def _token(name: str) -> str:
    return f"{PACKAGE}:{MODULE}:{name}"


class _Types:
    """The package's named types (enums and objects), gathered while the properties are written."""

    def __init__(self) -> None:
        self.specs: dict[str, dict[str, Any]] = {}
        self._declared: dict[str, Enum | Struct] = {}

    def ref(self, declared: Enum | Struct) -> dict[str, Any]:
        token = _token(declared.name)
        seen = self._declared.setdefault(token, declared)
        if seen != declared:
            raise ValueError(f"two different types are named {declared.name!r}")
        if token not in self.specs:
            self.specs[token] = self._spec(declared)
        return {"$ref": f"#/types/{token}"}

    def _spec(self, declared: Enum | Struct) -> dict[str, Any]:
        if isinstance(declared, Enum):
            return {
                "type": STRING,
                "description": declared.description,
                "enum": [{"value": value} for value in declared.values],
            }
        return {
            "type": "object",
            "description": declared.description,
            "properties": {
                field.name: self.prop(field.type, field.description, secret=field.secret)
                for field in declared.fields
            },
            "required": [field.name for field in declared.fields if field.required],
        }

    def type_spec(self, kind: PropType) -> dict[str, Any]:
        if isinstance(kind, (Enum, Struct)):
            return self.ref(kind)
        if isinstance(kind, ListOf):
            return {"type": "array", "items": self.type_spec(kind.items)}
        if kind not in PRIMITIVES:
            raise ValueError(f"unknown property type {kind!r}: use one of {', '.join(PRIMITIVES)}")
        return {"type": kind}

    def prop(
        self, kind: PropType, description: str, *, secret: bool = False, replaces: bool = False
    ) -> dict[str, Any]:
        spec = {**self.type_spec(kind), "description": description}
        if secret:
            spec["secret"] = True
        if replaces:
            spec["willReplaceOnChanges"] = True
        return spec


def _names(items: Iterable[Prop | Out]) -> list[str]:
    return [item.name for item in items]


def resource_spec(schema: Schema, aliases: Iterable[str] = (), types: _Types | None = None) -> dict[str, Any]:
    """The package schema's entry for one resource kind, from its declaration alone.

    Inputs are the kind's Props; outputs are every Prop (each input is returned as an output of the
    same name) and then its Outs. An output is always present when its input is required or filled
    in by the provider (``computed``), or when the Out says so (``always``).
    """
    types = types if types is not None else _Types()
    names = _names(schema.props) + _names(schema.outputs)
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ValueError(f"{schema.kind}: declared twice: {', '.join(doubled)}")
    inputs = {
        p.name: types.prop(p.type, p.description, secret=p.secret, replaces=p.replaces) for p in schema.props
    }
    outputs = {p.name: types.prop(p.type, p.description, secret=p.secret) for p in schema.props}
    outputs.update({o.name: types.prop(o.type, o.description, secret=o.secret) for o in schema.outputs})
    spec: dict[str, Any] = {
        "description": schema.description,
        "inputProperties": inputs,
        "requiredInputs": [p.name for p in schema.props if p.required],
        "properties": outputs,
        "required": [p.name for p in schema.props if p.required or p.computed]
        + [o.name for o in schema.outputs if o.always],
    }
    if aliases:
        spec["aliases"] = [{"type": alias} for alias in aliases]
    return spec


def _config_variables(types: _Types) -> dict[str, dict[str, Any]]:
    unknown = sorted(set(CONFIG_VARIABLES) - set(_CONFIG))
    if unknown:
        raise ValueError(f"config variables with no schema entry in {__name__}._CONFIG: {', '.join(unknown)}")
    environment = {config_key: env for config_key, env in _SETTING_KEYS.values()}
    variables = {}
    for name, setting in CONFIG_VARIABLES.items():
        kind, secret, text = _CONFIG[name]
        text += f" When not set here: the environment variable `{environment[setting]}`."
        if secret:
            text += " Set it with `pulumi config set --secret`."
        if name in ("accountSid", "authToken", "apiKey", "apiSecret"):
            text += _CREDENTIALS_NOTE
        variables[name] = {**types.type_spec(kind), "description": text}
        if secret:
            variables[name]["secret"] = True
    return variables


def package_schema(
    providers: Mapping[str, type[SchemaProvider]] = PROVIDERS,
    aliases: Mapping[str, str] = DYNAMIC_TYPES,
    version: str = __version__,
) -> dict[str, Any]:
    """The whole package schema: `providers` (type token -> provider class) with their `aliases`
    (type token -> the dynamic type the kind had), the config variables, the languages."""
    types = _Types()
    resources = {
        token: resource_spec(provider.schema, [aliases[token]] if token in aliases else [], types)
        for token, provider in providers.items()
    }
    variables = _config_variables(types)
    return {
        "name": PACKAGE,
        "displayName": "Twilio Microvisor",
        "version": version,
        "description": (
            "Twilio Microvisor Configs and Secrets (per account and per device) and Twilio API keys: the "
            "providers of the microvisor-pulumi dynamic resources, served as a provider plugin."
        ),
        "keywords": ["pulumi", "twilio", "microvisor", "iot", "category/infrastructure", "kind/native"],
        "license": "MIT",
        "meta": {"moduleFormat": "(.*)"},
        "config": {"variables": variables},
        "provider": {
            "description": (
                "Twilio credentials and connection settings: the `microvisor:*` stack config (the dynamic "
                "resources' `twilio:*` settings), else the `TWILIO_*` environment variables."
            ),
            "inputProperties": copy.deepcopy(variables),  # a provider's inputs are its config
        },
        "resources": resources,
        "types": types.specs,
        "language": _LANGUAGE,
    }


def schema_text() -> str:
    """`package_schema()` as JSON text with sorted keys: the same bytes on every machine."""
    return json.dumps(package_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    # UTF-8 whatever the locale: the descriptions hold `…`.
    sys.stdout.buffer.write(schema_text().encode("utf-8"))


if __name__ == "__main__":
    main()

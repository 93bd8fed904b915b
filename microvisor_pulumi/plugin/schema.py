"""STAND-IN, to be replaced at merge by the real schema generation (issue 19, item 2).

Only the two names the server relies on: ``PROVIDERS`` (type token -> provider class) and
``package_schema()``. The real module generates every property from the provider classes' Schema
declarations; this one says only enough for a valid, minimal package schema.
"""

from __future__ import annotations

from typing import Any

from microvisor_pulumi._version import __version__
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources.api_key import ApiKeyProvider
from microvisor_pulumi.resources.microvisor import (
    AccountConfigProvider,
    AccountSecretProvider,
    DeviceConfigProvider,
    DeviceSecretProvider,
)

_CLASSES: tuple[type[SchemaProvider], ...] = (
    AccountConfigProvider,
    DeviceConfigProvider,
    AccountSecretProvider,
    DeviceSecretProvider,
    ApiKeyProvider,
)

PROVIDERS: dict[str, type[SchemaProvider]] = {f"microvisor:index:{c.schema.kind}": c for c in _CLASSES}


def package_schema() -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for token, cls in PROVIDERS.items():
        props = {p.name: {"type": "string"} for p in cls.schema.props}
        resources[token] = {"properties": props, "inputProperties": props}
    return {"name": "microvisor", "version": __version__, "resources": resources}

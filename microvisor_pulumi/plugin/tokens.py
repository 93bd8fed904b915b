"""The plugin's names for things the dynamic face names otherwise: type tokens and config keys.

A face translates and decides nothing (DESIGN.md, "One core, two faces"): this table says which
provider class serves which type token, which dynamic type token a kind had before (the alias that
lets a stack move over without replacing anything) and which `twilio:*` setting each `microvisor:*`
config variable is.
"""

from __future__ import annotations

from microvisor_pulumi._twilio import CONFIG_KEYS
from microvisor_pulumi.plugin import MODULE, PACKAGE
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources._resource import TwilioResource
from microvisor_pulumi.resources.api_key import ApiKey
from microvisor_pulumi.resources.microvisor import AccountConfig, AccountSecret, DeviceConfig, DeviceSecret

#: The resource classes of the dynamic face, whose providers the plugin serves.
RESOURCES: tuple[type[TwilioResource], ...] = (
    AccountConfig,
    DeviceConfig,
    AccountSecret,
    DeviceSecret,
    ApiKey,
)


def type_token(provider: type[SchemaProvider]) -> str:
    """The plugin's type token of a kind: ``microvisor:index:`` and the kind its schema names."""
    return f"{PACKAGE}:{MODULE}:{provider.schema.kind}"


def dynamic_type(resource: type[TwilioResource]) -> str:
    """The type a dynamic resource registers, as pulumi.dynamic.Resource builds it from the class's
    ``module`` and ``name`` (e.g. ``pulumi-python:dynamic/microvisor:AccountConfig``)."""
    return f"pulumi-python:{resource._resource_type_name}"


#: Type token -> the provider class that serves it.
PROVIDERS: dict[str, type[SchemaProvider]] = {
    type_token(r.provider_class): r.provider_class for r in RESOURCES
}

#: Type token -> the dynamic type the same kind had: the resource's alias in the package schema.
DYNAMIC_TYPES: dict[str, str] = {type_token(r.provider_class): dynamic_type(r) for r in RESOURCES}

#: The plugin's config variable (``microvisor:<name>``, or ``<name>`` in a provider's inputs) -> the
#: setting the providers read (``twilio:<name>``). A default provider is given only its own
#: package's namespace, so the plugin's settings are ``microvisor:accountSid`` and so on.
CONFIG_VARIABLES: dict[str, str] = {key.partition(":")[2]: key for key in CONFIG_KEYS}


def config_key(variable: str) -> str:
    """``microvisor:accountSid`` (or ``accountSid``) -> ``twilio:accountSid``; KeyError for another key."""
    name = variable.removeprefix(f"{PACKAGE}:")
    return CONFIG_VARIABLES[name]

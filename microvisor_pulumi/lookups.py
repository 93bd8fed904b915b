"""Device lookups for programs: `get_device` and `get_devices`, which behave like data sources.

They run in the program's process (not the provider host), so credentials come from the stack's
``twilio:*`` config through ``pulumi.Config("twilio")`` (the token and API secret through
``get_secret``), then the ``TWILIO_*`` environment, exactly as the provider resolves them. The HTTP
call runs when the program's event loop gets to it, in a worker thread, and only if a lookup was
called; nothing is registered, so provider state is never touched. Results are plain Outputs: a
device's SID is not secret because the token used to read it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi

from microvisor_pulumi._twilio import CONFIG_KEYS, NotFound, Settings

_SECRET_KEYS = frozenset({"authToken", "apiSecret"})
_T = TypeVar("_T")


@dataclass(frozen=True)
class DeviceInfo:
    """A Microvisor device as the Devices API returns it; ``fields`` holds every field it sent.

    On an ``Output[DeviceInfo]`` the attributes lift: ``get_device("x").sid`` is an ``Output[str]``.
    """

    sid: str
    unique_name: str | None
    account_sid: str | None = None
    app_sid: str | None = None
    logging_enabled: bool | None = None
    date_created: str | None = None
    date_updated: str | None = None
    url: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DeviceInfo:
        """Build from one Devices API record."""
        app = record.get("app")
        app_sid = app.get("target_sid") if isinstance(app, Mapping) else record.get("target_sid")
        logging = record.get("logging")
        enabled = logging.get("enabled") if isinstance(logging, Mapping) else record.get("logging_enabled")
        return cls(
            sid=str(record["sid"]),
            unique_name=record.get("unique_name") or None,
            account_sid=record.get("account_sid"),
            app_sid=app_sid,
            logging_enabled=enabled,
            date_created=record.get("date_created"),
            date_updated=record.get("date_updated"),
            url=record.get("url"),
            fields=dict(record),
        )


async def _settings() -> Settings:
    """``twilio:*`` stack config first, then the environment (Settings.resolve's rule)."""
    config = pulumi.Config("twilio")
    values: dict[str, str] = {}
    for key in CONFIG_KEYS:
        name = key.removeprefix("twilio:")
        value: Any
        if name in _SECRET_KEYS:
            secret = config.get_secret(name)
            value = None if secret is None else await secret.future()
        else:
            value = config.get(name)
        if value:
            values[f"twilio:{name}"] = str(value)
    return Settings.resolve(config=values)


async def _call(what: Callable[[Any], _T]) -> _T:
    settings = await _settings()
    settings.basic_auth()  # MissingCredentials, naming both sources, before any request

    def run() -> _T:
        from microvisor_pulumi._twilio import TwilioClient

        with TwilioClient(settings) as client:
            return what(client)

    return await asyncio.get_running_loop().run_in_executor(None, run)


def get_device(sid_or_name: pulumi.Input[str]) -> pulumi.Output[DeviceInfo]:
    """The device with this ``UV…`` SID or unique name, as an Output (fails if there is none)."""

    async def lookup(ident: str) -> DeviceInfo:
        if not isinstance(ident, str) or not ident:
            raise ValueError(f"get_device: sid_or_name must be a non-empty SID or unique name, got {ident!r}")

        def fetch(client: Any) -> DeviceInfo:
            try:
                return DeviceInfo.from_record(client.fetch_device(ident))
            except NotFound:
                raise LookupError(
                    f"get_device: no Microvisor device on this account has the SID or unique name {ident!r}"
                ) from None

        return await _call(fetch)

    return pulumi.Output.from_input(sid_or_name).apply(lookup)


def get_devices(name_prefix: pulumi.Input[str] | None = None) -> pulumi.Output[list[DeviceInfo]]:
    """Every device of the account (all pages), or those whose unique name starts with ``name_prefix``."""

    async def lookup(prefix: str | None) -> list[DeviceInfo]:
        def fetch(client: Any) -> list[DeviceInfo]:
            found = [DeviceInfo.from_record(r) for r in client.list_devices()]
            if prefix:
                found = [d for d in found if d.unique_name and d.unique_name.startswith(prefix)]
            return found

        return await _call(fetch)

    return pulumi.Output.from_input(name_prefix).apply(lookup)

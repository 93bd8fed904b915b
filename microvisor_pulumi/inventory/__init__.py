"""Inventory of a Twilio account's Microvisor items, and the Pulumi program that adopts them.

``pulumi import`` cannot work with dynamic providers (pulumi/pulumi#16175), so a fleet provisioned
by hand is brought under Pulumi by a generated program whose every resource says
``overwrite=True``. :func:`read_inventory` lists the account through the one HTTP layer;
:mod:`.render` writes the program; :mod:`.cli` is ``microvisor-pulumi inventory``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from microvisor_pulumi._twilio.endpoints import TwilioEndpoints


@dataclass(frozen=True)
class DeviceItems:
    """One device: its SID, unique name, Config values by key and Secret keys (values are unreadable)."""

    sid: str
    unique_name: str | None
    configs: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key's metadata: it is listed, never adopted (its secret is shown once, at creation)."""

    sid: str
    friendly_name: str | None


@dataclass(frozen=True)
class Inventory:
    """Everything on the account that a program could declare, in a stable order (by name and key)."""

    account_sid: str
    account_configs: dict[str, str]
    account_secrets: tuple[str, ...]
    devices: tuple[DeviceItems, ...]
    api_keys: tuple[ApiKeyInfo, ...]

    @property
    def resource_count(self) -> int:
        """How many resources the adopting program declares."""
        per_device = sum(len(d.configs) + len(d.secrets) for d in self.devices)
        return len(self.account_configs) + len(self.account_secrets) + per_device


#: Told ``(devices read so far, devices in all)`` after each device.
Progress = Callable[[int, int], None]


def _configs(records: Any) -> dict[str, str]:
    return {str(r["key"]): str(r.get("value") or "") for r in sorted(records, key=lambda r: str(r["key"]))}


def _keys(records: Any) -> tuple[str, ...]:
    return tuple(sorted(str(r["key"]) for r in records))


#: Devices read at once. Each device costs two list calls; at a real API's ~150 ms a call, 300
#: devices take ~90 s one at a time and ~25 s four at a time, well under Twilio's concurrent-request
#: limit (a 429 is retried with backoff by the client anyway).
DEFAULT_WORKERS = 4


def read_inventory(
    client: TwilioEndpoints,
    account_sid: str,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
) -> Inventory:
    """List the whole account through ``client``, following every page of every list.

    Calls: the account's Configs and Secrets, the Devices, each device's Configs and Secrets
    (``workers`` devices at a time; the client is thread-safe), and the API keys (v2010). Secret
    values are never returned by Twilio, so only their keys are kept. The result does not depend
    on ``workers``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    account_configs = _configs(client.list_items("Configs"))
    account_secrets = _keys(client.list_items("Secrets"))
    # By unique name (how people know their devices), unnamed ones last by SID: stable across reruns.
    listed = sorted(
        client.list_devices(),
        key=lambda d: (not d.get("unique_name"), str(d.get("unique_name") or ""), str(d["sid"])),
    )

    def read_device(record: dict[str, Any]) -> DeviceItems:
        sid = str(record["sid"])
        return DeviceItems(
            sid=sid,
            unique_name=record.get("unique_name") or None,
            configs=_configs(client.list_items("Configs", device=sid)),
            secrets=_keys(client.list_items("Secrets", device=sid)),
        )

    devices: list[DeviceItems] = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inventory")
    try:
        futures = [pool.submit(read_device, record) for record in listed]
        for done, future in enumerate(futures, start=1):
            devices.append(future.result())
            if progress is not None:
                progress(done, len(listed))
    finally:
        # On a failure, devices not started yet are not read at all.
        pool.shutdown(wait=True, cancel_futures=True)
    api_keys = tuple(
        ApiKeyInfo(str(k["sid"]), k.get("friendly_name"))
        for k in sorted(client.list_api_keys(account_sid), key=lambda k: str(k["sid"]))
    )
    return Inventory(account_sid, account_configs, account_secrets, tuple(devices), api_keys)

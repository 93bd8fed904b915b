"""Inventory of a Twilio account's Microvisor items, and the Pulumi program that adopts them.

``pulumi import`` cannot work with dynamic providers (pulumi/pulumi#16175), so a fleet provisioned
by hand is brought under Pulumi by a generated program whose every resource says
``overwrite=True``. :func:`read_inventory` lists the account through the one HTTP layer and
keeps what the provider would accept (:mod:`.screen`); :mod:`.render` writes the program;
:mod:`.cli` is ``microvisor-pulumi inventory``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from microvisor_pulumi.inventory.screen import Skipped, optional_text, screen_items, screen_records
from microvisor_pulumi.resources._schema import check_account_sid

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
    #: Listed records the program leaves out, because the provider's check would refuse them: the
    #: account's items, then devices and API keys with an invalid SID, then each device's items.
    skipped: tuple[Skipped, ...] = ()
    #: (device SID or None, key) -> the stack config name an earlier run gave the Secret (read from
    #: the stack files, or from the program being replaced): kept, since a name made anew from a
    #: unique name would follow a renamed device and hand one device's value to another.
    kept_secret_names: Mapping[tuple[str | None, str], str] = field(default_factory=dict)

    @property
    def resource_count(self) -> int:
        """How many resources the adopting program declares."""
        per_device = sum(len(d.configs) + len(d.secrets) for d in self.devices)
        return len(self.account_configs) + len(self.account_secrets) + per_device


#: Told ``(devices read so far, devices in all)`` after each device.
Progress = Callable[[int, int], None]


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
    on ``workers``. Items the provider's check would refuse, and devices and API keys whose SID
    is not one (a device's items are then not read), go to ``skipped`` instead.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    problem = check_account_sid(account_sid)
    if problem:
        # It is written into the program and its scripts: only a real SID may be.
        raise ValueError(f"account SID {problem}")
    account_configs, skipped = screen_items("Configs", client.list_items("Configs"))
    account_secrets, skipped_secrets = screen_items("Secrets", client.list_items("Secrets"))
    valid_devices, skipped_devices = screen_records("Device", client.list_devices())
    # By unique name (how people know their devices), unnamed ones last by SID: stable across reruns.
    listed = sorted(
        ((str(d["sid"]), optional_text(d.get("unique_name"))) for d in valid_devices),
        key=lambda d: (d[1] is None, d[1] or "", d[0]),
    )

    def read_device(sid: str, unique_name: str | None) -> tuple[DeviceItems, list[Skipped]]:
        configs, left_configs = screen_items("Configs", client.list_items("Configs", device=sid), sid)
        keys, left_secrets = screen_items("Secrets", client.list_items("Secrets", device=sid), sid)
        return DeviceItems(sid, unique_name, configs, tuple(keys)), left_configs + left_secrets

    skipped += skipped_secrets + skipped_devices
    skipped_items: list[Skipped] = []
    devices: list[DeviceItems] = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inventory")
    try:
        futures = [pool.submit(read_device, sid, name) for sid, name in listed]
        for done, future in enumerate(futures, start=1):
            device, left = future.result()
            devices.append(device)
            skipped_items += left
            if progress is not None:
                progress(done, len(listed))
    finally:
        # On a failure, devices not started yet are not read at all.
        pool.shutdown(wait=True, cancel_futures=True)
    valid_keys, skipped_keys = screen_records("ApiKey", client.list_api_keys(account_sid))
    api_keys = tuple(
        ApiKeyInfo(str(k["sid"]), optional_text(k.get("friendly_name")))
        for k in sorted(valid_keys, key=lambda k: str(k["sid"]))
    )
    skipped += skipped_keys + skipped_items
    return Inventory(
        account_sid, account_configs, tuple(account_secrets), tuple(devices), api_keys, tuple(skipped)
    )

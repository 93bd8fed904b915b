"""A realistic fleet to seed the emulator with: what Twilio's MQTT and Azure IoT demos provision.

The Microvisor demo READMEs set, per device, ``broker-host``, ``broker-port`` and a JSON ``prefs``
Config, and three Secrets: an Azure IoT connection string, an MQTT client certificate (PEM) and
its private key (DER, sent as base64). This module builds such a fleet deterministically (same
count, same values) so that an inventory of it is the same every time; it only calls the store's
public methods, so every store rule still applies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
from collections.abc import Sequence

from microvisor_pulumi.emulator.store import Store

#: Device-level keys of the demo set (Configs, then Secrets).
DEVICE_CONFIG_KEYS = ("broker-host", "broker-port", "prefs")
DEVICE_SECRET_KEYS = ("azure-connection-string", "client-cert", "client-key")
#: Account-level items every device can read.
ACCOUNT_CONFIGS = {"fleet-name": "greenhouse-sensors", "ota-channel": "stable"}
ACCOUNT_SECRET_KEYS = ("provisioning-token",)
API_KEY_NAMES = ("ci-deploy", "ops-readonly")


def fleet_devices(count: int) -> list[tuple[str, str | None]]:
    """``count`` devices as ``(sid, unique_name)``; every 20th has no unique name, as in real fleets."""
    devices: list[tuple[str, str | None]] = []
    for n in range(1, count + 1):
        sid = "UV" + hashlib.sha256(f"device-{n}".encode()).hexdigest()[:32]
        devices.append((sid, None if n % 20 == 0 else f"sensor-{n:03d}"))
    return devices


def _digest(*parts: str, size: int = 32) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()[:size]


def device_configs(n: int) -> dict[str, str]:
    """The Configs of the ``n``-th device (1-based): most use one broker, some the EU one."""
    prefs = {"interval": 30 + 15 * (n % 4), "led": n % 2 == 1, "units": "metric"}
    return {
        "broker-host": "mqtt-eu.example.com" if n % 10 == 3 else "mqtt.example.com",
        "broker-port": "8883",
        "prefs": json.dumps(prefs),
    }


def device_secrets(sid: str) -> dict[str, str]:
    """Secret values of one device, derived from its SID (made up, but shaped like the real ones)."""
    sas = base64.b64encode(_digest(sid, "sas")).decode()
    body = base64.b64encode(_digest(sid, "cert", size=32) * 12).decode()
    pem = (
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(body, 64)) + "\n-----END CERTIFICATE-----\n"
    )
    der = (
        b"\x30\x77\x02\x01\x01\x04\x20"
        + _digest(sid, "key")
        + b"\xa0\x0a\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"
    )
    return {
        "azure-connection-string": (
            f"HostName=greenhouse.azure-devices.net;DeviceId={sid};SharedAccessKey={sas}"
        ),
        "client-cert": pem,
        "client-key": base64.b64encode(der).decode(),
    }


def account_secrets() -> dict[str, str]:
    """Account-level Secret values."""
    return {key: base64.b64encode(_digest("account", key)).decode() for key in ACCOUNT_SECRET_KEYS}


def seed_fleet(store: Store, devices: Sequence[tuple[str, str | None]]) -> None:
    """Give ``devices`` (already registered in ``store``) the demo set, plus account items and keys."""
    for key, value in ACCOUNT_CONFIGS.items():
        store.create_item("config", key, value)
    for key, value in account_secrets().items():
        store.create_item("secret", key, value)
    for n, (sid, _name) in enumerate(devices, start=1):
        for key, value in device_configs(n).items():
            store.create_item("config", key, value, sid)
        for key, value in device_secrets(sid).items():
            store.create_item("secret", key, value, sid)
    for name in API_KEY_NAMES:
        # Fixed SIDs, so that an inventory of the fleet is the same text every time.
        store.create_key(name, sid="SK" + hashlib.sha256(f"key-{name}".encode()).hexdigest()[:32])

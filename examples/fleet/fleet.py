"""A small Microvisor fleet: account-wide settings, one secret, per-device settings and secrets, an API key.

``deploy()`` declares everything and exports the stack outputs; ``__main__.py`` beside this file calls
it, and the tests call it under ``pulumi.runtime.set_mocks``. Copy this folder to start your own stack.

Stack config (all optional; the project namespace is ``microvisor-fleet``)::

    pulumi config set apiEndpoint https://telemetry.example.com/v1
    pulumi config set logLevel debug
    pulumi config set reportInterval 30
    pulumi config set --secret telemetryToken '...'
    pulumi config set --secret deviceToken '...'     # each device gets its own token derived from it
    pulumi config set --path 'devices[0]' UV...      # device SIDs or unique names

By default the devices are the ones the local emulator seeds, the first named by its ``UV…`` SID and
the others by unique name: both work, and the outputs always carry the resolved SIDs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pulumi

from microvisor_pulumi import AccountConfig, AccountSecret, ApiKey, DeviceConfig, DeviceSecret
from microvisor_pulumi.emulator import DEFAULT_DEVICES

# Fallbacks so the demo runs with no config at all. They are not secrets worth the name: set your own
# with `pulumi config set --secret ...` before pointing this stack at a real Twilio account.
DEMO_TELEMETRY_TOKEN = "demo-telemetry-token"
DEMO_DEVICE_TOKEN = "demo-device-token"
DEFAULT_API_ENDPOINT = "https://telemetry.example.com/v1"
DEFAULT_LOG_LEVEL = "info"
DEFAULT_REPORT_INTERVAL = "60"


def default_devices() -> list[str]:
    """The emulator's seeded devices: the first by SID, the others by unique name, to show both work."""
    return [sid if index == 0 else (name or sid) for index, (sid, name) in enumerate(DEFAULT_DEVICES)]


def device_token(base_token: str, device: str) -> str:
    """One device's token, derived from the fleet-wide one so that no two devices share a secret.

    Derived from the name the program uses for the device (SID or unique name), so it is stable as
    long as the device list is.
    """
    return hmac.new(base_token.encode(), device.encode(), hashlib.sha256).hexdigest()


def _derive_for(device: str) -> Callable[[str], str]:
    # A function per device: a lambda in the loop would see only the last device.
    return lambda base_token: device_token(base_token, device)


def deploy() -> dict[str, pulumi.Output[Any]]:
    """Declare the fleet's resources, export the stack outputs and return them by name."""
    config = pulumi.Config()
    api_endpoint = config.get("apiEndpoint") or DEFAULT_API_ENDPOINT
    log_level = config.get("logLevel") or DEFAULT_LOG_LEVEL
    report_interval = config.get("reportInterval") or DEFAULT_REPORT_INTERVAL
    telemetry_token = config.get_secret("telemetryToken") or pulumi.Output.secret(DEMO_TELEMETRY_TOKEN)
    base_device_token = config.get_secret("deviceToken") or pulumi.Output.secret(DEMO_DEVICE_TOKEN)
    devices: list[str] = config.get_object("devices") or default_devices()

    # Account-wide: every device on the account can fetch these.
    endpoint = AccountConfig("api-endpoint", key="api-endpoint", value=api_endpoint)
    level = AccountConfig("log-level", key="log-level", value=log_level)
    telemetry = AccountSecret("telemetry-token", key="telemetry-token", value=telemetry_token)

    # Per device. Resource names carry the device as the program names it, so reordering the list
    # does not replace anything.
    device_configs: list[DeviceConfig] = []
    device_secrets: list[DeviceSecret] = []
    for device in devices:
        device_configs.append(
            DeviceConfig(
                f"{device}-report-interval",
                device_sid=device,
                key="report-interval",
                value=report_interval,
            )
        )
        device_secrets.append(
            DeviceSecret(
                f"{device}-device-token",
                device_sid=device,
                key="device-token",
                # apply on a secret gives a secret: the derived token never shows in plain text.
                value=base_device_token.apply(_derive_for(device)),
            )
        )

    # A key for the fleet's back end. Its secret exists only in this stack's state from now on.
    api_key = ApiKey(
        "fleet-api-key",
        friendly_name=f"{pulumi.get_project()}-{pulumi.get_stack()} fleet"[:64],
    )

    outputs: dict[str, pulumi.Output[Any]] = {
        "api_endpoint": endpoint.value,
        "log_level": level.value,
        "telemetry_token_rotated": telemetry.date_rotated,
        "device_sids": pulumi.Output.all(*[c.device_sid for c in device_configs]),
        "device_names": pulumi.Output.all(*[c.device_name for c in device_configs]),
        "device_token_rotated": pulumi.Output.all(*[s.date_rotated for s in device_secrets]),
        "api_key_sid": api_key.sid,
        "api_key_account_sid": api_key.account_sid,
        # Already a secret output of ApiKey: `pulumi stack output` shows it as [secret].
        "api_key_secret": api_key.secret,
    }
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs

"""A second stack that builds on the fleet stack's outputs through a ``pulumi.StackReference``.

It re-exports the fleet's API endpoint, publishes a URL derived from it as an account Config, and
hands the fleet's API key to the devices as a Microvisor Secret (``<sid>:<secret>``). The key's
secret arrives as a secret through the StackReference and stays one: in the Secret's value, in
this stack's state and in its outputs.

Stack config (project namespace ``microvisor-consumer``):

    pulumi config set fleetStack organization/microvisor-fleet/dev   # the default, for a file backend

plus the same ``twilio:*`` settings as the fleet stack, since this stack writes to the same account.
"""

from __future__ import annotations

from typing import Any

import pulumi

from microvisor_pulumi import AccountConfig, AccountSecret

FLEET_PROJECT = "microvisor-fleet"


def fleet_stack_name() -> str:
    """The fleet stack to read: config ``fleetStack``, else the fleet project's stack of this name.

    ``organization`` is the organization a file backend (``pulumi login file://...``) uses; on
    Pulumi Cloud, set ``fleetStack`` to ``<your-org>/microvisor-fleet/<stack>``.
    """
    return pulumi.Config().get("fleetStack") or f"organization/{FLEET_PROJECT}/{pulumi.get_stack()}"


def telemetry_url(endpoint: str) -> str:
    """Where devices post telemetry: under the fleet's API endpoint."""
    return endpoint.rstrip("/") + "/telemetry"


def deploy() -> dict[str, pulumi.Output[Any]]:
    """Read the fleet stack, declare what builds on it, export the stack outputs and return them."""
    fleet = pulumi.StackReference(fleet_stack_name())
    endpoint = fleet.require_output("api_endpoint")
    key_sid = fleet.require_output("api_key_sid")
    # require_output keeps the secretness the fleet stack gave this output.
    key_secret = fleet.require_output("api_key_secret")

    url = AccountConfig("telemetry-url", key="telemetry-url", value=endpoint.apply(telemetry_url))
    uplink = AccountSecret(
        "uplink-credentials",
        key="uplink-credentials",
        value=pulumi.Output.format("{0}:{1}", key_sid, key_secret),
    )

    outputs: dict[str, pulumi.Output[Any]] = {
        "api_endpoint": endpoint,
        "telemetry_url": url.value,
        "uplink_credentials_rotated": uplink.date_rotated,
        "api_key_sid": key_sid,
        "api_key_secret": key_secret,
    }
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs

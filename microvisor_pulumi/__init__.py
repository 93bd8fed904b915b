"""Pulumi resources for Twilio Microvisor Configs and Secrets and Twilio API keys.

The public API is exactly what this module exports::

    from microvisor_pulumi import AccountConfig, DeviceConfig, AccountSecret, DeviceSecret, ApiKey
    from microvisor_pulumi import RotatingApiKey

Credentials come from the stack config (``twilio:accountSid``, ``twilio:authToken`` or
``twilio:apiKey`` and ``twilio:apiSecret``, ``twilio:region``, ``twilio:edge``, ``twilio:endpoint``)
or else from the ``TWILIO_*`` environment variables, read when the provider runs.
"""

from microvisor_pulumi._version import __version__
from microvisor_pulumi.resources._provider import AlreadyExists, MicrovisorPulumiError
from microvisor_pulumi.resources.api_key import ApiKey
from microvisor_pulumi.resources.microvisor import AccountConfig, AccountSecret, DeviceConfig, DeviceSecret
from microvisor_pulumi.resources.rotating_api_key import RotatingApiKey

__all__ = [
    "AccountConfig",
    "AccountSecret",
    "AlreadyExists",
    "ApiKey",
    "DeviceConfig",
    "DeviceSecret",
    "MicrovisorPulumiError",
    "RotatingApiKey",
    "__version__",
]

# Adopting an existing fleet (issue 12): one declaration for many devices, and device lookups.
from microvisor_pulumi.lookups import DeviceInfo, get_device, get_devices  # noqa: E402
from microvisor_pulumi.resources.profile import DeviceProfile  # noqa: E402

__all__ += ["DeviceInfo", "DeviceProfile", "get_device", "get_devices"]

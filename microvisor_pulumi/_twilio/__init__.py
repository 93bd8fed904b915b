"""Twilio HTTP layer: settings, hosts, errors and one thread-safe client. Knows nothing about Pulumi.

`TwilioClient` is loaded on first use: it brings in `urllib3`, which costs a provider host tens of
milliseconds at start, and a host that only checks and diffs (`pulumi preview`) never needs it.
"""

from typing import TYPE_CHECKING, Any

from microvisor_pulumi._twilio.errors import (
    AuthFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    MissingCredentials,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    TwilioError,
)
from microvisor_pulumi._twilio.hosts import base_url
from microvisor_pulumi._twilio.settings import CONFIG_KEYS, Settings, backoff_delay

if TYPE_CHECKING:
    from microvisor_pulumi._twilio.client import TwilioClient


def __getattr__(name: str) -> Any:
    if name == "TwilioClient":
        from microvisor_pulumi._twilio.client import TwilioClient

        return TwilioClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_KEYS",
    "AuthFailed",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "MissingCredentials",
    "NetworkError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Settings",
    "Timeout",
    "TwilioClient",
    "TwilioError",
    "backoff_delay",
    "base_url",
]

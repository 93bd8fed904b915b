"""Twilio HTTP layer: settings, hosts, errors and one thread-safe client. Knows nothing about Pulumi."""

from microvisor_pulumi._twilio.client import TwilioClient
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
from microvisor_pulumi._twilio.settings import Settings

__all__ = [
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
    "base_url",
]

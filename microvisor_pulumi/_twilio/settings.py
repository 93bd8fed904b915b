"""Connection settings for the Twilio HTTP layer, resolved from Pulumi config and the environment."""

from __future__ import annotations

import ipaddress
import math
import os
import random
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from microvisor_pulumi._twilio.errors import MissingCredentials
from microvisor_pulumi._twilio.hosts import normalize_endpoint

# (config key, environment variable) for every setting; config always wins over the environment.
_KEYS: dict[str, tuple[str, str]] = {
    "account_sid": ("twilio:accountSid", "TWILIO_ACCOUNT_SID"),
    "auth_token": ("twilio:authToken", "TWILIO_AUTH_TOKEN"),
    "api_key": ("twilio:apiKey", "TWILIO_API_KEY"),
    "api_secret": ("twilio:apiSecret", "TWILIO_API_SECRET"),
    "region": ("twilio:region", "TWILIO_REGION"),
    "edge": ("twilio:edge", "TWILIO_EDGE"),
    "endpoint": ("twilio:endpoint", "TWILIO_ENDPOINT"),
    "connect_timeout": ("twilio:connectTimeout", "TWILIO_CONNECT_TIMEOUT"),
    "read_timeout": ("twilio:readTimeout", "TWILIO_READ_TIMEOUT"),
    "max_retries": ("twilio:maxRetries", "TWILIO_MAX_RETRIES"),
    "retry_base_delay": ("twilio:retryBaseDelay", "TWILIO_RETRY_BASE_DELAY"),
    "max_concurrency": ("twilio:maxConcurrency", "TWILIO_MAX_CONCURRENCY"),
    "allow_insecure_endpoint": ("twilio:allowInsecureEndpoint", "TWILIO_ALLOW_INSECURE_ENDPOINT"),
}

#: Every stack config key a provider or a lookup reads, in the order of the table above.
CONFIG_KEYS: tuple[str, ...] = tuple(config_key for config_key, _ in _KEYS.values())

#: No back-off between retries grows past this many seconds (nor may twilio:retryBaseDelay).
RETRY_DELAY_CAP = 8.0


def backoff_delay(attempt: int, base: float, cap: float = RETRY_DELAY_CAP) -> float:
    """How long to wait before retry number ``attempt`` (1 for the first) with no Retry-After.

    The step doubles from ``base`` up to ``cap``; "equal jitter" waits half the step plus a random
    part of the other half, so concurrent callers spread out but every caller still backs off.
    """
    if attempt < 1:
        return 0.0
    step = min(cap, base * 2 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


#: Requests to Twilio in flight at once per process and account, unless configured otherwise.
DEFAULT_MAX_CONCURRENCY = 32


@dataclass(frozen=True)
class Settings:
    """How to reach Twilio: credentials, region/edge or endpoint override, timeouts and retry budget.

    Credentials are either an API key pair (``api_key`` + ``api_secret``, with ``account_sid`` for
    the account-scoped paths) or the account pair (``account_sid`` + ``auth_token``). The two secret
    fields are left out of ``repr``. Build one with :meth:`resolve` rather than by hand.
    """

    account_sid: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    region: str | None = None
    edge: str | None = None
    endpoint: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 4
    # The first retry waits about this long; each later one twice as long as the one before, up to
    # RETRY_DELAY_CAP, each with jitter (see client.backoff_delay). A Retry-After from Twilio wins.
    retry_base_delay: float = 0.25
    retry_max_seconds: float = 60.0
    # At most this many requests out at once (per process and account; 1 = one at a time).
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    # Plain http:// to a host that is not this machine sends the credentials in clear text: refused
    # unless this is set (see check_endpoint_transport).
    allow_insecure_endpoint: bool = False

    @classmethod
    def resolve(
        cls,
        config: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from Pulumi config (``twilio:*`` keys) first, then environment variables.

        The secret pair comes whole from the first source (config, then environment) holding a
        complete pair, an API key pair beating an account pair within one source, so a stack's
        config is never combined with a stray shell variable. When the account pair is chosen its
        Account SID comes from the same source. Everything else resolves field by field. Empty
        strings count as unset. Bad numbers raise ``ValueError`` naming the key; missing credentials
        never raise here (``basic_auth`` does, when a call needs them).
        """
        cfg = _clean(config or {})
        env = _clean(os.environ if environ is None else environ)
        sources = ((cfg, 0), (env, 1))  # index into the (config key, env var) pair

        def pick(name: str) -> str | None:
            for source, idx in sources:
                value = source.get(_KEYS[name][idx])
                if value is not None:
                    return value
            return None

        account_sid = pick("account_sid")
        auth_token = api_key = api_secret = None
        for source, idx in sources:
            key, secret = source.get(_KEYS["api_key"][idx]), source.get(_KEYS["api_secret"][idx])
            if key and secret:
                api_key, api_secret = key, secret
                break
            sid, token = source.get(_KEYS["account_sid"][idx]), source.get(_KEYS["auth_token"][idx])
            if sid and token:
                account_sid, auth_token = sid, token
                break

        # The two secrets (the SIDs are not secret, and are checked where they are used): the stack's
        # own even when its pair is incomplete (`preview` then names the key), the environment's
        # only when used.
        for name, value in (("auth_token", auth_token), ("api_secret", api_secret)):
            config_key = _KEYS[name][0]
            _check_credential(cfg.get(config_key), config_key)
            _check_credential(value, _origin(name, cfg))

        endpoint = pick("endpoint")
        allow_insecure = _flag(pick("allow_insecure_endpoint"), _origin("allow_insecure_endpoint", cfg))
        if endpoint is not None:
            endpoint = normalize_endpoint(endpoint, key=_origin("endpoint", cfg))
            check_endpoint_transport(
                endpoint,
                allow_insecure,
                key=_origin("endpoint", cfg),
                # Name the opt-in where the endpoint itself was set: stack config or environment.
                allow_key=_KEYS["allow_insecure_endpoint"][0 if _KEYS["endpoint"][0] in cfg else 1],
            )
        defaults = cls()

        def seconds(name: str, default: float) -> float:
            return _seconds(pick(name), _origin(name, cfg), default)

        return cls(
            account_sid=account_sid,
            auth_token=auth_token,
            api_key=api_key,
            api_secret=api_secret,
            region=_host_label(pick("region"), _origin("region", cfg)),
            edge=_host_label(pick("edge"), _origin("edge", cfg)),
            endpoint=endpoint,
            connect_timeout=seconds("connect_timeout", defaults.connect_timeout),
            read_timeout=seconds("read_timeout", defaults.read_timeout),
            max_retries=_count(pick("max_retries"), _origin("max_retries", cfg), defaults.max_retries),
            retry_base_delay=_at_most(
                seconds("retry_base_delay", defaults.retry_base_delay), _origin("retry_base_delay", cfg)
            ),
            max_concurrency=_positive(
                pick("max_concurrency"), _origin("max_concurrency", cfg), defaults.max_concurrency
            ),
            allow_insecure_endpoint=allow_insecure,
        )

    def basic_auth(self) -> tuple[str, str]:
        """The HTTP Basic (username, password): the API key pair if set, else the account pair."""
        if self.api_key and self.api_secret:
            return (self.api_key, self.api_secret)
        if self.account_sid and self.auth_token:
            return (self.account_sid, self.auth_token)
        raise MissingCredentials()

    def secrets(self) -> tuple[str, ...]:
        """The non-empty secret strings, which must never appear in an error message or log."""
        return tuple(s for s in (self.auth_token, self.api_secret) if s)


class InsecureEndpointWarning(UserWarning):
    """Credentials are about to go in clear text to a host that is not this machine (on request)."""


_LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``: traffic that never leaves this
    machine. No name lookup: what a name resolves to can change between this check and the call."""
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint_transport(
    endpoint: str,
    allow_insecure: bool,
    *,
    key: str = "twilio:endpoint",
    allow_key: str = "twilio:allowInsecureEndpoint",
) -> None:
    """Refuse plain ``http://`` to anything but this machine, since every request carries HTTP Basic
    credentials (the Auth Token or API secret) that anyone on the way could then read and reuse.

    The emulator and a local recording proxy listen on loopback, so they keep working over http.
    ``allow_insecure`` (the user's explicit opt-in) lets any host through, with a warning.
    """
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or is_loopback_host(parts.hostname or ""):
        return
    if not allow_insecure:
        raise ValueError(
            f"{key} is plain http:// to {parts.hostname!r}, which is not this machine: the Twilio "
            "credentials would travel in clear text. Use https://, or (only on a network you trust) "
            f"set {allow_key}=true to send them unencrypted anyway. Plain http:// is accepted "
            "without it only for localhost, 127.0.0.0/8 and ::1."
        )
    warnings.warn(
        f"{key} {endpoint} is plain http:// to another machine and {allow_key} is set: Twilio "
        "credentials are sent unencrypted to whatever answers there.",
        InsecureEndpointWarning,
        stacklevel=3,
    )


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _flag(raw: str | None, key: str) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError(f"{key} must be true or false, got {raw!r}")


# Twilio's Auth Tokens and API key secrets are letters and digits; HTTP Basic auth can carry only
# Latin-1. Anything else is a paste gone wrong (a typographic quote, a space, a newline).
_CREDENTIAL_RE = re.compile(r"[\x21-\x7e]+")


def _check_credential(value: str | None, key: str) -> None:
    """A secret with a character no Twilio secret has is refused naming the key, before any call.

    Sent on, it failed deep in the HTTP library with that library's words, which quote the character
    and its position in the secret; the message here shows no part of the value.
    """
    if value is not None and not _CREDENTIAL_RE.fullmatch(value):
        raise ValueError(
            f"{key} must be printable ASCII with no spaces, as every Twilio credential is: it holds another "
            "character (a typographic quote, a space or a line break, perhaps pasted with it)"
        )


def _clean(source: Mapping[str, object]) -> dict[str, str]:
    # Empty strings mean "unset" (e.g. `export TWILIO_REGION=` or an emptied config key).
    return {k: str(v) for k, v in source.items() if v is not None and str(v) != ""}


def _origin(name: str, cfg: Mapping[str, str]) -> str:
    """The key a value came from, so an error names what the user must fix."""
    config_key, env_var = _KEYS[name]
    return config_key if config_key in cfg else env_var


def _seconds(raw: str | None, key: str, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{key} must be a positive number of seconds, got {raw!r}")
    return value


def _at_most(value: float, key: str, cap: float = RETRY_DELAY_CAP) -> float:
    if value > cap:
        raise ValueError(f"{key} must be at most {cap:g} seconds, got {value:g}")
    return value


# One label of a host name: a region ("au1") or an edge ("sydney", "sao-paulo").
_HOST_LABEL_RE = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def _host_label(raw: str | None, key: str) -> str | None:
    """A region or edge, which becomes part of Twilio's host name: anything but one name label
    (a '.', '@', ':', '/' or '#') would send the request, and its credentials, to another host."""
    if raw is None:
        return None
    value = raw.strip()
    if not _HOST_LABEL_RE.match(value):
        raise ValueError(
            f"{key} must be one Twilio region or edge name, letters, digits and '-' (e.g. 'au1', "
            f"'sydney'), got {raw!r}"
        )
    return value


def _count(raw: str | None, key: str, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{key} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{key} must be zero or more, got {raw!r}")
    return value


def _positive(raw: str | None, key: str, default: int) -> int:
    value = _count(raw, key, default)
    if value < 1:
        raise ValueError(f"{key} must be 1 or more, got {raw!r}")
    return value

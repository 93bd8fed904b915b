"""Every error the Twilio HTTP layer raises, in one place (modelled on ``requests.exceptions``).

Callers branch on the class (``NotFound`` means "gone", ``retryable`` means "safe to try again
later"), never on message text. Messages are one line and never contain a request body, an
Authorization header, the auth token, the API secret or any value that was sent: the client scrubs
the server's text before it builds an exception, and no exception keeps a request or response.
"""

from __future__ import annotations

from typing import Any


class TwilioError(Exception):
    """A Twilio API call failed; base class of every error this package raises."""

    #: True when repeating the same call later may succeed (rate limits, 5xx, network trouble).
    retryable: bool = False
    #: First words of ``str(error)``; subclasses name their kind of failure.
    _label = "Twilio API error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        more_info: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.more_info = more_info
        self.method = method
        self.path = path
        # args carries the rendered line so repr() and logging show the same safe text.
        super().__init__(self._render())

    def _render(self) -> str:
        head = self._label
        if self.status is not None:
            head += f" {self.status}"
        if self.code is not None:
            head += f" (code {self.code})"
        if self.method and self.path:
            head += f" on {self.method} {self.path}"
        text = f"{head}: {self.message}"
        if self.more_info:
            text = f"{text.rstrip('.')}. More info: {self.more_info}"
        return text

    def __str__(self) -> str:
        return self._render()

    def _kwargs(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "more_info": self.more_info,
            "method": self.method,
            "path": self.path,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments: rebuild through a helper so errors survive pickling
        # (e.g. across a process pool) with all their attributes.
        return (_rebuild, (type(self), self.message, self._kwargs()))


def _rebuild(cls: type[TwilioError], message: str, kwargs: dict[str, Any]) -> TwilioError:
    return cls(message, **kwargs)


class NotFound(TwilioError):
    """HTTP 404: the resource does not exist (treat as gone on read)."""


class Conflict(TwilioError):
    """HTTP 409: the request conflicts with the resource's current state."""


class InvalidInput(TwilioError):
    """HTTP 400 or 422: Twilio rejected a parameter (also a duplicate key on some create calls)."""


class AuthFailed(TwilioError):
    """HTTP 401: the credentials were missing or wrong."""


class Forbidden(TwilioError):
    """HTTP 403: the credentials are valid but may not do this (e.g. a Standard key managing keys)."""


class RateLimited(TwilioError):
    """HTTP 429 after all retries: too many requests; ``retry_after`` is the server's hint in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "retry_after": self.retry_after}


class ServerError(TwilioError):
    """HTTP 5xx after all retries: Twilio (or a proxy in front of it) failed."""

    retryable = True


class NetworkError(TwilioError):
    """No HTTP response: connection refused, reset or dropped; ``status`` is None."""

    retryable = True
    _label = "Twilio API network error"


class Timeout(NetworkError):
    """No HTTP response in time: the connect or read timeout expired."""


class MissingCredentials(TwilioError):
    """No usable Twilio credentials were configured; the message names the settings to provide."""

    DEFAULT_MESSAGE = (
        "No Twilio credentials found. Set the Pulumi config keys twilio:accountSid and "
        "twilio:authToken (or twilio:apiKey and twilio:apiSecret, plus twilio:accountSid), e.g. "
        "`pulumi config set --secret twilio:authToken ...`, or the environment variables "
        "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)."
    )

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message or self.DEFAULT_MESSAGE, **kwargs)

    def _render(self) -> str:
        # Not an API response: no status, code or request line to show.
        return self.message


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
    "Timeout",
    "TwilioError",
]

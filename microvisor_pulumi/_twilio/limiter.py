"""How many requests may be out to Twilio at once: one adaptive (AIMD) limiter per process and account.

Twilio caps concurrent REST requests per account and answers 429 (code 20429) above the cap, without
processing the request. Every thread of a provider host shares one :class:`AdaptiveLimiter` per
account (see :func:`limiter_for`), so the cap is respected however many operations the host serves:

* never more than ``limit`` (``twilio:maxConcurrency``) requests out at once;
* a 429 halves the window (once per round trip: the 429s of one burst were all sent before the first
  of them came back, so they count as one signal), and each answered request grows it back by
  ``1 / window``, i.e. by one request per window's worth of answers (TCP's congestion avoidance);
* a request that got a 429 gives its place up while it waits for ``Retry-After`` (or its backoff)
  and queues again for a new one, so waiting requests never hold the window.

Only the HTTP layer uses it: ``client._PolicyAdapter`` takes a :class:`Slot` per request and
``client.BudgetRetry`` hands it back and takes it again around each retry's sleep.
"""

from __future__ import annotations

import threading
import time

from microvisor_pulumi._twilio.errors import Timeout
from microvisor_pulumi._twilio.settings import Settings

_THROTTLED = 429


class AdaptiveLimiter:
    """A counting gate whose width moves between 1 and ``limit``: halved on 429, grown back slowly.

    Thread-safe. ``acquire`` blocks until a place is free and returns a :class:`Slot`; the slot is
    released with the status the request got (None when there was no response).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}")
        self._cond = threading.Condition(threading.Lock())
        self._limit = limit
        self._window = float(limit)
        self._in_flight = 0
        self._last_cut = float("-inf")
        #: Most requests out at once so far, and how many 429s came back: for tests and benchmarks.
        self.peak = 0
        self.throttled = 0

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}")
        with self._cond:
            # A full window stays full at the new limit; a cut one stays cut (within the new limit).
            full = self._window >= self._limit
            self._limit = limit
            self._window = float(limit) if full else min(self._window, float(limit))
            self._cond.notify_all()

    @property
    def window(self) -> float:
        """How many requests may be out now (a float: additive increase moves it in fractions)."""
        return self._window

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _room(self) -> int:
        return max(1, int(self._window))

    def acquire(self, timeout: float | None = None) -> Slot:
        """Wait for a place (at most ``timeout`` seconds: then raise Timeout) and take it."""
        return Slot(self, self._take(timeout))

    def _take(self, timeout: float | None) -> float:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._in_flight >= self._room():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Timeout(
                        f"no place among the {self._room()} requests allowed out to Twilio at once "
                        f"came free within {timeout:g} s"
                    )
                self._cond.wait(remaining)
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            return time.monotonic()

    def _release(self, slot: Slot, status: int | None, load: int | None = None) -> None:
        with self._cond:
            self._in_flight -= 1
            if status == _THROTTLED:
                self.throttled += 1
                if slot.sent_at > self._last_cut:
                    # Only requests sent after the last cut tell us the smaller window is too wide.
                    self._window = max(1.0, self._window / 2)
                    self._last_cut = time.monotonic()
            elif status is not None and self._window < self._limit:
                self._window = min(float(self._limit), self._window + 1 / self._window)
            self._cond.notify_all()


class Slot:
    """One request's place in an :class:`AdaptiveLimiter`; released at most once per taking."""

    __slots__ = ("_limiter", "held", "sent_at")

    def __init__(self, limiter: AdaptiveLimiter, sent_at: float) -> None:
        self._limiter = limiter
        self.sent_at = sent_at
        self.held = True

    def release(self, status: int | None, load: int | None = None) -> None:
        """Give the place back, telling the limiter what came of the request (idempotent): its
        status, and Twilio's count of the account's requests in flight if the response had one."""
        if self.held:
            self.held = False
            self._limiter._release(self, status, load)

    def retake(self, timeout: float | None = None) -> None:
        """Queue again for a place (before a retry) after :meth:`release`."""
        if not self.held:
            self.sent_at = self._limiter._take(timeout)
            self.held = True


_LIMITERS: dict[tuple[str, str], AdaptiveLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(settings: Settings) -> AdaptiveLimiter:
    """The process-wide limiter for the account (and endpoint) of ``settings``; made on first use.

    Keyed by endpoint too: two emulators (or Twilio and an emulator) are two servers with a limit
    each. The limit follows the latest settings, so a reconfigured host uses the new value.
    """
    who = settings.account_sid or settings.api_key or ""
    key = (settings.endpoint or "", who)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = AdaptiveLimiter(settings.max_concurrency)
        elif limiter.limit != settings.max_concurrency:
            limiter.limit = settings.max_concurrency
    return limiter

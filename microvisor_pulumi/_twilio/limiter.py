"""How many requests may be out to Twilio at once: one adaptive (AIMD) limiter per process and account.

Twilio caps concurrent REST requests per account and answers 429 (code 20429) above the cap, without
processing the request. Every thread of a provider host shares one :class:`AdaptiveLimiter` per
account (see :func:`limiter_for`), so the cap is respected however many operations the host serves:

* never more than ``limit`` (``twilio:maxConcurrency``) requests out at once;
* a request that got a 429 gives its place up while it waits for ``Retry-After`` (or its backoff)
  and queues again for a new one, so waiting requests never hold the window;
* a 429 narrows the window once per round trip (the 429s of one burst were all sent before the
  first of them came back, so they count as one signal), and answered requests widen it again.

How far and how fast depends on what Twilio says. Every response carries
``Twilio-Concurrent-Requests``, the account's requests in flight when it arrived (every client's,
this one included):

* with it, a 429's count tells the account's limit within one (``ceiling``), and tells how many of
  the requests this process had out then were too many: the window drops to what fitted, and by at
  most 1/8 more (the multiplicative cut that moves clients sharing an account towards equal shares,
  as in TCP). Each answer tells what room the account had when it arrived: this process's requests
  out then plus the free places, which counts other clients' requests and the time ours spend in
  this process rather than at Twilio. The window grows by one per window's worth of answers while
  it stays a place below that room (a smaller room believed at once, a larger one over two windows:
  the count jitters with every arrival), and 64 times slower beyond it, to find a raised limit.
  So it settles just under the limit instead of oscillating between half of it and all of it;
* without it (another server, a proxy that drops the header), a 429 halves the window and each
  answer grows it by ``1 / window``: TCP's congestion avoidance.

Only the HTTP layer uses it: ``client.TwilioClient`` takes a :class:`Slot` per request and
``client.BudgetRetry`` hands it back and takes it again around each retry's sleep.
"""

from __future__ import annotations

import threading
import time

from microvisor_pulumi._twilio.errors import Timeout
from microvisor_pulumi._twilio.settings import Settings

_THROTTLED = 429
# With Twilio's load figures: the cut on a 429, and how much slower the window probes past the room
# it knows of than it grows within it.
_GENTLE_CUT = 0.875
_PROBE_SLOWDOWN = 64.0
# A larger room than the last one seen is believed over about this many windows of answers.
_ROOM_MEMORY = 2.0


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
        # From Twilio-Concurrent-Requests: the account's limit as its 429s tell it (None until one
        # came with the header).
        self.ceiling: float | None = None
        self._room_seen = float(limit)
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
        return Slot(self, *self._take(timeout))

    def _take(self, timeout: float | None) -> tuple[float, int]:
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
            return time.monotonic(), self._in_flight

    def _release(self, slot: Slot, status: int | None, load: int | None = None) -> None:
        with self._cond:
            self._in_flight -= 1
            if status == _THROTTLED:
                self.throttled += 1
                self._throttled(slot, load)
            elif status is not None:
                self._answered(slot, load)
            self._cond.notify_all()

    def _throttled(self, slot: Slot, load: int | None) -> None:
        fresh = slot.sent_at > self._last_cut  # sent after the last cut: the smaller window is too wide
        if fresh:
            self._last_cut = time.monotonic()
        if load is None:
            if fresh:
                self._window = max(1.0, self._window / 2)
            return
        # Twilio counted this request among `load` and refused it: the limit is below that, and
        # of the `slot.out` we had out then, `load - limit` were too many.
        self.ceiling = load - 1.0 if self.ceiling is None else min(self.ceiling, load - 1.0)
        fits = slot.out - (load - self.ceiling)
        cut = self._window * _GENTLE_CUT if fresh else self._window
        self._window = max(1.0, min(cut, fits))

    def _answered(self, slot: Slot, load: int | None) -> None:
        if load is not None and self.ceiling is not None and load > self.ceiling:
            self.ceiling = float(load)  # Twilio took `load` at once: the limit is at least that
        full = False
        if load is not None and self.ceiling is not None:
            # What Twilio's count left room for when this request arrived: ours then plus the free
            # places (answers lag a round trip, so not the window now). It jitters with every
            # arrival: believe a smaller room at once, a larger one only slowly.
            room = slot.out + self.ceiling - load
            if room < self._room_seen:
                self._room_seen = room
            else:
                self._room_seen += (room - self._room_seen) / (_ROOM_MEMORY * self._window)
            full = self._window + 1 > self._room_seen
        if self._window >= self._limit:
            return
        step = 1 / self._window
        if full:
            step /= _PROBE_SLOWDOWN  # the account is full: look for a raised limit, rarely
        self._window = min(float(self._limit), self._window + step)


class Slot:
    """One request's place in an :class:`AdaptiveLimiter`; released at most once per taking."""

    __slots__ = ("_limiter", "held", "out", "sent_at")

    def __init__(self, limiter: AdaptiveLimiter, sent_at: float, out: int) -> None:
        self._limiter = limiter
        self.sent_at = sent_at
        self.out = out  # this process's requests out once this one was, itself included
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
            self.sent_at, self.out = self._limiter._take(timeout)
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

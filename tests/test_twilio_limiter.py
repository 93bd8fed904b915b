"""The adaptive limiter (one per process and account) and the client's use of it, against a local server."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _http_fixture import Canned, FakeTwilio, Received

from microvisor_pulumi._twilio import Settings, TwilioClient
from microvisor_pulumi._twilio.errors import Timeout
from microvisor_pulumi._twilio.limiter import AdaptiveLimiter, limiter_for

AC = "AC" + "0" * 32
TOKEN = "tok-CANARY-limiter"
CONFIG = {"key": "k", "value": "v", "date_updated": "2024-01-01T00:00:00Z", "url": "x"}
THROTTLED = {"code": 20429, "message": "Too Many Requests"}


# -- the limiter on its own ---------------------------------------------------------------------


def test_window_halves_once_per_round_trip_and_grows_back_by_one_per_window() -> None:
    limiter = AdaptiveLimiter(8)
    burst = [limiter.acquire(0) for _ in range(8)]
    for slot in burst:  # eight 429s from one burst: all sent before the first came back
        slot.release(429)
    assert limiter.window == 4 and limiter.throttled == 8
    limiter.acquire(0).release(429)  # sent after the cut: the smaller window is still too wide
    assert limiter.window == 2
    for _ in range(2):
        limiter.acquire(0).release(200)
    assert limiter.window == pytest.approx(2 + 1 / 2 + 1 / 2.5)  # +1/window per answer
    for _ in range(200):
        limiter.acquire(0).release(200)
    assert limiter.window == 8  # back to the limit, never above it


def test_window_never_drops_below_one_and_errors_do_not_move_it() -> None:
    limiter = AdaptiveLimiter(2)
    for _ in range(10):
        limiter.acquire(0).release(429)
    assert limiter.window == 1
    limiter.acquire(0).release(None)  # no answer (network error): no signal either way
    assert limiter.window == 1


def test_acquire_waits_for_a_place_and_times_out_cleanly() -> None:
    limiter = AdaptiveLimiter(1)
    held = limiter.acquire(0)
    with pytest.raises(Timeout, match="1 requests allowed out"):
        limiter.acquire(0.05)
    got: list[float] = []

    def waiter() -> None:
        limiter.acquire(5).release(200)
        got.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)
    assert not got  # still queued behind the held place
    released_at = time.monotonic()
    held.release(200)
    held.release(200)  # a second release is a no-op, never a second place
    thread.join(5)
    assert got and got[0] >= released_at and limiter.in_flight == 0


def test_one_limiter_per_account_and_endpoint_shared_by_clients() -> None:
    a = Settings(account_sid=AC, auth_token=TOKEN, endpoint="http://127.0.0.1:1", max_concurrency=5)
    b = Settings(account_sid=AC, auth_token="other", endpoint="http://127.0.0.1:1", max_concurrency=7)
    other = Settings(account_sid="AC" + "9" * 32, auth_token=TOKEN, endpoint="http://127.0.0.1:1")
    assert limiter_for(a) is limiter_for(b)
    assert limiter_for(b).limit == 7  # the latest settings win
    assert limiter_for(other) is not limiter_for(a)
    with TwilioClient(a) as one, TwilioClient(b) as two:
        assert one._limiter is two._limiter


# -- the client against a server that counts what it holds at once -----------------------------


class Counter:
    """Handler that holds each request ``hold`` seconds and records how many it held at once."""

    def __init__(self, hold: float, limit: int | None = None) -> None:
        self.hold = hold
        self.limit = limit
        self.lock = threading.Lock()
        self.now = self.peak = self.rejected = 0

    def __call__(self, seen: Received) -> Canned:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            over = self.limit is not None and self.now > self.limit
            if over:
                self.rejected += 1
        try:
            time.sleep(self.hold)
            if over:
                return Canned(429, THROTTLED, {"Retry-After": "0"})
            return Canned(201 if seen.method == "POST" else 200, CONFIG)
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def make(fake: FakeTwilio) -> Iterator[Callable[..., TwilioClient]]:
    clients: list[TwilioClient] = []

    def build(**fields: Any) -> TwilioClient:
        settings = {
            "account_sid": AC,
            "auth_token": TOKEN,
            "endpoint": fake.url,
            "max_retries": 4,
            "retry_max_seconds": 20.0,
            **fields,
        }
        client = TwilioClient(Settings(**settings, retry_base_delay=0.01))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()  # each test's server has a port (so a limiter) of its own


def run_parallel(threads: int, jobs: int, job: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(job, range(jobs)))


def test_never_more_than_max_concurrency_requests_out(fake: FakeTwilio, make) -> None:
    counter = Counter(hold=0.05)
    fake.handler = counter
    client = make(max_concurrency=4)
    results = run_parallel(16, 32, lambda i: client.fetch_item("Configs", f"k{i}"))
    assert results == [CONFIG] * 32
    assert counter.peak == 4  # in parallel, and never beyond the limit


def test_max_concurrency_one_runs_requests_one_at_a_time(fake: FakeTwilio, make) -> None:
    counter = Counter(hold=0.02)
    fake.handler = counter
    client = make(max_concurrency=1)
    run_parallel(6, 12, lambda i: client.fetch_item("Configs", f"k{i}"))
    assert counter.peak == 1


def test_a_burst_of_429s_slows_down_but_fails_nothing(fake: FakeTwilio, make) -> None:
    counter = Counter(hold=0.05, limit=3)  # the account's limit, well under ours
    fake.handler = counter
    client = make(max_concurrency=12, max_retries=8)
    gets = run_parallel(12, 36, lambda i: client.fetch_item("Configs", f"k{i}"))
    creates = run_parallel(12, 24, lambda i: client.create_item("Configs", f"n{i}", "v"))
    assert gets == [CONFIG] * 36 and creates == [CONFIG] * 24  # every one made it
    assert counter.rejected > 0  # the server did push back
    limiter = client._limiter
    assert limiter.throttled == counter.rejected
    assert limiter.window < 12  # and the window narrowed to it
    # Creates included: the server saw each create key answered 201 exactly once.
    made = [r for r in fake.received if r.method == "POST"]
    assert len({r.form["Key"] for r in made}) == 24


def test_a_request_waiting_out_retry_after_gives_its_place_up(fake: FakeTwilio, make) -> None:
    client = make(max_concurrency=1)

    def handler(seen: Received) -> Canned:
        if seen.path.endswith("/slow") and sum(r.path.endswith("/slow") for r in fake.received) == 1:
            return Canned(429, THROTTLED, {"Retry-After": "1"})
        return Canned(200, CONFIG)

    fake.handler = handler
    done: dict[str, float] = {}
    started = time.monotonic()

    def fetch(key: str) -> None:
        client.fetch_item("Configs", key)
        done[key] = time.monotonic() - started

    first = threading.Thread(target=fetch, args=("slow",))
    first.start()
    time.sleep(0.2)  # the first got its 429 and is waiting out Retry-After
    fetch("quick")
    first.join(5)
    assert done["quick"] < 0.8 <= done["slow"]  # the one place was free while the first waited


# -- with Twilio's load figures (Twilio-Concurrent-Requests): settle near the limit, share it --------


def _account(
    clients: list[AdaptiveLimiter],
    limit: int,
    trips: float,
    *,
    header: bool = True,
    joins: tuple[float, ...] = (),
) -> list[float]:
    """Requests answered per round trip by each client, after the first third of `trips` round trips.

    Event by event: each client keeps as many requests out as its window lets it; Twilio counts every
    arrival among the account's requests in flight (refused ones included, as they take their round
    trip too) and refuses those beyond `limit`; each request is back after about one round trip
    (0.9 to 1.1, seeded), and its client sends the next at once. `joins`: when each client starts."""
    rng = random.Random(20)
    events: list[tuple[float, int, int, Any, int, int]] = []
    order = itertools.count()
    out = [0]  # the account's requests in flight
    answered = [0] * len(clients)

    def send(i: int, now: float) -> None:
        while clients[i].in_flight < max(1, int(clients[i].window)):
            slot = clients[i].acquire(0)
            out[0] += 1
            status = 429 if out[0] > limit else 200
            heapq.heappush(events, (now + rng.uniform(0.9, 1.1), next(order), i, slot, status, out[0]))

    for i in range(len(clients)):
        heapq.heappush(events, (joins[i] if joins else 0.0, next(order), i, None, 0, 0))
    while events:
        now, _, i, slot, status, load = heapq.heappop(events)
        if now > trips:
            break
        if slot is not None:
            out[0] -= 1
            slot.release(status, load if header else None)
            answered[i] += status == 200 and now >= trips / 3
        send(i, now)
    for _, _, _, slot, _, _ in events:  # still out at the end: back with no answer (no signal)
        if slot is not None:
            slot.release(None)
    return [a / (trips * 2 / 3) for a in answered]


def test_with_twilios_figures_the_window_settles_just_under_the_limit() -> None:
    informed, blind = AdaptiveLimiter(32), AdaptiveLimiter(32)
    (settled,) = _account([informed], 20, 300)
    (halving,) = _account([blind], 20, 300, header=False)
    assert informed.ceiling == 20  # a 429's count tells the limit
    assert settled >= 19 > 15 > halving  # halving on every 429 leaves a quarter unused
    # It still looks for a raised limit past what it knows, rarely: a 429 burst every ~50 trips.
    assert informed.throttled <= 60 < 400 <= blind.throttled


def test_with_twilios_figures_clients_of_one_account_share_it_evenly() -> None:
    first, second = AdaptiveLimiter(32), AdaptiveLimiter(32)
    a, b = _account([first, second], 20, 600, joins=(0, 50))  # the first is alone for a while
    assert abs(a - b) <= 1 and a + b >= 19
    assert first.throttled + second.throttled <= 300  # halving: ~1,600 and 13 answered per trip
    c, d = _account([AdaptiveLimiter(32), AdaptiveLimiter(32)], 20, 600, header=False, joins=(0, 50))
    assert c + d < 15


def test_with_twilios_figures_a_raised_limit_is_found_and_a_lowered_one_followed() -> None:
    limiter = AdaptiveLimiter(32)
    _account([limiter], 20, 100)
    assert limiter.ceiling == 20
    (raised,) = _account([limiter], 30, 600)  # found by probing, then proven by answers
    assert raised >= 23 and limiter.ceiling is not None and limiter.ceiling >= 27
    (lowered,) = _account([limiter], 12, 300)  # the next 429 tells the new limit
    assert limiter.ceiling == 12 and lowered >= 11


def test_the_client_hands_twilios_figures_to_the_limiter(fake: FakeTwilio, make) -> None:
    load = iter(range(1, 100))

    def handler(seen: Received) -> Canned:
        count = next(load)
        if count == 5:
            return Canned(429, THROTTLED, {"Retry-After": "0", "Twilio-Concurrent-Requests": "7"})
        return Canned(200, CONFIG, {"Twilio-Concurrent-Requests": "3"})

    fake.handler = handler
    client = make(max_concurrency=10)
    for i in range(6):
        assert client.fetch_item("Configs", f"k{i}") == CONFIG  # the 429 retried, nothing failed
    limiter = client._limiter
    assert limiter.throttled == 1 and limiter.ceiling == 6  # 7 in flight was one too many
    # Twilio had 7 out and one was ours: the others held the whole account, so ours narrowed to one
    # and grew back by 1/window per answer while the account had room (3 in flight of 6).
    assert limiter.window == pytest.approx(2.5, abs=0.01)

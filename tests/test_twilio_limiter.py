"""The adaptive limiter (one per process and account) and the client's use of it, against a local server."""

from __future__ import annotations

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

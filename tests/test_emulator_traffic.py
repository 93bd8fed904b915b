"""Emulator options for fleet work: --latency, --concurrency-limit, in-flight counting in the log."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.emulator.__main__ import build_parser

# Long enough that eight requests started together all overlap on a busy 2-core machine (the suite
# runs four workers at once): at 0.1 s one of them was seen to finish before the last began.
LATENCY = 0.5


def burst(emu: Emulator, n: int) -> list[requests.Response]:
    """n creates sent at the same moment, each on its own connection."""
    barrier = threading.Barrier(n)
    answers: list[requests.Response | None] = [None] * n

    def send(i: int) -> None:
        barrier.wait(5)
        answers[i] = requests.post(
            f"{emu.url}/v1/Configs",
            data={"Key": f"k{i}", "Value": "v"},
            auth=(emu.account_sid, emu.auth_token),
            timeout=10,
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


@pytest.fixture
def slow() -> Iterator[Emulator]:
    with Emulator(latency=LATENCY) as emu:
        yield emu


def test_latency_delays_every_api_request_and_requests_overlap(slow: Emulator) -> None:
    answers = burst(slow, 8)
    assert [a.status_code for a in answers] == [201] * 8
    log = slow.request_log()
    assert len(log) == 8 and all(e["duration_ms"] >= LATENCY * 1000 for e in log)
    # The delay is outside the store's lock: all eight were held at once, none waited for another.
    assert slow.peak_in_flight() == 8 == max(e["in_flight"] for e in log)
    assert sorted(int(a.headers["Twilio-Concurrent-Requests"]) for a in answers) == list(range(1, 9))
    hooks = requests.get(f"{slow.url}/_emulator/requests", timeout=5).json()
    assert hooks["peak_in_flight"] == 8
    slow.clear_request_log()
    assert slow.peak_in_flight() == 0


def test_every_api_response_carries_the_concurrency_header() -> None:
    with Emulator() as emu:
        ok = requests.get(f"{emu.url}/v1/Configs", auth=(emu.account_sid, emu.auth_token), timeout=5)
        denied = requests.get(f"{emu.url}/v1/Configs", timeout=5)
        assert ok.headers["Twilio-Concurrent-Requests"] == "1"
        assert denied.status_code == 401 and denied.headers["Twilio-Concurrent-Requests"] == "1"
        assert emu.request_log()[0]["in_flight"] == 1


def test_concurrency_limit_answers_429_and_processes_nothing_above_it() -> None:
    with Emulator(latency=LATENCY, concurrency_limit=3) as emu:
        answers = burst(emu, 7)
        accepted = [a for a in answers if a.status_code == 201]
        rejected = [a for a in answers if a.status_code != 201]
        assert len(accepted) == 3 and len(rejected) == 4
        for answer in rejected:
            body = answer.json()
            assert answer.status_code == 429 and body["code"] == 20429 and body["status"] == 429
            assert answer.headers["Retry-After"] == "1"
            assert int(answer.headers["Twilio-Concurrent-Requests"]) > 3
        # Only the accepted creates exist: a 429 was not processed.
        made = {r["key"] for _, r in emu.store.list_items("config", None)}
        assert made == {a.json()["key"] for a in accepted}
        assert emu.peak_in_flight() == 7  # the log counts what arrived, rejected or not
        # Below the limit again, requests go through.
        again = requests.get(f"{emu.url}/v1/Configs", auth=(emu.account_sid, emu.auth_token), timeout=5)
        assert again.status_code == 200


def test_cli_options() -> None:
    args = build_parser().parse_args(["--latency", "0.15", "--concurrency-limit", "20"])
    assert args.latency == 0.15 and args.concurrency_limit == 20
    defaults = build_parser().parse_args([])
    assert defaults.latency == 0.0 and defaults.concurrency_limit is None
    for bad in (["--latency", "-1"], ["--latency", "soon"], ["--concurrency-limit", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_constructor_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="latency"):
        Emulator(latency=-0.5)
    with pytest.raises(ValueError, match="concurrency limit"):
        Emulator(concurrency_limit=0)

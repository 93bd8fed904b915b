"""One provider host serves twilio:maxConcurrency operations at once (the SDK's own pool has 4 threads).

This drives the real host (`python -m pulumi.dynamic`) with many concurrent slow calls. It is the
test that fails when a pulumi upgrade changes what `microvisor_pulumi/resources/_host_threads.py`
relies on: the mechanism then falls back to the stock four threads, silently for users, loudly here.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from _host import ProviderHost, engine, engine_view, urn_for
from pulumi.runtime.proto import provider_pb2 as pb

from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator
from microvisor_pulumi.resources import _host_threads

DEVICE = DEFAULT_DEVICES[0][0]
DEFAULT_MAX_CONCURRENCY = 32


@pytest.fixture(scope="module")
def slow_emu() -> Iterator[Emulator]:
    # Slow enough that 32 creates overlap for certain even on a busy two-core machine.
    with Emulator(latency=0.3) as emu:
        yield emu


def start_host(emu: Emulator, **config: str) -> ProviderHost:
    host = ProviderHost()
    host.configure(
        {
            "twilio:accountSid": emu.account_sid,
            "twilio:authToken": emu.auth_token,
            "twilio:endpoint": emu.url,
            **config,
        }
    )
    return host


def create_many(host: ProviderHost, emu: Emulator, prefix: str, n: int) -> None:
    """n DeviceSecret creates sent to the host at once, as the engine sends them with --parallel."""
    eng = engine(host, "DeviceSecret")
    eng.create({"device_sid": DEVICE, "key": f"{prefix}warm", "value": "v"})  # configure, device cache
    requests = [
        pb.CreateRequest(
            urn=urn_for(eng.type_token, f"{prefix}{i}"),
            properties=engine_view(
                eng.check({"device_sid": DEVICE, "key": f"{prefix}{i}", "value": "v"}).inputs
            ),
        )
        for i in range(n)
    ]
    emu.clear_request_log()
    futures = [eng.stub.Create.future(r) for r in requests]
    assert all(f.result(timeout=60).id for f in futures)


def test_one_host_keeps_at_least_32_operations_in_flight(slow_emu: Emulator) -> None:
    host = start_host(slow_emu)
    try:
        create_many(host, slow_emu, "wide", 48)
    finally:
        host.close()
    peak = slow_emu.peak_in_flight()
    assert peak >= DEFAULT_MAX_CONCURRENCY, (
        f"only {peak} operations in flight through one provider host (the SDK's stock pool is 4): "
        "the mechanism in microvisor_pulumi/resources/_host_threads.py no longer works with this pulumi"
    )
    assert peak <= DEFAULT_MAX_CONCURRENCY  # and the limiter keeps requests within maxConcurrency


def test_max_concurrency_one_runs_operations_one_at_a_time(slow_emu: Emulator) -> None:
    slow_emu.traffic.latency = 0.05
    host = start_host(slow_emu, **{"twilio:maxConcurrency": "1"})
    try:
        create_many(host, slow_emu, "serial", 6)
    finally:
        host.close()
        slow_emu.traffic.latency = 0.3
    assert slow_emu.peak_in_flight() == 1


def test_widening_does_nothing_outside_the_provider_host() -> None:
    # This test process is not `python -m pulumi.dynamic`: a user's program or a set_mocks test.
    assert _host_threads.widen(64) is None
    with ThreadPoolExecutor(2) as pool:
        assert pool.submit(_host_threads.widen, 64).result() is None
        assert pool._max_workers == 2


def test_widening_falls_back_when_the_sdk_is_not_as_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    class Spec:
        name = _host_threads.HOST_MAIN

    class Main:
        __spec__ = Spec()

    monkeypatch.setitem(__import__("sys").modules, "__main__", Main())
    monkeypatch.setattr(asyncio, "set_event_loop_policy", lambda policy: None)  # this process keeps its own
    with ThreadPoolExecutor(4) as pool:
        # Pretending to be the host: a worker of a ThreadPoolExecutor is widened...
        assert pool.submit(_host_threads.widen, 40).result() == 40
        assert pool._max_workers == 40
    # ...but a thread that is not one (other SDK internals) is left alone, without an error.
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(_host_threads.widen(40)))
    thread.start()
    thread.join()
    assert result == [None]
    monkeypatch.setattr(_host_threads, "host_executor", lambda: 1 / 0)
    assert _host_threads.widen(40) is None  # anything unexpected: stock behaviour, no error


def test_max_concurrency_one_serves_one_operation_at_a_time(slow_emu: Emulator) -> None:
    """Not only one request out at a time: one whole operation. An ApiKey create is two requests (the
    key under a pending name, then its real name). The first naming is throttled (429, Retry-After
    1 s); a throttled request gives its place to others while it waits, so if other creates were being
    served, their requests would go out in that second."""
    slow_emu.traffic.latency = 0.05
    host = start_host(slow_emu, **{"twilio:maxConcurrency": "1"})
    try:
        eng = engine(host, "ApiKey")
        eng.create({"friendly_name": "warm"})  # configure first, as the engine does
        requests = [
            pb.CreateRequest(
                urn=urn_for(eng.type_token, f"k{i}"),
                properties=engine_view(eng.check({"friendly_name": f"k{i}"}, name=f"k{i}").inputs),
            )
            for i in range(4)
        ]
        slow_emu.clear_request_log()
        slow_emu.add_fault(method="POST", path=r"/Keys/SK\w+\.json$", times=1, status=429, retry_after="1")
        futures = [eng.stub.Create.future(r) for r in requests]
        sids = [f.result(timeout=60).id for f in futures]
    finally:
        host.close()
        slow_emu.traffic.latency = 0.3
    calls = [(r["path"], r["status"]) for r in slow_emu.request_log() if r["method"] == "POST"]
    shape = ["create" if path.endswith("/Keys.json") else f"name {status}" for path, status in calls]
    # Create, name (throttled, then again), then each other create with its naming: nothing between.
    assert shape == ["create", "name 429", "name 200"] + ["create", "name 200"] * 3, calls
    named = [path.rsplit("/", 1)[-1].removesuffix(".json") for path, status in calls if status == 200]
    assert sorted(named) == sorted(sids)


def test_an_operation_inside_an_operation_does_not_wait_for_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_host_threads, "_GATE", threading.Semaphore(1))
    inner = _host_threads.gated(lambda: "done")
    outer = _host_threads.gated(lambda: inner())
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(outer).result(timeout=5) == "done"
        # ...and the gate is free again afterwards.
        assert pool.submit(outer).result(timeout=5) == "done"


def _epolls(pid: int) -> int:
    """The epoll instances a process holds (each event loop holds one; gRPC holds its own)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[eventpoll]"
        except OSError:
            pass
    return count


def test_the_provider_host_keeps_an_idle_event_loop_between_calls(slow_emu: Emulator) -> None:
    """The stock host builds an event loop per call and closes it; ours keeps the idle one, so the
    host holds one more epoll instance after its first call than before it, and no more after many.
    Fails when a pulumi upgrade stops the host from making its loops through the asyncio policy."""
    slow_emu.traffic.latency = 0.0
    host = start_host(slow_emu)
    try:
        eng = engine(host, "DeviceSecret")
        before = _epolls(host.proc.pid)  # configured, but no call has reached the provider yet
        eng.check({"device_sid": DEVICE, "key": "loop-0", "value": "v"})  # unpickles, configures
        after_one = _epolls(host.proc.pid)
        for i in range(1, 12):
            eng.create({"device_sid": DEVICE, "key": f"loop-{i}", "value": "v"})
        after_many = _epolls(host.proc.pid)
    finally:
        host.close()
        slow_emu.traffic.latency = 0.3
    assert after_one == before + 1, (before, after_one)
    assert after_many == after_one, (after_one, after_many)

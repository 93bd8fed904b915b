"""210 resources of all five kinds created, updated, refreshed and deleted in parallel through ONE
provider host (one provider instance per kind, shared by the host's worker threads), with
transient faults sprinkled in. The emulator must end each phase in exactly the intended state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from _host import Engine, ProviderHost, State
from _reliability import engine, host_config, refreshed_outs, snapshot, start_host
from pulumi.runtime import rpc

CLIENT_THREADS = 12
# Faults that one request could meet one after another stay within this, so every call succeeds.
MAX_RETRIES = 4
# The host serves up to twilio:maxConcurrency (32) calls at once, so the driver's threads are the bound.
HOST_WORKERS = CLIENT_THREADS


@dataclass
class Item:
    kind: str
    name: str
    inputs: dict[str, Any]
    state: State | None = None
    history: list[str] = field(default_factory=list)

    def remote(self) -> tuple[tuple[str, ...], str]:
        """The (snapshot key, value) this resource must leave in the emulator."""
        i = self.inputs
        if self.kind == "ApiKey":
            assert self.state is not None
            return ("apikey", self.state.id), i["friendly_name"]
        assert self.state is not None
        scope = rpc.unwrap_rpc_secret(self.state.outs["device_sid"]) if "device_sid" in i else ""
        family = "secret" if "Secret" in self.kind else "config"
        return (family, scope, i["key"]), i["value"]


def population(emu) -> list[Item]:
    items: list[Item] = []
    for n in range(60):
        items.append(Item("AccountConfig", f"ac{n}", {"key": f"cfg/{n}?x", "value": f"value {n}"}))
    for n in range(45):
        sid, name = emu_devices(emu)[n % 3]
        device = name if n % 2 else sid  # by unique name and by SID, resolved concurrently
        items.append(
            Item("DeviceConfig", f"dc{n}", {"device_sid": device, "key": f"dcfg {n}", "value": f"d{n}"})
        )
    for n in range(45):
        items.append(Item("AccountSecret", f"as{n}", {"key": f"sec-{n}", "value": f"s3cr3t-{n}"}))
    for n in range(30):
        sid, name = emu_devices(emu)[n % 3]
        items.append(
            Item(
                "DeviceSecret",
                f"ds{n}",
                {"device_sid": name if n % 2 else sid, "key": f"psk-{n}", "value": f"p{n}"},
            )
        )
    for n in range(30):
        items.append(Item("ApiKey", f"key{n}", {"friendly_name": f"deployer-{n}"}))
    return items


def emu_devices(emu) -> list[tuple[str, str]]:
    return [(r["sid"], r["unique_name"]) for _, r in emu.store.list_devices()]


@pytest.fixture(scope="module")
def host(emulator) -> Iterator[ProviderHost]:
    h = start_host(host_config(emulator, readTimeout="10", maxRetries=str(MAX_RETRIES)))
    yield h
    h.close()


def parallel(items: list[Item], op: Callable[[Item], None]) -> None:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        for future in [pool.submit(op, item) for item in items]:
            future.result()  # re-raise the first failure


def max_overlap(log: list[dict[str, Any]]) -> int:
    """Most requests the emulator was handling at the same moment."""
    edges = []
    for entry in log:
        edges.append((entry["time"], 1))
        edges.append((entry["time"] + entry["duration_ms"] / 1000, -1))
    busy = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        busy += step
        peak = max(peak, busy)
    return peak


def test_two_hundred_resources_in_parallel_through_one_host(host, emu):
    items = population(emu)
    assert len(items) >= 200
    engines: dict[str, Engine] = {kind: engine(host, kind) for kind in {i.kind for i in items}}
    keys = f"/2010-04-01/Accounts/{emu.account_sid}/Keys"

    # Each group of faults below that one request could meet in a row holds at most MAX_RETRIES.
    # -- create, with throttling, server errors, lost answers and slow answers in the mix --------
    emu.add_fault(method="POST", path="^/v1/Configs$", status=429, retry_after="0", times=MAX_RETRIES)
    emu.add_fault(method="POST", path="^/v1/Configs$", delay=0.05, times=20)
    emu.add_fault(method="POST", path="^/v1/Secrets$", status=503, times=2)
    emu.add_fault(method="POST", path="^/v1/Secrets$", drop=True, when="after", times=2)
    emu.add_fault(
        method="POST", path="^/v1/Devices/[^/]+/Configs$", drop=True, when="after", times=MAX_RETRIES
    )
    emu.add_fault(method="POST", path="^/v1/Devices/[^/]+/Secrets$", status=500, times=MAX_RETRIES)
    emu.add_fault(method="POST", path=f"^{keys}\\.json$", drop=True, when="after", times=2)
    emu.add_fault(method="POST", path=f"^{keys}\\.json$", status=502, times=2)

    def create(item: Item) -> None:
        item.state = engines[item.kind].create(item.inputs, name=item.name)

    parallel(items, create)
    assert emu.faults() == []  # every fault was hit
    want = dict(i.remote() for i in items)
    assert len(want) == len(items)  # no two resources share a remote name
    assert snapshot(emu) == want  # all present, right values, no duplicate, no orphan key
    for item in items:
        assert item.state is not None
        outs = {
            k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in item.state.outs.items()
        }
        if item.kind == "ApiKey":
            assert emu.store.authenticate(item.state.id, outs["secret"]) is not None
        else:
            assert outs["key"] == item.inputs["key"] and outs["value"] == item.inputs["value"]
    peak = max_overlap(emu.request_log())
    assert 2 <= peak <= HOST_WORKERS, peak  # parallel, but never beyond the host's workers

    # -- update: config values and key names, in place ----------------------------------------
    emu.clear_request_log()
    emu.add_fault(method="POST", path="^/v1/Configs/", status=503, retry_after="0", times=MAX_RETRIES)
    emu.add_fault(method="POST", path=f"^{keys}/SK", drop=True, when="after", times=3)
    movers = [i for i in items if i.kind in ("AccountConfig", "DeviceConfig", "ApiKey")]

    def update(item: Item) -> None:
        field_name = "friendly_name" if item.kind == "ApiKey" else "value"
        item.inputs = {**item.inputs, field_name: item.inputs[field_name] + "-v2"}
        assert item.state is not None
        item.state = engines[item.kind].up(item.state, item.inputs)
        assert item.state.history[-1] == "update"

    parallel(movers, update)
    assert emu.faults() == []
    assert snapshot(emu) == dict(i.remote() for i in items)

    # -- refresh: nothing changes ---------------------------------------------------------------
    emu.add_fault(method="GET", path="^/v1/", status=503, retry_after="0", times=MAX_RETRIES)
    before = {i.name: i.state.outs for i in items if i.state is not None}

    def refresh(item: Item) -> None:
        assert item.state is not None
        item.state = engines[item.kind].refresh(item.state)

    parallel(items, refresh)
    assert emu.faults() == []
    assert all(i.state is not None and i.state.outs == refreshed_outs(before[i.name]) for i in items)
    assert snapshot(emu) == dict(i.remote() for i in items)

    # -- delete: all gone -----------------------------------------------------------------------
    emu.add_fault(method="DELETE", path="^/v1/", status=500, times=MAX_RETRIES)
    emu.add_fault(method="DELETE", path=f"^{keys}/SK", drop=True, when="after", times=3)

    def delete(item: Item) -> None:
        assert item.state is not None
        engines[item.kind].delete(item.state)

    parallel(items, delete)
    assert emu.faults() == []
    assert snapshot(emu) == {}
    assert not [i for i in items if engines[i.kind].refresh(i.state) is not None]  # type: ignore[arg-type]

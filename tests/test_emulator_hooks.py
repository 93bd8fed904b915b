"""The /_emulator test hooks: request log, fault injection, reset; plus concurrency and speed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from _openapi import assert_error

from microvisor_pulumi.emulator import Emulator


def hook(emu: Emulator, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{emu.url}/_emulator{path}", **kwargs)  # type: ignore[arg-type]


# -- request log -------------------------------------------------------------------------------


def test_request_log_records_method_path_status_time(api: requests.Session, emu: Emulator) -> None:
    started = time.time()
    api.post("/v1/Configs", data={"Key": "a b", "Value": "v"})
    api.get("/v1/Configs/a%20b", params={"PageSize": 5})
    api.get("/v1/Configs/missing")
    requests.get(f"{emu.url}/v1/Configs")  # no auth
    body = hook(emu, "GET", "/requests").json()
    entries = body["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/v1/Configs", 201),
        ("GET", "/v1/Configs/a%20b", 200),  # raw path, no query string
        ("GET", "/v1/Configs/missing", 404),
        ("GET", "/v1/Configs", 401),
    ]
    for entry in entries:
        assert set(entry) == {"method", "path", "status", "time", "duration_ms", "fault", "in_flight"}
        assert started - 1 <= entry["time"] <= time.time() and entry["fault"] is False
    assert emu.request_log() == entries
    # Hooks themselves are not logged.
    assert all(
        not e["path"].startswith("/_emulator") for e in hook(emu, "GET", "/requests").json()["requests"]
    )


def test_request_log_clearing(api: requests.Session, emu: Emulator) -> None:
    api.get("/v1/Configs")
    assert hook(emu, "DELETE", "/requests").status_code == 204
    assert hook(emu, "GET", "/requests").json() == {"requests": [], "peak_in_flight": 0}
    api.get("/v1/Configs")
    emu.clear_request_log()
    assert emu.request_log() == []


def test_request_log_holds_no_secrets(api: requests.Session, emu: Emulator) -> None:
    canary = "CANARY-s3cret-value"
    api.post("/v1/Secrets", data={"Key": "k", "Value": canary})
    api.post("/v1/Secrets/k", data={"Value": canary + "2"})
    key = api.post(f"/2010-04-01/Accounts/{emu.account_sid}/Keys.json", data={}).json()
    as_key = requests.Session()
    as_key.auth = (key["sid"], key["secret"])
    as_key.get(f"{emu.url}/v1/Secrets")
    text = hook(emu, "GET", "/requests").text
    for forbidden in (canary, key["secret"], emu.auth_token, "Authorization", "Basic "):
        assert forbidden not in text


# -- faults ------------------------------------------------------------------------------------


def test_fault_hook_api(emu: Emulator) -> None:
    created = hook(
        emu, "POST", "/faults", json={"method": "GET", "path": "^/v1/Configs$", "status": 503, "times": 2}
    )
    assert created.status_code == 201 and created.json()["id"]
    listed = hook(emu, "GET", "/faults").json()["faults"]
    assert [(f["id"], f["remaining"], f["status"], f["when"]) for f in listed] == [
        (created.json()["id"], 2, 503, "before")
    ]
    assert hook(emu, "DELETE", f"/faults/{created.json()['id']}").status_code == 204
    emu.add_fault(path="x")
    assert hook(emu, "DELETE", "/faults").status_code == 204
    assert hook(emu, "GET", "/faults").json() == {"faults": []}
    for bad in (
        {},
        {"path": "("},
        {"path": "x", "times": 0},
        {"path": "x", "status": 200},
        {"path": "x", "when": "during"},
        {"path": "x", "drop": True, "status": 500},
        {"path": "x", "nope": 1},
    ):
        assert_error(hook(emu, "POST", "/faults", json=bad), 400, 20001)
    assert_error(hook(emu, "POST", "/faults", data=b"not json"), 400, 20001)
    assert_error(hook(emu, "GET", "/nothing"), 404, 20404)


@pytest.mark.parametrize("retry_after", [None, "2"])
def test_fault_429_before_does_not_apply(
    api: requests.Session, emu: Emulator, retry_after: str | None
) -> None:
    spec: dict[str, object] = {"method": "POST", "path": "^/v1/Configs$", "status": 429}
    if retry_after:
        spec["retry_after"] = retry_after
    hook(emu, "POST", "/faults", json=spec)
    first = api.post("/v1/Configs", data={"Key": "k", "Value": "v"})
    assert_error(first, 429, 20429, "Too Many Requests")
    assert first.headers.get("Retry-After") == retry_after
    assert api.get("/v1/Configs/k").status_code == 404  # not applied
    assert api.post("/v1/Configs", data={"Key": "k", "Value": "v"}).status_code == 201  # count used up
    log = emu.request_log()
    assert [(e["status"], e["fault"]) for e in log] == [(429, True), (404, False), (201, False)]


@pytest.mark.parametrize("status", [500, 503])
def test_fault_status_after_applies_the_change(api: requests.Session, emu: Emulator, status: int) -> None:
    emu.add_fault(method="POST", path="^/v1/Secrets$", status=status, when="after")
    resp = api.post("/v1/Secrets", data={"Key": "k", "Value": "v"})
    assert_error(resp, status, 20000 + status)
    assert api.get("/v1/Secrets/k").status_code == 200  # the change was made
    # So a blind retry of the create now conflicts.
    assert_error(api.post("/v1/Secrets", data={"Key": "k", "Value": "v"}), 409, 20409)


def test_fault_custom_body(api: requests.Session, emu: Emulator) -> None:
    body = {
        "code": 20500,
        "message": "Boom",
        "more_info": "https://www.twilio.com/docs/errors/20500",
        "status": 500,
    }
    emu.add_fault(path="/v1/Devices", status=500, body=body)
    resp = api.get("/v1/Devices")
    assert resp.status_code == 500 and resp.json() == body


def test_fault_delay_before_and_after(api: requests.Session, emu: Emulator) -> None:
    emu.add_fault(method="GET", path="^/v1/Configs$", delay=0.3)
    t0 = time.perf_counter()
    assert api.get("/v1/Configs").status_code == 200
    assert time.perf_counter() - t0 >= 0.3
    emu.add_fault(method="POST", path="^/v1/Configs$", delay=0.2, when="after", status=503)
    t0 = time.perf_counter()
    assert api.post("/v1/Configs", data={"Key": "slow", "Value": "v"}).status_code == 503
    assert time.perf_counter() - t0 >= 0.2
    assert api.get("/v1/Configs/slow").status_code == 200
    t0 = time.perf_counter()
    assert api.get("/v1/Configs").status_code == 200  # faults used up: fast again
    assert time.perf_counter() - t0 < 0.2


def test_fault_times_counts_down(api: requests.Session, emu: Emulator) -> None:
    emu.add_fault(path="^/v1/Devices$", status=503, times=3)
    statuses = [api.get("/v1/Devices").status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 200]
    assert emu.faults() == []


def test_fault_method_filter_and_regex_on_raw_path(api: requests.Session, emu: Emulator) -> None:
    emu.add_fault(method="DELETE", path=r"/Configs/a%20b$", status=500)
    api.post("/v1/Configs", data={"Key": "a b", "Value": "v"})
    assert api.get("/v1/Configs/a%20b").status_code == 200  # GET: not matched
    assert api.delete("/v1/Configs/a%20b").status_code == 500
    assert api.delete("/v1/Configs/a%20b").status_code == 204


@pytest.mark.parametrize("when", ["before", "after"])
def test_fault_drop(api: requests.Session, emu: Emulator, when: str) -> None:
    emu.add_fault(method="POST", path="^/v1/Configs$", drop=True, when=when)
    with pytest.raises(requests.ConnectionError):
        api.post("/v1/Configs", data={"Key": "k", "Value": "v"})
    exists = api.get("/v1/Configs/k").status_code == 200
    assert exists is (when == "after")
    assert emu.request_log()[0] == {**emu.request_log()[0], "status": None, "fault": True}


def test_hooks_are_never_faulted(emu: Emulator) -> None:
    emu.add_fault(path=".*", status=500, times=5)
    assert hook(emu, "GET", "/requests").status_code == 200
    assert len(emu.faults()) == 1 and emu.faults()[0]["remaining"] == 5


def test_state_reset_hook(api: requests.Session, emu: Emulator) -> None:
    api.post("/v1/Configs", data={"Key": "k", "Value": "v"})
    api.post("/v1/Devices/demo-device-1", data={"UniqueName": "renamed"})
    emu.add_fault(path="nothing-matches")
    assert hook(emu, "DELETE", "/state").status_code == 204
    assert api.get("/v1/Configs").json()["configs"] == []
    assert api.get("/v1/Devices/demo-device-1").status_code == 200
    assert emu.faults() == [] and len(emu.request_log()) == 2  # the two GETs above
    info = hook(emu, "GET", "/info").json()
    assert info["account_sid"] == emu.account_sid and len(info["devices"]) == 3
    assert emu.auth_token not in str(info)


# -- concurrency and speed ----------------------------------------------------------------------


def test_concurrent_creates_land_exactly_once(emu: Emulator) -> None:
    local = threading.local()

    def create(path: str, key: str) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.auth = (emu.account_sid, emu.auth_token)
        return int(local.session.post(emu.url + path, data={"Key": key, "Value": "v"}).status_code)

    def spread(i: int) -> int:
        return create("/v1/Configs" if i % 2 else "/v1/Devices/demo-device-2/Secrets", f"k{i}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(spread, range(200)))
        # The same new key from many threads at once: exactly one wins, the rest conflict.
        racing = list(pool.map(lambda _: create("/v1/Configs", "race"), range(16)))
    assert statuses == [201] * 200
    assert sorted(racing) == [201] + [409] * 15
    configs = {r["key"] for _, r in emu.store.list_items("config")}
    secrets = {r["key"] for _, r in emu.store.list_items("secret", "demo-device-2")}
    assert configs == {f"k{i}" for i in range(1, 200, 2)} | {"race"}
    assert secrets == {f"k{i}" for i in range(0, 200, 2)}
    assert len(emu.request_log()) == 216


def test_keep_alive_latency_is_low() -> None:
    # No observer here: measure the emulator itself, not the spec validator.
    emu = Emulator().start()
    try:
        session = requests.Session()
        session.auth = (emu.account_sid, emu.auth_token)
        session.get(f"{emu.url}/v1/Configs")
        samples = []
        for _ in range(50):
            t0 = time.perf_counter()
            session.get(f"{emu.url}/v1/Devices")
            samples.append(time.perf_counter() - t0)
        samples.sort()
        # Nagle + delayed ACK would show up as ~40 ms; the median must stay far below that.
        assert samples[len(samples) // 2] < 0.015
    finally:
        emu.stop()

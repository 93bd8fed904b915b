"""Adversarial review of issue 10 ("never touch what is not provably ours").

Each test is one concrete scenario through the real provider host and the emulator, written by an
adversarial review of the first fix. Those whose docstring says BUG failed on the code as reviewed
(commit a639a22) and pass since the fixes that followed; those marked HELD are attacks the first
fix already withstood.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from _host import ProviderHost, engine
from _reliability import DEV1_SID, host_config, snapshot, start_host
from pulumi.runtime import rpc


@pytest.fixture
def fresh(emulator) -> Iterator[ProviderHost]:
    """A host of its own (no probe, device or claim remembered), quick to give up."""
    h = start_host(host_config(emulator, maxRetries="0", readTimeout="1"))
    yield h
    h.close()


def keys_path(emu) -> str:
    return f"/2010-04-01/Accounts/{emu.account_sid}/Keys.json"


def key_sids(emu) -> set[str]:
    return {sid for (kind, *rest), _ in snapshot(emu).items() if kind == "apikey" for sid in rest}


# -- "Gone" means Twilio said so about that item ----------------------------------------------------


def test_a_device_item_is_not_gone_when_only_an_unrelated_collection_answers(fresh, emu):
    """BUG. Every /v1/Devices/... path answers 404 (credentials for another account, whose
    /v1/Configs answers but where this device does not exist; or a proxy with a path allow-list),
    while the device and its item are there. The rule: a 404 counts only when the collection (or the
    device) that holds the item answers; here neither does. The code falls back to the ACCOUNT
    collection /v1/Configs, which answers, and so drops the DeviceConfig from state although it is
    still in Twilio; destroy likewise "succeeds" and leaves the item behind.
    Fix: for device items probe the device collection, then the device itself (GET
    /v1/Devices/<sid>); never the account's Configs/Secrets collection, which does not hold it."""
    eng = engine(fresh, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_SID, "key": "mode", "value": "fast"})
    held = snapshot(emu)
    emu.add_fault(path=r"^/v1/Devices/", times=1000, status=404)

    refresh_failed = False
    try:
        refreshed = eng.refresh(state)
    except grpc.RpcError:
        refresh_failed = True
        refreshed = state
    delete_failed = False
    try:
        eng.delete(state)
    except grpc.RpcError:
        delete_failed = True
    emu.clear_faults()
    # The item was there all along.
    assert snapshot(emu) == held
    assert refresh_failed and refreshed is not None, "refresh dropped an item Twilio still holds"
    assert delete_failed, "destroy reported success and left the item in Twilio"


# -- Refresh keeps device_name current, at no more than one device lookup per device per process ----


def test_one_device_lookup_per_device_per_process_across_config_and_secret(emulator, emu):
    """BUG. A program with a DeviceConfig and a DeviceSecret on the same device: one refresh process
    looks the device up twice (the device cache lives on each provider instance, and each kind has
    its own instance). Fix: one module-level cache (keyed by endpoint and account) for all kinds."""
    maker = start_host(host_config(emulator))
    try:
        config = engine(maker, "DeviceConfig").create({"device_sid": DEV1_SID, "key": "c", "value": "v"})
        secret = engine(maker, "DeviceSecret").create({"device_sid": DEV1_SID, "key": "s", "value": "v"})
    finally:
        maker.close()
    h = start_host(host_config(emulator))
    try:
        emu.clear_request_log()
        assert engine(h, "DeviceConfig").refresh(config) is not None
        assert engine(h, "DeviceSecret").refresh(secret) is not None
        lookups = [e for e in emu.request_log() if e["path"] == f"/v1/Devices/{DEV1_SID}"]
        assert len(lookups) <= 1, f"{len(lookups)} lookups of one device in one process"
    finally:
        h.close()


@pytest.mark.parametrize("kind", ["DeviceConfig", "DeviceSecret"])
def test_the_old_name_after_a_refresh_is_still_no_change(fresh, emulator, emu, api, kind):
    """BUG. Rule: the same device under any of its names (SID, old name, new name) is no change.
    The program names the device "dev-one"; it is renamed outside to "lab-bench-9"; `pulumi refresh`
    records the new name (and puts the SID in the inputs); the program still says "dev-one". The
    next `pulumi up` fails in diff: "device_sid 'dev-one' names no Microvisor device". Without the
    refresh the same `up` is no change, so the rule holds only until the refresh the issue asks for.
    Fix: keep every name state has seen for the device (e.g. an output list of known names, or the
    program's own input next to the resolved SID) and treat each as the same device."""
    program = {"device_sid": "dev-one", "key": "mode", "value": "fast"}
    api.post(f"{emu.url}/v1/Devices/{DEV1_SID}", data={"UniqueName": "dev-one"}).raise_for_status()
    state = engine(fresh, kind).create(program)
    api.post(f"{emu.url}/v1/Devices/{DEV1_SID}", data={"UniqueName": "lab-bench-9"}).raise_for_status()
    # `pulumi refresh`, then `pulumi up`: one provider process each.
    for step in ("refresh", "up"):
        h = start_host(host_config(emulator, maxRetries="0"))
        try:
            eng = engine(h, kind)
            if step == "refresh":
                refreshed = eng.refresh(state)
                assert refreshed is not None and refreshed.outs["device_name"] == "lab-bench-9"
                continue
            assert refreshed is not None
            try:
                after = eng.up(refreshed, program)
            except grpc.RpcError as err:
                pytest.fail(f"the old name is not the same device: {err.details().strip().splitlines()[-1]}")
            assert after.history[-1] == "same"
        finally:
            h.close()
    assert len(snapshot(emu)) == 1


def _refresh_all(h: ProviderHost, kind: str, states: list) -> list:
    results: list = [None] * len(states)

    def run(i: int) -> None:
        try:
            results[i] = engine(h, kind).refresh(states[i])
        except Exception as err:  # noqa: BLE001 - reported by the caller
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(states))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_a_parallel_refresh_looks_each_device_up_once(emulator, emu):
    """BUG. `pulumi refresh` reads resources in parallel. Four DeviceConfigs on one device, refreshed
    at once by a fresh process whose first device lookup is slow (0.5 s): the cache is checked, then
    filled after the fetch, with no one waiting for a fetch in flight, so every thread looks the
    device up. Fix: hold a per-device lock (or a future) across the fetch."""
    maker = start_host(host_config(emulator))
    try:
        eng = engine(maker, "DeviceConfig")
        states = [eng.create({"device_sid": DEV1_SID, "key": f"p{i}", "value": "v"}) for i in range(4)]
    finally:
        maker.close()
    h = start_host(host_config(emulator))
    try:
        emu.clear_request_log()
        emu.add_fault(method="GET", path=f"^/v1/Devices/{DEV1_SID}$", times=1, delay=0.5)
        results = _refresh_all(h, "DeviceConfig", states)
        assert all(r is not None and not isinstance(r, Exception) for r in results), results
        lookups = [e for e in emu.request_log() if e["path"] == f"/v1/Devices/{DEV1_SID}"]
        assert len(lookups) <= 1, f"{len(lookups)} lookups of one device in one process"
    finally:
        h.close()


def test_a_parallel_refresh_probes_each_collection_once(emulator, emu, api):
    """BUG (cost only). Four gone AccountConfigs refreshed at once: the rule is one probe per
    collection per process, but the probe is asked outside the lock, so each thread that arrives
    while the first probe is in flight probes again. Fix: as for devices, wait for the probe in
    flight."""
    maker = start_host(host_config(emulator))
    try:
        eng = engine(maker, "AccountConfig")
        states = [eng.create({"key": f"g{i}", "value": "v"}) for i in range(4)]
    finally:
        maker.close()
    for i in range(4):
        api.delete(f"{emu.url}/v1/Configs/g{i}").raise_for_status()
    h = start_host(host_config(emulator))
    try:
        emu.clear_request_log()
        emu.add_fault(method="GET", path=r"^/v1/Configs$", times=1, delay=0.5)
        assert _refresh_all(h, "AccountConfig", states) == [None] * 4
        probes = [e for e in emu.request_log() if e["path"] == "/v1/Configs"]
        assert len(probes) == 1, f"{len(probes)} probes of one collection in one process"
    finally:
        h.close()


# -- Claims: an item another resource took over is never deleted -------------------------------------


def test_an_adopted_item_is_not_deleted_by_the_resource_it_was_adopted_from(fresh, emu, api):
    """BUG. A resource renamed in the program without an alias: the old one (A) goes, the new one (B)
    declares the same key and value with overwrite=True. A's config was written by the previous
    `pulumi up` one second ago. B's create gets a 503 (not processed), looks, and adopts A's item
    (same value, within the 2 s margin): the claim is stamped with the item's own date, which equals
    A's state date, so A's delete (`ours < claimed` is False) then deletes the item B now holds.
    Twilio ends with nothing while B's state says it has the config.
    Fix: stamp an adoption's claim with our attempt's start on Twilio's clock (or compare `<=`
    in delete: one engine operation never deletes a resource it created)."""
    eng = engine(fresh, "AccountConfig")
    emu.store.clock = lambda: time.time() - 1  # the previous `pulumi up`, a second ago
    try:
        a = eng.create({"key": "x", "value": "1"}, name="a")
    finally:
        emu.store.clock = time.time
    emu.add_fault(method="POST", path=r"^/v1/Configs$", times=1, status=503)
    b = eng.create({"key": "x", "value": "1", "overwrite": True}, name="b")
    assert b.id == "x"
    eng.delete(a)  # the engine deletes the resource that left the program, last
    assert snapshot(emu) == {("config", "", "x"): "1"}, "B's config was deleted under it"


# -- After an ambiguous create, what our own attempts made is ours ------------------------------------


def test_our_own_late_landing_create_is_not_called_someone_elses(emulator, emu):
    """BUG (error path, nothing destroyed). The first POST is slow: the client times out, waits,
    looks (nothing yet), and sends again; the original lands just before the retry, which gets
    409. The Conflict path never asks `_is_ours`: the error says "this `pulumi up` did not make it,
    so it belongs to someone else", and our own config is left in Twilio outside Pulumi's state, so
    every later `up` fails the same way until someone deletes it by hand. Proof was available (its
    date is after our first attempt began, and it holds our value).
    Fix: after an earlier ambiguous attempt, run `find_ours` on a Conflict before `_take_over`."""
    h = start_host(host_config(emulator, maxRetries="3", readTimeout="2"))
    try:
        # Attempt 1 is processed 5 s after it was sent (the client gave up at 2 s and looked at 4 s);
        # attempt 2, sent at about 4 s, is processed at about 5.5 s and finds the key taken.
        emu.add_fault(method="POST", path=r"^/v1/Configs$", times=1, delay=5)
        emu.add_fault(method="POST", path=r"^/v1/Configs$", times=1, delay=1.5)
        try:
            state = engine(h, "AccountConfig").create({"key": "late", "value": "ours"})
        except grpc.RpcError as err:
            pytest.fail(f"our own item was called someone else's: {err.details()}")
        assert state.id == "late"
        assert snapshot(emu) == {("config", "", "late"): "ours"}
    finally:
        h.close()


def test_a_late_landing_api_key_create_leaves_no_orphan_key(emulator, emu, api):
    """BUG, narrowed. The first key POST is processed 3 s after it was sent; the client timed out at
    1 s, waited 1 s, found no key with its attempt name and sent a second attempt. Once that key is
    made (and named, slowly here: the first rename times out and is sent again), the create looks
    once more for its earlier attempts' names and
    deletes the late original. A landing later still cannot be caught by anything (README: a
    leftover `pulumi-pending-...` key is safe to delete)."""
    h = start_host(host_config(emulator, maxRetries="3", readTimeout="1"))
    try:
        neighbour = api.post(emu.url + keys_path(emu), data={"FriendlyName": "ops"}).json()
        emu.add_fault(method="POST", path=r"/Keys\.json$", times=1, delay=3)
        emu.add_fault(method="POST", path=r"/Keys/SK[0-9a-f]{32}\.json$", times=1, delay=1.6)
        started = time.monotonic()
        state = engine(h, "ApiKey").create({"friendly_name": "backend"})
        time.sleep(max(0.0, 3.5 - (time.monotonic() - started)))  # let the slow original land
        assert key_sids(emu) == {neighbour["sid"], state.id}, snapshot(emu)
    finally:
        h.close()


# -- API key rename failure paths --------------------------------------------------------------------


def test_a_key_left_behind_by_a_failed_rename_is_named_in_the_error(fresh, emu):
    """HELD (barely). The new key cannot be renamed (400) and the clean-up delete fails too (503):
    the key stays under its pending name. The error names its SID, but only inside the failing
    request's path; it does not say that the key was left behind or that it may be deleted."""
    emu.add_fault(method="POST", path=r"/Keys/SK[0-9a-f]{32}\.json$", times=100, status=400)
    emu.add_fault(method="DELETE", path=r"/Keys/SK[0-9a-f]{32}\.json$", times=100, status=503)
    with pytest.raises(grpc.RpcError) as info:
        engine(fresh, "ApiKey").create({"friendly_name": "svc"})
    emu.clear_faults()
    left = key_sids(emu)
    assert len(left) == 1  # the half-made key is there...
    assert next(iter(left)) in info.value.details()  # ...and the error names it


# -- Secrets never leak ------------------------------------------------------------------------------


def test_a_short_secret_value_echoed_by_a_proxy_is_not_in_the_error(fresh, emu):
    """BUG (low). Form values shorter than 4 characters are never scrubbed, secret values included:
    a proxy that echoes the form body puts a 3-character secret (a PIN) into the error text. Fix:
    scrub the values of secret properties whatever their length (only non-secret form values need
    the length floor)."""
    emu.add_fault(
        method="POST",
        path=r"^/v1/Secrets$",
        times=1,
        status=400,
        body={
            "code": 21000,
            "message": "Proxy rejected the request body Key=door&Value=7x%21 (raw: 7x!)",
            "more_info": "https://www.twilio.com/docs/errors/21000",
            "status": 400,
        },
    )
    with pytest.raises(grpc.RpcError) as info:
        engine(fresh, "AccountSecret").create({"key": "door", "value": "7x!"})
    text = info.value.details()
    assert "create failed" in text
    assert "7x!" not in text and "7x%21" not in text, text


@pytest.mark.parametrize(
    "echo",
    [
        '{{"headers": {{"Authorization": "Basic {b64}"}}}}',
        "authorization={b64}",
        "Proxy-Authorization: basic {b64}",
        "credentials were {pair}",
        "token {token}",
    ],
)
def test_an_echoed_authorization_never_reaches_the_error(fresh, emu, emulator, echo):
    """HELD. A proxy echoes our credentials in assorted spellings in a refresh error body."""
    eng = engine(fresh, "AccountConfig")
    state = eng.create({"key": "k", "value": "v"})
    pair = f"{emulator.account_sid}:{emulator.auth_token}"
    b64 = base64.b64encode(pair.encode()).decode()
    message = echo.format(b64=b64, pair=pair, token=emulator.auth_token)
    emu.add_fault(
        method="GET",
        path=r"^/v1/Configs/k$",
        times=1,
        status=400,
        body={
            "code": 20001,
            "message": message,
            "more_info": "https://www.twilio.com/docs/errors/20001",
            "status": 400,
        },
    )
    with pytest.raises(grpc.RpcError) as info:
        eng.refresh(state)
    text = info.value.details()
    assert "refresh failed" in text
    for leak in (b64, emulator.auth_token, b64[:20]):
        assert leak not in text, text
    assert emulator.auth_token not in fresh.output_text()


@pytest.mark.parametrize("date_format", ["asctime", "-0000"])
def test_a_legal_date_header_without_gmt_does_not_shift_twilios_clock(
    emulator, emu, api, monkeypatch, date_format
):
    """BUG (low). HTTP/1.1 recipients must accept three Date formats, all in GMT; one is asctime
    ("Mon Nov 23 21:00:00 2026"), and RFC 2822's "-0000" also means UTC. `parsedate_to_datetime`
    returns a naive datetime for both, and `.timestamp()` then reads it as LOCAL time: on a machine
    in Tokyo (UTC+9) Twilio's clock is taken to be nine hours behind, so after an ambiguous create a
    neighbour's secret rotated two hours ago counts as "set during our own attempts" and is adopted
    (state says our value, the device reads theirs). Fix: in `_note_server_time`, treat a naive
    result as UTC (`.replace(tzinfo=timezone.utc)`)."""
    from microvisor_pulumi.emulator import server

    def http_date(self: object) -> str:
        now = time.gmtime()
        if date_format == "asctime":
            return time.asctime(now)
        return time.strftime("%a, %d %b %Y %H:%M:%S -0000", now)

    monkeypatch.setattr(server._Handler, "date_time_string", http_date)
    emu.store.clock = lambda: time.time() - 2 * 3600  # the neighbour's secret, two hours old
    try:
        api.post(emu.url + "/v1/Secrets", data={"Key": "psk", "Value": "theirs"}).raise_for_status()
    finally:
        emu.store.clock = time.time
    h = start_host(host_config(emulator, maxRetries="3"), env={"TZ": "Asia/Tokyo"})
    try:
        emu.add_fault(method="POST", path=r"^/v1/Secrets$", times=1, status=503)
        with pytest.raises(grpc.RpcError) as info:
            engine(h, "AccountSecret").create({"key": "psk", "value": "ours"})
        assert "already exists" in info.value.details()
    finally:
        h.close()
    assert snapshot(emu) == {("secret", "", "psk"): "theirs"}


def test_an_uppercase_sid_for_the_same_device_never_loses_the_item(fresh, emu):
    """HELD. The program names the same device by its SID in upper case (hex is case-free to the
    eye): diff calls it another device, so a create-first replacement runs; its create does not land
    on the old item (the lookup fails here; were Twilio case-blind, the create would meet 409, and
    with overwrite=True the claim keeps the old resource's delete off the item)."""
    eng = engine(fresh, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_SID, "key": "mode", "value": "fast", "overwrite": True})
    upper = "UV" + DEV1_SID[2:].upper()
    try:
        eng.up(state, {"device_sid": upper, "key": "mode", "value": "fast", "overwrite": True})
    except grpc.RpcError:
        pass  # refused: fine, as long as nothing was lost
    assert snapshot(emu) == {("config", DEV1_SID, "mode"): "fast"}


# -- Races and retries that held ---------------------------------------------------------------------


def test_four_threads_creating_keys_through_lost_answers_touch_no_other_key(emulator, emu, api):
    """HELD. Four ApiKey creates at once in one host, every first answer lost after the key was
    made, beside a neighbour's keys: each create cleans up only its own attempt."""
    h = start_host(host_config(emulator, maxRetries="3", readTimeout="2"))
    try:
        neighbours = {
            api.post(emu.url + keys_path(emu), data={"FriendlyName": name}).json()["sid"]
            for name in ("backend", "", "pulumi-pending-0123")
        }
        emu.add_fault(method="POST", path=r"/Keys\.json$", times=4, drop=True, when="after")
        results: dict[int, object] = {}

        def run(i: int) -> None:
            try:
                results[i] = engine(h, "ApiKey").create({"friendly_name": "backend"}, name=f"k{i}")
            except Exception as err:  # noqa: BLE001 - reported below
                results[i] = err

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        states = list(results.values())
        assert len(states) == 4 and all(not isinstance(s, Exception) for s in states), states
        ours = {s.id for s in states}  # type: ignore[attr-defined]
        assert len(ours) == 4
        assert key_sids(emu) == neighbours | ours
        for s in states:
            secret = rpc.unwrap_rpc_secret(s.outs["secret"])  # type: ignore[attr-defined]
            assert emu.store.authenticate(s.id, secret) is not None  # type: ignore[attr-defined]
    finally:
        h.close()


def test_four_threads_replacing_secrets_through_faults_converge(emulator, emu):
    """HELD. Four AccountSecrets at once: 429, lost answer, 503-after-making-it, then a clean run;
    exactly one item each, with our value, and no extra request after the 429."""
    h = start_host(host_config(emulator, maxRetries="3", readTimeout="2"))
    try:
        emu.add_fault(method="POST", path=r"^/v1/Secrets$", times=1, status=429, retry_after="0")
        emu.add_fault(method="POST", path=r"^/v1/Secrets$", times=1, drop=True, when="after")
        emu.add_fault(method="POST", path=r"^/v1/Secrets$", times=1, status=503, when="after")
        errors: list[BaseException] = []

        def run(i: int) -> None:
            try:
                engine(h, "AccountSecret").create({"key": f"s{i}", "value": f"v{i}"}, name=f"s{i}")
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert snapshot(emu) == {("secret", "", f"s{i}"): f"v{i}" for i in range(4)}
    finally:
        h.close()


def test_a_429_then_a_lost_answer_adopts_our_item_with_no_clean_up(fresh, emu):
    """HELD. A 429 (not processed: no look), then an answer lost after the item was made, with the
    retries used up: the final look adopts our own item; nothing is deleted, nothing duplicated."""
    emu.add_fault(method="POST", path=r"^/v1/Configs$", times=1, status=429, retry_after="0")
    emu.add_fault(method="POST", path=r"^/v1/Configs$", times=1, drop=True, when="after")
    emu.clear_request_log()
    state = engine(fresh, "AccountConfig").create({"key": "r", "value": "v"})
    assert state.id == "r"
    assert [(e["method"], e["path"]) for e in emu.request_log()] == [
        ("POST", "/v1/Configs"),
        ("POST", "/v1/Configs"),
        ("GET", "/v1/Configs/r"),
    ]
    assert snapshot(emu) == {("config", "", "r"): "v"}

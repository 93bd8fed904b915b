"""Microvisor v1 on the emulator: configs, secrets, devices, and the rules the store enforces."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from _openapi import assert_error

from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator
from microvisor_pulumi.emulator.wire import quote_segment

DEV_SID, DEV_NAME = DEFAULT_DEVICES[0]
OTHER_SID, OTHER_NAME = DEFAULT_DEVICES[1]

# (collection path, is secret) for the four families; device ones addressed by SID.
FAMILIES = [
    ("/v1/Configs", False),
    ("/v1/Secrets", True),
    (f"/v1/Devices/{DEV_SID}/Configs", False),
    (f"/v1/Devices/{DEV_SID}/Secrets", True),
]


@pytest.mark.parametrize(("base", "secret"), FAMILIES)
def test_crud_lifecycle(api: requests.Session, emu: Emulator, base: str, secret: bool) -> None:
    created = api.post(base, data={"Key": "k1", "Value": "v1"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"] == "k1"
    assert body["url"] == f"{emu.url}{base}/k1"
    if "Devices" in base:
        assert body["device_sid"] == DEV_SID
    if secret:
        assert "value" not in body and body["date_rotated"].endswith("Z")
    else:
        assert body["value"] == "v1" and body["date_updated"].endswith("Z")

    fetched = api.get(f"{base}/k1")
    assert fetched.status_code == 200 and fetched.json() == body

    listed = api.get(base)
    assert listed.status_code == 200
    key = "secrets" if secret else "configs"
    assert listed.json()[key] == [body]
    assert listed.json()["meta"]["key"] == key

    updated = api.post(f"{base}/k1", data={"Value": "v2"})
    assert updated.status_code == 200
    if not secret:
        assert updated.json()["value"] == "v2"

    deleted = api.delete(f"{base}/k1")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(api.get(f"{base}/k1"), 404, 20404, "/k1 was not found")
    assert_error(api.delete(f"{base}/k1"), 404, 20404)
    assert_error(api.post(f"{base}/k1", data={"Value": "x"}), 404, 20404)


@pytest.mark.parametrize("kind", ["Configs", "Secrets"])
def test_device_addressed_by_unique_name(api: requests.Session, kind: str) -> None:
    created = api.post(f"/v1/Devices/{DEV_NAME}/{kind}", data={"Key": "k", "Value": "v"})
    assert created.status_code == 201
    # The canonical SID is what comes back, whichever way the device was named.
    assert created.json()["device_sid"] == DEV_SID
    assert f"/v1/Devices/{DEV_SID}/{kind}/k" in created.json()["url"]
    assert api.get(f"/v1/Devices/{DEV_SID}/{kind}/k").status_code == 200
    assert api.post(f"/v1/Devices/{DEV_NAME}/{kind}/k", data={"Value": "w"}).status_code == 200
    assert api.delete(f"/v1/Devices/{DEV_NAME}/{kind}/k").status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        "/v1/Devices/UV00000000000000000000000000000000",
        "/v1/Devices/no-such-device",
        "/v1/Devices/no-such-device/Configs",
        "/v1/Devices/no-such-device/Secrets",
        "/v1/Devices/no-such-device/Configs/k",
        "/v1/Devices/no-such-device/Secrets/k",
    ],
)
def test_unknown_device_is_404(api: requests.Session, path: str) -> None:
    assert_error(api.get(path), 404, 20404, "no-such-device" if "no-such" in path else "UV000")


def test_unknown_device_create_is_404(api: requests.Session) -> None:
    assert_error(api.post("/v1/Devices/nope/Configs", data={"Key": "k", "Value": "v"}), 404, 20404)


def test_devices_list_fetch_update(api: requests.Session, emu: Emulator) -> None:
    listed = api.get("/v1/Devices")
    assert listed.status_code == 200
    devices = listed.json()["devices"]
    assert [(d["sid"], d["unique_name"]) for d in devices] == DEFAULT_DEVICES
    assert all(d["account_sid"] == emu.account_sid for d in devices)

    by_name = api.get(f"/v1/Devices/{DEV_NAME}").json()
    assert by_name == api.get(f"/v1/Devices/{DEV_SID}").json()
    assert by_name["links"]["device_configs"] == f"{emu.url}/v1/Devices/{DEV_SID}/Configs"

    updated = api.post(
        f"/v1/Devices/{DEV_SID}",
        data={"UniqueName": "renamed", "LoggingEnabled": "true", "TargetApp": "KA" + "a" * 32},
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["unique_name"] == "renamed" and body["logging"]["enabled"] is True
    assert body["app"]["target_sid"] == "KA" + "a" * 32
    assert api.get("/v1/Devices/renamed").json()["sid"] == DEV_SID
    assert_error(api.get(f"/v1/Devices/{DEV_NAME}"), 404, 20404)
    # Unique names stay unique.
    assert_error(api.post(f"/v1/Devices/{OTHER_SID}", data={"UniqueName": "renamed"}), 409, 20409)
    assert_error(api.post(f"/v1/Devices/{OTHER_SID}", data={"LoggingEnabled": "maybe"}), 400, 20001)


@pytest.mark.parametrize(("base", "secret"), FAMILIES)
def test_duplicate_key_is_409(api: requests.Session, base: str, secret: bool) -> None:
    assert api.post(base, data={"Key": "dup", "Value": "a"}).status_code == 201
    body = assert_error(api.post(base, data={"Key": "dup", "Value": "b"}), 409, 20409, "dup")
    assert body["message"] != "b"
    if not secret:
        assert api.get(f"{base}/dup").json()["value"] == "a"  # the first one stands


def test_namespaces_are_separate(api: requests.Session) -> None:
    paths = [
        "/v1/Configs",
        "/v1/Secrets",
        f"/v1/Devices/{DEV_SID}/Configs",
        f"/v1/Devices/{DEV_SID}/Secrets",
        f"/v1/Devices/{OTHER_SID}/Configs",
        f"/v1/Devices/{OTHER_NAME}/Secrets",
    ]
    for path in paths:
        assert api.post(path, data={"Key": "same", "Value": "v"}).status_code == 201, path
    # Unique name and SID address the same device namespace.
    assert_error(api.post(f"/v1/Devices/{DEV_NAME}/Configs", data={"Key": "same", "Value": "v"}), 409, 20409)


@pytest.mark.parametrize(("base", "secret"), FAMILIES)
def test_limits_and_missing_parameters(api: requests.Session, base: str, secret: bool) -> None:
    assert_error(api.post(base, data={"Value": "v"}), 400, 20001, "Missing required parameter Key")
    assert_error(api.post(base, data={"Key": "k"}), 400, 20001, "Missing required parameter Value")
    assert_error(api.post(base, data={"Key": "k" * 101, "Value": "v"}), 400, 20001, "Key", "100", "101")
    assert_error(api.post(base, data={"Key": "k", "Value": "v" * 4097}), 400, 20001, "Value", "4096")
    # The limits are inclusive.
    assert api.post(base, data={"Key": "k" * 100, "Value": "v" * 4096}).status_code == 201
    item = f"{base}/{'k' * 100}"
    assert_error(api.post(item, data={}), 400, 20001, "Missing required parameter Value")
    assert_error(api.post(item, data={"Value": "v" * 4097}), 400, 20001, "Value must be at most 4096")
    assert_error(api.get(f"{base}?PageSize=0"), 400, 20001, "PageSize")
    assert_error(api.get(f"{base}?PageSize=1001"), 400, 20001, "PageSize")


def test_limit_message_never_echoes_the_value(api: requests.Session) -> None:
    canary = "CANARY-" + "x" * 4100
    body = assert_error(api.post("/v1/Secrets", data={"Key": "k", "Value": canary}), 400, 20001)
    assert "CANARY" not in body["message"]


@pytest.mark.parametrize("base", ["/v1/Secrets", f"/v1/Devices/{DEV_SID}/Secrets"])
def test_secret_values_are_never_returned(api: requests.Session, emu: Emulator, base: str) -> None:
    canary = "s3cr3t-canary-value"
    rotated = "r0tated-canary-value"
    responses = [api.post(base, data={"Key": "token", "Value": canary})]
    responses.append(api.get(f"{base}/token"))
    responses.append(api.get(base))
    responses.append(api.post(f"{base}/token", data={"Value": rotated}))
    responses.append(api.get(base, params={"PageSize": 1}))
    for resp in responses:
        assert resp.ok
        assert canary not in resp.text and rotated not in resp.text
        assert "value" not in resp.text
    # ... but the store did keep it, for the device that would read it.
    device = DEV_SID if "Devices" in base else None
    assert emu.store.secret_value_for_device("token", device) == rotated


@pytest.mark.parametrize(
    ("base", "field"), [("/v1/Configs", "date_updated"), ("/v1/Secrets", "date_rotated")]
)
def test_dates_follow_the_clock_at_one_second_resolution(
    api: requests.Session, emu: Emulator, base: str, field: str
) -> None:
    now = time.time()
    emu.store.clock = lambda: now
    try:
        first = api.post(base, data={"Key": "k", "Value": "a"}).json()[field]
        # Same second: Twilio's date does not move, so neither does the emulator's.
        same = api.post(f"{base}/k", data={"Value": "b"}).json()[field]
        emu.store.clock = lambda: now + 2
        later = api.post(f"{base}/k", data={"Value": "c"}).json()[field]
    finally:
        emu.store.clock = time.time
    assert first == same < later  # ISO-8601 UTC strings sort chronologically
    assert api.get(f"{base}/k").json()[field] == later


AWKWARD_KEYS = [
    "with/slash",
    "question?mark",
    "hash#tag",
    "per%cent",
    "with space",
    "plus+sign",
    "ünïcödé-键",
    ".",
    "..",
    "%2F",
    "a&b=c",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_round_trip(api: requests.Session, emu: Emulator, key: str) -> None:
    for base in ("/v1/Configs", f"/v1/Devices/{DEV_NAME}/Secrets"):
        created = api.post(base, data={"Key": key, "Value": "v"})
        assert created.status_code == 201, created.text
        assert created.json()["key"] == key
        url = created.json()["url"]
        assert url.endswith("/" + quote_segment(key))
        # The returned url is directly usable.
        fetched = api.get(url)
        assert fetched.status_code == 200 and fetched.json()["key"] == key
        assert api.delete(url).status_code == 204


def page_through_meta(api: requests.Session, url: str, key: str) -> list[list[dict[str, Any]]]:
    pages = []
    while url:
        body = api.get(url).json()
        pages.append(body[key])
        url = body["meta"]["next_page_url"]
    return pages


@pytest.mark.parametrize("base", ["/v1/Configs", f"/v1/Devices/{DEV_SID}/Secrets"])
def test_paging_meta_shape(api: requests.Session, emu: Emulator, base: str) -> None:
    keys = [f"k{i:02d}" for i in range(7)]
    for key in keys:
        api.post(base, data={"Key": key, "Value": "v"})
    first = api.get(base, params={"PageSize": 3}).json()
    meta = first["meta"]
    assert meta["page"] == 0 and meta["page_size"] == 3 and meta["previous_page_url"] is None
    assert meta["first_page_url"] == f"{emu.url}{base}?PageSize=3&Page=0"
    assert meta["next_page_url"].startswith(f"{emu.url}{base}?PageSize=3&Page=1&PageToken=")
    name = meta["key"]
    pages = page_through_meta(api, f"{base}?PageSize=3", name)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [item["key"] for page in pages for item in page] == keys

    second = api.get(meta["next_page_url"]).json()
    assert second["meta"]["page"] == 1
    back = api.get(second["meta"]["previous_page_url"]).json()
    assert [i["key"] for i in back[name]] == keys[:3]
    # Page without a token is an offset.
    assert [i["key"] for i in api.get(base, params={"PageSize": 3, "Page": 2}).json()[name]] == keys[6:]
    assert_error(api.get(base, params={"PageToken": "bogus"}), 400, 20001, "PageToken")


def test_paging_is_stable_when_items_are_deleted(api: requests.Session) -> None:
    for i in range(6):
        api.post("/v1/Configs", data={"Key": f"k{i}", "Value": "v"})
    first = api.get("/v1/Configs", params={"PageSize": 2}).json()
    api.delete("/v1/Configs/k0")  # deleting something already seen must not skip anything
    seen = [i["key"] for i in first["configs"]]
    url = first["meta"]["next_page_url"]
    while url:
        body = api.get(url).json()
        seen += [i["key"] for i in body["configs"]]
        url = body["meta"]["next_page_url"]
    assert seen == [f"k{i}" for i in range(6)]


def test_unknown_routes_and_methods(api: requests.Session) -> None:
    assert_error(api.get("/v1/Nothing"), 404, 20404, "/v1/Nothing")
    assert_error(api.get("/v1/Configs/a/b"), 404, 20404)
    resp = api.put("/v1/Configs", data={"Key": "k"})
    assert_error(resp, 405, 20004)
    assert resp.headers["Allow"] == "GET, POST"
    assert_error(api.delete("/v1/Devices"), 405, 20004)


def test_page_size_is_twilios_50_unless_the_emulator_is_given_another(make_emulator) -> None:
    small = make_emulator(page_size=2)
    auth = (small.account_sid, small.auth_token)
    page = requests.get(f"{small.url}/v1/Devices", auth=auth, timeout=5).json()
    assert page["meta"]["page_size"] == 2 and len(page["devices"]) == 2 and page["meta"]["next_page_url"]
    # A PageSize in the request still wins.
    asked = requests.get(f"{small.url}/v1/Devices", params={"PageSize": 3}, auth=auth, timeout=5).json()
    assert asked["meta"]["page_size"] == 3 and len(asked["devices"]) == 3
    default = make_emulator()
    page = requests.get(
        f"{default.url}/v1/Devices", auth=(default.account_sid, default.auth_token), timeout=5
    )
    assert page.json()["meta"]["page_size"] == 50
    for bad in (0, 1001, True, "5"):
        with pytest.raises(ValueError, match="page_size"):
            Emulator(page_size=bad)  # type: ignore[arg-type]

"""API v2010 Keys, IAM v1 Keys and authentication/authorisation on the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from _openapi import assert_error

from microvisor_pulumi.emulator import Emulator


def v2010(emu: Emulator, sid: str | None = None) -> str:
    base = f"/2010-04-01/Accounts/{emu.account_sid}/Keys"
    return f"{base}/{sid}.json" if sid else f"{base}.json"


def as_user(emu: Emulator, user: str, password: str) -> requests.Session:
    session = requests.Session()
    session.auth = (user, password)
    return session


def iam_create(api: requests.Session, emu: Emulator, **form: str) -> dict[str, Any]:
    resp = api.post(f"{emu.url}/v1/Keys", data={"AccountSid": emu.account_sid, **form})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_v2010_key_lifecycle(api: requests.Session, emu: Emulator) -> None:
    created = api.post(v2010(emu), data={"FriendlyName": "ci"})
    assert created.status_code == 201
    key = created.json()
    assert key["sid"].startswith("SK") and len(key["sid"]) == 34
    assert key["friendly_name"] == "ci" and key["secret"]
    assert key["date_created"].endswith("+0000")

    fetched = api.get(v2010(emu, key["sid"]))
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert fetched.json() == {k: v for k, v in key.items() if k != "secret"}

    listed = api.get(v2010(emu)).json()
    assert [k["sid"] for k in listed["keys"]] == [key["sid"]]
    assert all("secret" not in k for k in listed["keys"])

    emu.store.clock = lambda: time.time() + 5  # a later second: Twilio's dates have one-second steps
    updated = api.post(v2010(emu, key["sid"]), data={"FriendlyName": "renamed"})
    emu.store.clock = time.time
    assert updated.status_code == 200 and updated.json()["friendly_name"] == "renamed"
    assert "secret" not in updated.json()
    assert updated.json()["date_updated"] != key["date_updated"]

    assert api.delete(v2010(emu, key["sid"])).status_code == 204
    assert_error(api.get(v2010(emu, key["sid"])), 404, 20404)
    assert_error(api.delete(v2010(emu, key["sid"])), 404, 20404)
    assert_error(api.post(v2010(emu, key["sid"]), data={"FriendlyName": "x"}), 404, 20404)


def test_v2010_friendly_name_limit_and_other_account(api: requests.Session, emu: Emulator) -> None:
    assert_error(api.post(v2010(emu), data={"FriendlyName": "n" * 65}), 400, 20001, "FriendlyName", "64")
    assert api.post(v2010(emu), data={"FriendlyName": "n" * 64}).status_code == 201
    assert api.post(v2010(emu), data={}).status_code == 201  # FriendlyName is optional
    other = "/2010-04-01/Accounts/AC" + "f" * 32 + "/Keys.json"
    assert_error(api.get(other), 404, 20404)
    assert_error(api.post(other, data={}), 404, 20404)


def test_v2010_paging(api: requests.Session, emu: Emulator) -> None:
    sids = [api.post(v2010(emu), data={"FriendlyName": f"k{i}"}).json()["sid"] for i in range(7)]
    first = api.get(v2010(emu), params={"PageSize": 3}).json()
    assert first["page"] == 0 and first["page_size"] == 3 and first["start"] == 0 and first["end"] == 2
    assert first["previous_page_uri"] is None
    assert first["first_page_uri"] == f"/2010-04-01/Accounts/{emu.account_sid}/Keys.json?PageSize=3&Page=0"
    seen, pages, uri = [], 0, first["uri"]
    while uri:
        body = api.get(emu.url + uri).json()  # *_uri fields are relative to the host
        seen += [k["sid"] for k in body["keys"]]
        pages += 1
        uri = body["next_page_uri"]
    assert pages == 3 and seen == sids
    last = api.get(v2010(emu), params={"PageSize": 3, "Page": 2}).json()
    assert (last["start"], last["end"], last["next_page_uri"]) == (6, 6, None)


def test_iam_key_lifecycle(api: requests.Session, emu: Emulator) -> None:
    standard = iam_create(api, emu, FriendlyName="std")
    assert standard["secret"] and standard["policy"] is None
    policy = {"allow": ["/twilio/iam/api-keys/read"]}
    restricted = iam_create(api, emu, FriendlyName="r", KeyType="restricted", Policy=json.dumps(policy))
    assert restricted["policy"] == policy

    fetched = api.get(f"{emu.url}/v1/Keys/{restricted['sid']}").json()
    assert "secret" not in fetched and fetched["policy"] == policy

    listed = api.get(f"{emu.url}/v1/Keys", params={"AccountSid": emu.account_sid}).json()
    assert [k["sid"] for k in listed["keys"]] == [standard["sid"], restricted["sid"]]
    assert all("secret" not in k and k["flags"] for k in listed["keys"])
    assert listed["meta"]["key"] == "keys"

    new_policy = {"allow": ["/twilio/iam/api-keys/*"]}
    updated = api.post(
        f"{emu.url}/v1/Keys/{restricted['sid']}",
        data={"FriendlyName": "r2", "Policy": json.dumps(new_policy)},
    )
    assert updated.status_code == 200
    assert updated.json()["policy"] == new_policy and updated.json()["friendly_name"] == "r2"
    assert "secret" not in updated.json()

    # Both APIs manage the same keys.
    assert api.get(v2010(emu, restricted["sid"])).status_code == 200
    assert api.delete(f"{emu.url}/v1/Keys/{restricted['sid']}").status_code == 204
    assert_error(api.get(f"{emu.url}/v1/Keys/{restricted['sid']}"), 404, 20404)
    assert_error(api.delete(f"{emu.url}/v1/Keys/{restricted['sid']}"), 404, 20404)


def test_iam_parameter_rules(api: requests.Session, emu: Emulator) -> None:
    url = f"{emu.url}/v1/Keys"
    assert_error(api.get(url), 400, 20001, "Missing required parameter AccountSid")
    assert_error(api.post(url, data={}), 400, 20001, "Missing required parameter AccountSid")
    assert_error(api.post(url, data={"AccountSid": "nope"}), 400, 20001, "AccountSid")
    assert_error(api.post(url, data={"AccountSid": "AC" + "f" * 32}), 403, 20403)
    acct = emu.account_sid
    assert_error(api.post(url, data={"AccountSid": acct, "KeyType": "restricted"}), 400, 20001, "Policy")
    assert_error(api.post(url, data={"AccountSid": acct, "KeyType": "main"}), 400, 20001, "KeyType")
    bad_policy = {"AccountSid": acct, "KeyType": "restricted", "Policy": "{not json"}
    assert_error(api.post(url, data=bad_policy), 400, 20001, "Policy")
    long_name = {"AccountSid": acct, "FriendlyName": "n" * 65}
    assert_error(api.post(url, data=long_name), 400, 20001, "FriendlyName must be at most 64")


def test_api_key_secret_only_in_create_response(api: requests.Session, emu: Emulator) -> None:
    secrets = [
        api.post(v2010(emu), data={"FriendlyName": "a"}).json()["secret"],
        iam_create(api, emu, FriendlyName="b")["secret"],
    ]
    sids = [k["sid"] for k in api.get(v2010(emu)).json()["keys"]]
    texts = [
        api.get(v2010(emu)).text,
        api.get(f"{emu.url}/v1/Keys", params={"AccountSid": emu.account_sid}).text,
    ]
    for sid in sids:
        texts += [api.get(v2010(emu, sid)).text, api.get(f"{emu.url}/v1/Keys/{sid}").text]
        texts.append(api.post(v2010(emu, sid), data={"FriendlyName": "c"}).text)
    for text in texts:
        assert '"secret"' not in text
        assert not any(secret in text for secret in secrets)


# -- authentication and authorisation --------------------------------------------------------


def test_account_credentials_and_failures(emu: Emulator) -> None:
    url = f"{emu.url}/v1/Configs"
    assert as_user(emu, emu.account_sid, emu.auth_token).get(url).status_code == 200
    assert_error(requests.get(url), 401, 20003)
    assert_error(as_user(emu, emu.account_sid, "wrong").get(url), 401, 20003)
    assert_error(as_user(emu, "AC" + "f" * 32, emu.auth_token).get(url), 401, 20003)
    assert_error(requests.get(url, headers={"Authorization": "Basic !!!"}), 401, 20003)
    assert_error(requests.get(url, headers={"Authorization": "Bearer x"}), 401, 20003)
    # Every API path demands auth, even unknown ones and key paths.
    assert_error(requests.get(f"{emu.url}/v1/Nothing"), 401, 20003)
    assert_error(requests.get(emu.url + v2010(emu)), 401, 20003)
    assert "Basic" in requests.get(url).headers["WWW-Authenticate"]


def test_api_key_auth_and_revocation(api: requests.Session, emu: Emulator) -> None:
    key = api.post(v2010(emu), data={"FriendlyName": "ci"}).json()
    as_key = as_user(emu, key["sid"], key["secret"])
    assert as_key.post(f"{emu.url}/v1/Configs", data={"Key": "k", "Value": "v"}).status_code == 201
    assert as_key.get(f"{emu.url}/v1/Devices").status_code == 200
    assert_error(as_user(emu, key["sid"], "wrong").get(f"{emu.url}/v1/Configs"), 401, 20003)
    assert api.delete(v2010(emu, key["sid"])).status_code == 204
    assert_error(as_key.get(f"{emu.url}/v1/Configs"), 401, 20003)


def test_standard_keys_cannot_manage_keys(api: requests.Session, emu: Emulator) -> None:
    v2010_key = api.post(v2010(emu), data={}).json()
    iam_key = iam_create(api, emu)
    for key in (v2010_key, iam_key):
        session = as_user(emu, key["sid"], key["secret"])
        assert session.get(f"{emu.url}/v1/Secrets").status_code == 200
        for method, path in [
            ("GET", v2010(emu)),
            ("POST", v2010(emu)),
            ("GET", v2010(emu, key["sid"])),
            ("DELETE", v2010(emu, key["sid"])),
            ("GET", f"/v1/Keys?AccountSid={emu.account_sid}"),
            ("POST", "/v1/Keys"),
            ("POST", f"/v1/Keys/{key['sid']}"),
        ]:
            assert_error(session.request(method, emu.url + path), 403, 20403)


def test_restricted_key_policy(api: requests.Session, emu: Emulator) -> None:
    policy = {"allow": ["/twilio/iam/api-keys/create", "/twilio/messaging/messages/read"]}
    key = iam_create(api, emu, KeyType="restricted", Policy=json.dumps(policy))
    session = as_user(emu, key["sid"], key["secret"])
    # Granted: creating keys.
    assert session.post(emu.url + v2010(emu), data={}).status_code == 201
    # Not granted: reading keys, named by the permission it lacks.
    assert_error(session.get(emu.url + v2010(emu)), 403, 20403, "/twilio/iam/api-keys/read")
    # Widening the policy takes effect on the next request.
    api.post(f"{emu.url}/v1/Keys/{key['sid']}", data={"Policy": json.dumps({"allow": ["/twilio/iam/*"]})})
    assert session.get(emu.url + v2010(emu)).status_code == 200


def test_restricted_key_is_refused_on_microvisor(api: requests.Session, emu: Emulator) -> None:
    # Twilio documents no Microvisor permission: the emulator assumes a restricted key gets none.
    key = iam_create(api, emu, KeyType="restricted", Policy=json.dumps({"allow": ["/twilio/*"]}))
    session = as_user(emu, key["sid"], key["secret"])
    assert session.get(emu.url + v2010(emu)).status_code == 200  # the policy itself works
    for method, path in [
        ("GET", "/v1/Configs"),
        ("POST", "/v1/Configs"),
        ("GET", "/v1/Secrets/k"),
        ("GET", "/v1/Devices"),
        ("GET", "/v1/Devices/demo-device-1/Secrets"),
    ]:
        refused = session.request(method, emu.url + path)
        assert_error(refused, 403, 20403, "documents no restricted-key permission")
    assert api.get(f"{emu.url}/v1/Configs").json()["configs"] == []  # nothing was made


@pytest.mark.parametrize("path", ["/v1/Keys/SK" + "0" * 32, "/v1/Keys/not-a-sid"])
def test_unknown_iam_key(api: requests.Session, emu: Emulator, path: str) -> None:
    assert_error(api.get(emu.url + path), 404, 20404)

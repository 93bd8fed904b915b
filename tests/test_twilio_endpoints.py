"""Typed endpoints: URLs and forms as the server sees them, percent-encoding, and both paging shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _http_fixture import Canned, FakeTwilio, Received

from microvisor_pulumi._twilio import Settings, TwilioClient, TwilioError

AC = "AC" + "0" * 32
SK = "SK" + "1" * 32
UV = "UV" + "2" * 32
AWKWARD_KEYS = [
    "a/b",
    "a?b",
    "a#b",
    "50%",
    "with space",
    "ключ",
    "emoji 🚀",
    "%2F",
    "...",
    "a/../b",
    "a+b=c&d",
]


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[TwilioClient]:
    with TwilioClient(
        Settings(
            account_sid=AC,
            auth_token="tok",
            endpoint=fake.url,
            region="au1",
            edge="sydney",
            retry_base_delay=0.01,
        )
    ) as c:
        yield c


def echo(r: Received) -> Canned:
    return Canned(201 if r.method == "POST" else 200, {"segments": r.segments(), "form": r.form})


# -- percent-encoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_reach_the_server_as_one_segment(
    fake: FakeTwilio, client: TwilioClient, key: str
) -> None:
    fake.handler = echo
    assert client.fetch_item("Configs", key)["segments"] == ["v1", "Configs", key]
    assert client.update_item("Secrets", key, "v", device=key)["segments"] == [
        "v1",
        "Devices",
        key,
        "Secrets",
        key,
    ]
    created = client.create_item("Configs", key, "v", device="my device")
    assert created == {
        "segments": ["v1", "Devices", "my device", "Configs"],
        "form": {"Key": key, "Value": "v"},
    }
    client.delete_item("Secrets", key)
    assert fake.received[-1].method == "DELETE"
    assert fake.received[-1].segments() == ["v1", "Secrets", key]
    for r in fake.received:
        assert "?" not in r.raw_path and "#" not in r.raw_path and " " not in r.raw_path


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.fetch_item("Configs", ""), "key must be a non-empty string"),
        (lambda c: c.fetch_item("Things", "k"), "kind must be 'Configs' or 'Secrets'"),
        (lambda c: c.create_item("Configs", "k", "v", device=""), "device must be a non-empty string"),
        (lambda c: c.fetch_device(""), "device must be a non-empty string"),
        (lambda c: c.fetch_item("Configs", ".."), "cannot be used in a URL path"),
        (lambda c: c.delete_item("Secrets", "k", device="."), "cannot be used in a URL path"),
        (lambda c: c.request("GET", "microvisor", "v1/Configs"), "must start with '/'"),
    ],
)
def test_bad_path_parameters_fail_before_any_traffic(
    fake: FakeTwilio, client: TwilioClient, call: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(client)
    assert fake.received == []


# -- every typed endpoint ----------------------------------------------------------------------------


def test_microvisor_endpoints(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = echo
    assert client.create_item("Secrets", "k", "v")["segments"] == ["v1", "Secrets"]
    assert client.fetch_device("my-unit")["segments"] == ["v1", "Devices", "my-unit"]
    methods = [(r.method, r.path) for r in fake.received]
    assert methods == [("POST", "/v1/Secrets"), ("GET", "/v1/Devices/my-unit")]


def test_api_v2010_key_endpoints(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = echo
    base = ["2010-04-01", "Accounts", AC]
    assert client.create_api_key(AC, "ci") == {
        "segments": [*base, "Keys.json"],
        "form": {"FriendlyName": "ci"},
    }
    assert client.create_api_key(AC)["form"] == {}
    assert client.fetch_api_key(AC, SK)["segments"] == [*base, "Keys", f"{SK}.json"]
    assert client.update_api_key(AC, SK, "renamed")["form"] == {"FriendlyName": "renamed"}
    fake.handler = lambda r: Canned(204)
    client.delete_api_key(AC, SK)
    assert [r.method for r in fake.received] == ["POST", "POST", "GET", "POST", "DELETE"]
    assert fake.received[-1].path == f"/2010-04-01/Accounts/{AC}/Keys/{SK}.json"


def test_iam_key_endpoints(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = echo
    policy = {"allow": ["/twilio/messaging/messages/read"]}
    created = client.create_iam_key(AC, "ci", key_type="restricted", policy=policy)
    assert created["segments"] == ["v1", "Keys"]
    form = created["form"]
    assert {k: form[k] for k in ("AccountSid", "FriendlyName", "KeyType")} == {
        "AccountSid": AC,
        "FriendlyName": "ci",
        "KeyType": "restricted",
    }
    assert json.loads(form["Policy"]) == policy  # a JSON *string* form value
    assert client.create_iam_key(AC)["form"] == {"AccountSid": AC}
    assert client.fetch_iam_key(SK)["segments"] == ["v1", "Keys", SK]
    assert client.update_iam_key(SK, policy=policy)["form"] == {"Policy": json.dumps(policy)}
    assert client.update_iam_key(SK, friendly_name="x")["form"] == {"FriendlyName": "x"}
    fake.handler = lambda r: Canned(204)
    client.delete_iam_key(SK)
    assert (fake.received[-1].method, fake.received[-1].path) == ("DELETE", f"/v1/Keys/{SK}")


def test_typed_calls_refuse_an_empty_success_body(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.add(Canned(200))
    with pytest.raises(TwilioError, match="response was empty"):
        client.fetch_item("Configs", "k")


# -- paging ------------------------------------------------------------------------------------------


def meta_pages(key: str, public_base: str, path: str, extra_query: str = "") -> Any:
    """Three Microvisor/IAM-style pages whose next links name the public host, not ours."""
    pages = {None: ([1, 2], "PT1"), "PT1": ([3, 4], "PT2"), "PT2": ([5], None)}

    def handler(r: Received) -> Canned:
        token = r.query.get("PageToken", [None])[0]
        items, nxt = pages[token]
        next_url = f"{public_base}{path}?{extra_query}PageSize=2&Page=1&PageToken={nxt}" if nxt else None
        meta = {"key": key, "page_size": 2, "next_page_url": next_url, "url": "ignored"}
        return Canned(200, {key: [{"n": i} for i in items], "meta": meta})

    return handler


def test_meta_paging_follows_next_page_url_onto_our_endpoint(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = meta_pages("configs", "https://microvisor.twilio.com", "/v1/Devices/UV1/Configs")
    got = list(client.iter_list("microvisor", "/v1/Devices/UV1/Configs", page_size=2))
    assert [r["n"] for r in got] == [1, 2, 3, 4, 5]
    assert len(fake.received) == 3
    assert fake.received[0].query == {"PageSize": ["2"]}
    assert fake.received[2].query["PageToken"] == ["PT2"]
    assert {r.path for r in fake.received} == {"/v1/Devices/UV1/Configs"}
    assert len(fake.connections()) == 1


def test_list_items_and_devices(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = meta_pages("secrets", "https://microvisor.twilio.com", "/v1/Secrets")
    assert len(list(client.list_items("Secrets"))) == 5
    fake.handler = meta_pages("devices", "https://microvisor.twilio.com", "/v1/Devices")
    assert len(list(client.list_devices())) == 5
    fake.handler = meta_pages("configs", "https://microvisor.twilio.com", "/v1/Devices/a%2Fb/Configs")
    assert len(list(client.list_items("Configs", device="a/b"))) == 5


def test_iam_list_sends_account_sid_and_pages(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = meta_pages("keys", "https://iam.twilio.com", "/v1/Keys", extra_query=f"AccountSid={AC}&")
    assert len(list(client.list_iam_keys(AC))) == 5
    assert all(r.query["AccountSid"] == [AC] for r in fake.received)
    assert len(fake.received) == 3


def test_v2010_paging_follows_relative_next_page_uri(fake: FakeTwilio, client: TwilioClient) -> None:
    path = f"/2010-04-01/Accounts/{AC}/Keys.json"

    def handler(r: Received) -> Canned:
        page = int(r.query.get("Page", ["0"])[0])
        nxt = f"{path}?PageSize=2&Page={page + 1}&PageToken=PA{page + 1}" if page < 2 else None
        body = {
            "keys": [{"sid": f"SK{page}{i}"} for i in range(2 if page < 2 else 1)],
            "first_page_uri": f"{path}?PageSize=2&Page=0",
            "previous_page_uri": None,
            "next_page_uri": nxt,
            "uri": r.raw_path,
            "page": page,
            "page_size": 2,
            "start": 0,
            "end": 1,
        }
        return Canned(200, body)

    fake.handler = handler
    sids = [k["sid"] for k in client.list_api_keys(AC)]
    assert sids == ["SK00", "SK01", "SK10", "SK11", "SK20"]
    assert [r.query.get("PageToken") for r in fake.received] == [None, ["PA1"], ["PA2"]]


def test_paging_loop_is_detected(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.handler = lambda r: Canned(
        200,
        {"configs": [{}], "meta": {"key": "configs", "next_page_url": "https://x.twilio.com/v1/Configs?P=1"}},
    )
    with pytest.raises(TwilioError, match="loops"):
        list(client.list_items("Configs"))


def test_unrecognised_list_page_is_an_error(fake: FakeTwilio, client: TwilioClient) -> None:
    fake.add(Canned(200, {"a": [], "b": [], "next_page_uri": None}))
    with pytest.raises(TwilioError, match="which field holds the records"):
        list(client.iter_list("api", "/2010-04-01/Things.json"))


def test_region_and_edge_apply_to_every_product_without_override() -> None:
    c = TwilioClient(Settings(region="au1", edge="sydney"))
    assert c.base_url("microvisor") == "https://microvisor.sydney.au1.twilio.com"
    assert c.base_url("api") == "https://api.sydney.au1.twilio.com"
    assert c.base_url("iam") == "https://iam.sydney.au1.twilio.com"

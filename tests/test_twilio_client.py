"""The Twilio transport against a real local HTTP server: retries, errors, secrets, pooling, threads."""

from __future__ import annotations

import base64
import copy
import pickle
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _http_fixture import Canned, FakeTwilio, Received, closed_port, twilio_error

from microvisor_pulumi._twilio import (
    AuthFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    MissingCredentials,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Settings,
    TwilioClient,
    TwilioError,
)
from microvisor_pulumi._twilio.errors import Timeout

AC = "AC" + "0" * 32
SK = "SK" + "1" * 32
TOKEN = "tok-CANARY-a1b2c3d4e5"
API_SECRET = "apisecret-CANARY-f6e7d8"
SECRET_VALUE = "value CANARY/hunter2 ключ&=+"

MakeClient = Callable[..., TwilioClient]


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def make(fake: FakeTwilio) -> Iterator[MakeClient]:
    clients: list[TwilioClient] = []

    def build(**overrides: Any) -> TwilioClient:
        tuning = {k: overrides.pop(k) for k in ("backoff_max", "retry_after_max") if k in overrides}
        fields: dict[str, Any] = {
            "account_sid": AC,
            "auth_token": TOKEN,
            "endpoint": fake.url,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_retries": 3,
            "retry_max_seconds": 10.0,
            "retry_base_delay": 0.01,
        }
        fields.update(overrides)
        client = TwilioClient(Settings(**fields), **tuning)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


CONFIG = {"key": "k", "value": "v", "date_updated": "2024-01-01T00:00:00Z", "url": "x"}


# -- basics ----------------------------------------------------------------------------------------


def test_get_returns_json_with_expected_headers(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(200, CONFIG))
    assert make().request("GET", "microvisor", "/v1/Configs/k") == CONFIG
    (seen,) = fake.received
    assert (seen.method, seen.path) == ("GET", "/v1/Configs/k")
    ua = seen.headers["User-Agent"]
    assert re.fullmatch(r"microvisor-pulumi/[0-9][^\s]* \(\S+ \S+\) Python/\d+\.\d+\.\d+\S*", ua), ua
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Accept-Charset"] == "utf-8"
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(f"{AC}:{TOKEN}".encode()).decode()


def test_api_key_credentials_are_used_for_basic_auth(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(200, CONFIG))
    make(api_key=SK, api_secret=API_SECRET).request("GET", "microvisor", "/v1/Configs/k")
    expected = "Basic " + base64.b64encode(f"{SK}:{API_SECRET}".encode()).decode()
    assert fake.received[0].headers["Authorization"] == expected


def test_delete_returns_none_without_accept_header(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(204))
    assert make().request("DELETE", "microvisor", "/v1/Configs/k") is None
    assert "Accept" not in fake.received[0].headers
    assert fake.received[0].headers["Accept-Charset"] == "utf-8"


def test_form_encoding(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(201, CONFIG))
    make().request(
        "POST", "microvisor", "/v1/Configs", data={"A": True, "B": False, "C": None, "D": 5, "E": "é"}
    )
    seen = fake.received[0]
    assert seen.form == {"A": "true", "B": "false", "D": "5", "E": "é"}
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_query_params_are_sent(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(200, {"keys": [], "meta": {"key": "keys", "next_page_url": None}}))
    make().request("GET", "iam", "/v1/Keys", params={"AccountSid": AC, "PageSize": 5, "X": None})
    assert fake.received[0].query == {"AccountSid": [AC], "PageSize": ["5"]}


def test_success_with_non_json_body_is_an_error(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(200, "<html>hello</html>"))
    with pytest.raises(TwilioError, match="not a JSON object") as info:
        make().request("GET", "microvisor", "/v1/Configs/k")
    assert "hello" not in str(info.value)


def test_redirects_are_not_followed(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(302, None, {"Location": "/elsewhere"}))
    with pytest.raises(TwilioError) as info:
        make().request("GET", "microvisor", "/v1/Configs/k")
    assert type(info.value) is TwilioError and info.value.status == 302
    assert "redirects are not followed" in str(info.value)
    assert len(fake.received) == 1


def test_missing_credentials_raise_before_any_traffic(fake: FakeTwilio) -> None:
    client = TwilioClient(Settings(endpoint=fake.url))
    with pytest.raises(MissingCredentials, match="TWILIO_AUTH_TOKEN"):
        client.fetch_item("Configs", "k")
    assert fake.received == []
    with pytest.raises(MissingCredentials, match="twilio:accountSid"):
        _ = client.account_sid
    assert TwilioClient(Settings(account_sid=AC)).account_sid == AC


# -- error mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, InvalidInput, False),
        (401, AuthFailed, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (409, Conflict, False),
        (422, InvalidInput, False),
        (429, RateLimited, True),
        (500, ServerError, True),
        (502, ServerError, True),
        (503, ServerError, True),
        (418, TwilioError, False),
    ],
)
def test_status_maps_to_error_class(
    fake: FakeTwilio, make: MakeClient, status: int, cls: type[TwilioError], retryable: bool
) -> None:
    fake.add(twilio_error(status, 20000 + status, f"Problem {status}"))
    with pytest.raises(TwilioError) as info:
        make(max_retries=0).request("GET", "microvisor", "/v1/Configs/k?PageSize=5")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.method, err.path) == (status, 20000 + status, "GET", "/v1/Configs/k")
    assert err.message == f"Problem {status}"
    assert err.more_info == f"https://www.twilio.com/docs/errors/{20000 + status}"
    assert err.retryable is retryable
    assert err.__cause__ is None and err.__context__ is None


def test_not_found_renders_one_clear_line(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(twilio_error(404, 20404, "The requested resource /Configs/foo was not found"))
    with pytest.raises(NotFound) as info:
        make().fetch_item("Configs", "foo")
    assert str(info.value) == (
        "Twilio API error 404 (code 20404) on GET /v1/Configs/foo: The requested resource /Configs/foo "
        "was not found. More info: https://www.twilio.com/docs/errors/20404"
    )
    assert repr(info.value).startswith("NotFound('Twilio API error 404")


def test_auth_detail_is_kept(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(twilio_error(401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."))
    with pytest.raises(AuthFailed, match="Authenticate: Your AccountSid or AuthToken was incorrect"):
        make().fetch_item("Configs", "k")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body><h1>502 Bad Gateway</h1>nginx secret-ish page</body></html>", "(non-JSON response)"),
        (None, "(no error details)"),
    ],
)
def test_non_json_error_body_is_never_dumped(
    fake: FakeTwilio, make: MakeClient, body: str | None, expected: str
) -> None:
    fake.add(Canned(502, body))
    with pytest.raises(ServerError) as info:
        make(max_retries=0).fetch_item("Configs", "k")
    err = info.value
    assert err.code is None and err.more_info is None
    assert err.message == f"HTTP 502 Bad Gateway {expected}"
    assert "nginx" not in str(err) and "<html>" not in repr(err)


def test_errors_survive_pickling() -> None:
    err = RateLimited("slow down", status=429, code=20429, method="GET", path="/v1/Configs", retry_after=3.0)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is RateLimited and str(back) == str(err) and back.retry_after == 3.0
    missing = pickle.loads(pickle.dumps(MissingCredentials()))
    assert str(missing) == str(MissingCredentials())


# -- retries ---------------------------------------------------------------------------------------


def _gaps(received: list[Received]) -> list[float]:
    return [b.at - a.at for a, b in zip(received, received[1:], strict=False)]


def test_get_retries_with_exponential_backoff(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(503), Canned(500), Canned(502), Canned(200, CONFIG))
    assert make(max_retries=3, retry_base_delay=0.1).fetch_item("Configs", "k") == CONFIG
    assert len(fake.received) == 4
    gaps = _gaps(fake.received)
    # Equal jitter: attempt n waits between half and all of factor * 2**(n-1).
    for gap, step in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert step / 2 - 0.01 <= gap <= step + 0.15, gaps
    assert len(fake.connections()) == 1  # retried on the same keep-alive connection


def test_retries_exhausted_map_the_final_response(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: twilio_error(500, 20500, "Internal Server Error")
    with pytest.raises(ServerError, match="code 20500"):
        make(max_retries=2).fetch_item("Configs", "k")
    assert len(fake.received) == 3


def test_retry_after_is_honoured(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(
        Canned(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "1"}),
        Canned(200, CONFIG),
    )
    assert make().fetch_item("Configs", "k") == CONFIG
    (gap,) = _gaps(fake.received)
    assert 0.95 <= gap < 1.5


def test_retry_after_is_capped(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(503, None, {"Retry-After": "3600"}), Canned(200, CONFIG))
    assert make(retry_after_max=0.2).fetch_item("Configs", "k") == CONFIG
    (gap,) = _gaps(fake.received)
    assert 0.18 <= gap < 0.6


def test_rate_limited_carries_retry_after(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "7"}))
    with pytest.raises(RateLimited) as info:
        make(max_retries=0).fetch_item("Configs", "k")
    assert info.value.retry_after == 7.0


def test_total_time_is_bounded(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: Canned(503)
    client = make(max_retries=20, retry_base_delay=0.2, retry_max_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(ServerError):
        client.fetch_item("Configs", "k")
    assert time.monotonic() - started < 0.7
    assert 2 <= len(fake.received) <= 5


def test_retry_after_beyond_budget_gives_up_at_once(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: Canned(
        429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "5"}
    )
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        make(retry_max_seconds=1.0).fetch_item("Configs", "k")
    assert time.monotonic() - started < 0.5
    assert len(fake.received) == 1 and info.value.retry_after == 5.0


def test_create_is_not_retried_on_server_error(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: Canned(500)
    with pytest.raises(ServerError):
        make().create_item("Configs", "k", "v")
    assert len(fake.received) == 1


def test_create_is_resent_after_rate_limit_until_the_budget_is_spent(
    fake: FakeTwilio, make: MakeClient
) -> None:
    # A 429 means Twilio did not process the request, so resending a create is safe.
    fake.add(Canned(429, None, {"Retry-After": "0"}), Canned(429, None, {"Retry-After": "0"}))
    fake.add(Canned(201, CONFIG))
    assert make().create_item("Configs", "k", "v") == CONFIG
    assert len(fake.received) == 3
    fake.received.clear()
    fake.handler = lambda r: Canned(429, None, {"Retry-After": "0"})
    with pytest.raises(RateLimited):
        make().create_item("Configs", "k", "v")
    assert len(fake.received) == 4  # the first attempt and max_retries=3 more


def test_create_is_not_retried_on_server_error_with_retry_after(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: Canned(503, None, {"Retry-After": "0"})
    with pytest.raises(ServerError):
        make().create_item("Configs", "k", "v")
    assert len(fake.received) == 1


def test_create_is_not_retried_after_read_timeout(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(201, CONFIG, delay=0.6), Canned(201, CONFIG))
    with pytest.raises(Timeout) as info:
        make(read_timeout=0.25).create_item("Configs", "k", "v")
    time.sleep(0.1)
    assert len(fake.received) == 1
    assert "may have received it" in str(info.value)
    assert info.value.status is None and info.value.retryable
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_create_is_not_retried_when_dropped_after_send(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(drop=True), Canned(201, CONFIG))
    with pytest.raises(NetworkError, match="dropped") as info:
        make().create_item("Configs", "k", "v")
    assert type(info.value) is NetworkError
    assert len(fake.received) == 1


def test_update_is_retried_after_errors_drops_and_timeouts(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(Canned(500), Canned(drop=True), Canned(200, CONFIG, delay=0.5), Canned(200, CONFIG))
    assert make(read_timeout=0.25).update_item("Configs", "k", "v2") == CONFIG
    assert len(fake.received) == 4
    assert all(r.method == "POST" and r.form == {"Value": "v2"} for r in fake.received)


def test_connect_failures_are_retried_even_for_create(make: MakeClient) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(NetworkError, match="could not connect") as info:
        make(endpoint=url, max_retries=0).create_item("Configs", "k", "v")
    once = time.monotonic() - started
    assert type(info.value) is NetworkError and info.value.__context__ is None

    started = time.monotonic()
    with pytest.raises(NetworkError, match="retries exhausted"):
        make(endpoint=url, max_retries=3, retry_base_delay=0.1).fetch_item("Configs", "k")
    with pytest.raises(NetworkError):
        make(endpoint=url, max_retries=3, retry_base_delay=0.1).create_item("Configs", "k", "v")
    # Three backoff sleeps of at least 0.05 + 0.1 + 0.2 s, twice: the connect retries happened.
    assert time.monotonic() - started >= 2 * 0.35 > once


# -- secrets never leak ----------------------------------------------------------------------------


def _echo_everything(r: Received) -> Canned:
    auth = base64.b64decode(r.headers["Authorization"].split()[1]).decode()
    return twilio_error(
        400,
        20001,
        f"Invalid parameters {r.form} sent with {auth}\nsecond line {r.body.decode()}",
        detail=f"got Value={r.form.get('Value')}",
        more_info=f"https://www.twilio.com/docs/errors/20001?echo={r.form.get('Value')}",
    )


@pytest.mark.parametrize("use_api_key", [False, True])
def test_no_secret_in_error_text_or_repr(fake: FakeTwilio, make: MakeClient, use_api_key: bool) -> None:
    fake.handler = _echo_everything
    creds = {"api_key": SK, "api_secret": API_SECRET} if use_api_key else {}
    client = make(**creds)
    errors: list[TwilioError] = []
    for call in (
        lambda: client.create_item("Secrets", "k", SECRET_VALUE),
        lambda: client.update_item("Secrets", "k", SECRET_VALUE, device="UV" + "2" * 32),
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        errors.append(info.value)
    for err in errors:
        texts = [str(err), repr(err), err.message, str(err.more_info), str(err.args), str(vars(err))]
        for text in texts:
            for canary in (TOKEN, API_SECRET, SECRET_VALUE, "CANARY"):
                assert canary not in text, text
        assert "***" in err.message
        assert "\n" not in str(err)
        assert err.__context__ is None and err.__cause__ is None
    assert "CANARY" not in repr(client) and "CANARY" not in repr(client.settings)


def test_no_secret_in_network_error(make: MakeClient) -> None:
    client = make(endpoint=f"http://127.0.0.1:{closed_port()}", max_retries=0)
    with pytest.raises(NetworkError) as info:
        client.request("POST", "microvisor", "/v1/Secrets", data={"Key": "k", "Value": SECRET_VALUE})
    for text in (str(info.value), repr(info.value), str(vars(info.value))):
        assert "CANARY" not in text


# -- pooling, threads, lifecycle -------------------------------------------------------------------


def test_sequential_calls_share_one_connection(fake: FakeTwilio, make: MakeClient) -> None:
    fake.add(
        Canned(201, CONFIG),
        Canned(200, CONFIG),
        Canned(200, CONFIG),
        twilio_error(404, 20404, "nope"),
        Canned(204),
        Canned(200, CONFIG),
    )
    client = make()
    client.create_item("Configs", "k", "v")
    client.fetch_item("Configs", "k")
    client.update_item("Configs", "k", "v2")
    with pytest.raises(NotFound):
        client.fetch_item("Configs", "gone")
    client.delete_item("Configs", "k")
    client.fetch_item("Configs", "k")
    assert len(fake.received) == 6
    assert len(fake.connections()) == 1


def test_close_drops_connections_and_client_stays_usable(fake: FakeTwilio, make: MakeClient) -> None:
    fake.handler = lambda r: Canned(200, CONFIG)
    with make() as client:
        client.fetch_item("Configs", "k")
        client.close()
        client.fetch_item("Configs", "k")
    assert len(fake.connections()) == 2


def test_many_threads_share_one_client(fake: FakeTwilio, make: MakeClient) -> None:
    def answer(r: Received) -> Canned:
        segs = r.segments()
        if r.method == "POST":
            return Canned(200, {"key": segs[-1], "value": r.form["Value"]})
        return Canned(200, {"key": segs[-1], "value": None})

    fake.handler = answer
    client = make()
    problems: list[str] = []
    threads_n, calls_n = 16, 25

    def work(t: int) -> None:
        try:
            for i in range(calls_n):
                key = f"t{t}/k{i}"
                if i % 2:
                    got = client.update_item("Configs", key, f"v{t}-{i}")
                    ok = got == {"key": key, "value": f"v{t}-{i}"}
                else:
                    ok = client.fetch_item("Configs", key)["key"] == key
                if not ok:
                    problems.append(f"thread {t} call {i}")
        except Exception as exc:  # pragma: no cover - reported below
            problems.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert problems == []
    assert len(fake.received) == threads_n * calls_n
    assert len(fake.connections()) <= threads_n  # one pooled connection per thread, reused


def test_client_refuses_to_be_pickled_or_copied(make: MakeClient) -> None:
    client = make()
    for attempt in (
        lambda: pickle.dumps(client),
        lambda: copy.copy(client),
        lambda: copy.deepcopy(client),
        lambda: client.__getstate__(),
    ):
        with pytest.raises(TypeError, match="cannot be pickled"):
            attempt()


def _echo_authorization(r: Received) -> Canned:
    # A proxy that echoes the request's Authorization header in several spellings, and another
    # party's Basic credential as well.
    header = r.headers.get("Authorization", "")
    b64 = header.split(" ", 1)[-1]
    return twilio_error(
        502,
        20500,
        f"upstream refused Authorization: {header}; raw={b64}; "
        f'headers={{"authorization": "{header}"}}; other=Basic QUJDREVGR0hJSktMTU5PUFFSU1RVVg==',
    )


@pytest.mark.parametrize("use_api_key", [False, True])
def test_an_echoed_authorization_header_never_reaches_an_error(
    fake: FakeTwilio, make: MakeClient, use_api_key: bool
) -> None:
    fake.handler = _echo_authorization
    creds = {"api_key": SK, "api_secret": API_SECRET} if use_api_key else {}
    client = make(max_retries=0, **creds)
    with pytest.raises(TwilioError) as info:
        client.request("GET", "microvisor", "/v1/Configs")
    sent = fake.received[-1].headers["Authorization"]
    b64 = sent.split(" ", 1)[1]
    text = " ".join([str(info.value), repr(info.value), str(vars(info.value))])
    for leaked in (sent, b64, TOKEN, API_SECRET, "QUJDREVGR0hJSktMTU5PUFFSU1RVVg=="):
        assert leaked not in text, text
    assert "Authorization: ***" in str(info.value)


def test_server_time_comes_from_the_date_header_of_this_threads_last_response(
    fake: FakeTwilio, make: MakeClient
) -> None:
    client = make()
    assert client.server_time() is None
    fake.add(Canned(200, CONFIG, headers={"Date": "Mon, 13 Jun 2016 22:50:08 GMT"}))
    client.fetch_item("Configs", "k")
    when, seen_at = client.server_time() or (0.0, 0.0)
    assert when == 1465858208.0 and abs(time.monotonic() - seen_at) < 5
    # Another thread has seen no response: it has no clock of its own yet.
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(client.server_time()))
    worker.start()
    worker.join()
    assert other == [None]


# -- proxies: from the environment as requests read them, once per client ---------------------------


class _ConnectRecorder:
    """A proxy that records each request line (CONNECT for https) and refuses it with 403."""

    def __init__(self) -> None:
        import socket

        self.lines: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_https_proxy_is_used_for_https_hosts(make: MakeClient, no_proxy_env: pytest.MonkeyPatch) -> None:
    proxy = _ConnectRecorder()
    try:
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        client = make(endpoint="https://microvisor.example.test", max_retries=0)
        with pytest.raises(NetworkError, match="through the proxy") as info:
            client.fetch_item("Configs", "k")
        assert [line.rsplit(" ", 1)[0] for line in proxy.lines] == ["CONNECT microvisor.example.test:443"]
        assert info.value.__context__ is None and info.value.__cause__ is None
    finally:
        proxy.close()


def test_http_proxy_forwards_with_its_credentials(
    fake: FakeTwilio, make: MakeClient, no_proxy_env: pytest.MonkeyPatch
) -> None:
    fake.add(Canned(200, CONFIG))
    no_proxy_env.setenv("HTTP_PROXY", fake.url.replace("http://", "http://user:p%40ss@"))
    assert make(endpoint="http://twilio.example.test").fetch_item("Configs", "k") == CONFIG
    (seen,) = fake.received
    assert seen.raw_path == "http://twilio.example.test/v1/Configs/k"
    assert seen.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"user:p@ss").decode()


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.0/8", "*"])
def test_no_proxy_goes_direct(
    fake: FakeTwilio, make: MakeClient, no_proxy_env: pytest.MonkeyPatch, no_proxy: str
) -> None:
    fake.add(Canned(200, CONFIG))
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    no_proxy_env.setenv("NO_PROXY", no_proxy)
    assert make().fetch_item("Configs", "k") == CONFIG
    assert [r.raw_path for r in fake.received] == ["/v1/Configs/k"]


def test_proxies_are_read_once_per_client_and_host(
    fake: FakeTwilio, make: MakeClient, no_proxy_env: pytest.MonkeyPatch
) -> None:
    import urllib.request

    fake.handler = lambda r: Canned(200, CONFIG)
    looked: list[int] = []
    real = urllib.request.getproxies

    def counting() -> dict[str, str]:
        looked.append(1)
        return real()

    no_proxy_env.setattr(urllib.request, "getproxies", counting)
    client = make()
    for _ in range(5):
        client.fetch_item("Configs", "k")
        client.update_item("Configs", "k", "v")
    assert len(looked) == 1
    # Read when the client first reaches the host: a proxy set later applies to the next client.
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    client.fetch_item("Configs", "k")
    with pytest.raises(NetworkError):
        make(max_retries=0).fetch_item("Configs", "k")

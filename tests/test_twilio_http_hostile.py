"""The HTTP layer against a hostile or broken server, proxy or environment (all on 127.0.0.1).

What ``requests`` used to guard and a urllib3 client must guard itself: bodies that never end or
inflate to gigabytes, TLS verification and host names, redirects and next-page links to other
hosts, malformed hints, and proxy URLs whose text carries a password.
"""

from __future__ import annotations

import base64
import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _http_fixture import Canned, FakeTwilio

from microvisor_pulumi._twilio import NetworkError, RateLimited, Settings, TwilioClient, TwilioError
from microvisor_pulumi._twilio.client import MAX_BODY_BYTES
from microvisor_pulumi._twilio.errors import Timeout

AC = "AC" + "0" * 32
TOKEN = "tok-CANARY-h0st1le"
TLS = Path(__file__).parent / "tls"  # a test CA; certificates for IP 127.0.0.1 and for wrong.example
CONFIG = {"key": "k", "value": "v", "date_updated": "2024-01-01T00:00:00Z", "url": "x"}

Respond = Callable[[socket.socket, bytes, threading.Event], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and lets ``respond`` write whatever bytes it likes.

    Each accepted connection is handed, with the request head read so far, to the next function of
    ``responders`` (the last one repeats). ``stop`` is set at close so endless responders end.
    """

    def __init__(self, *responders: Respond, tls: ssl.SSLContext | None = None) -> None:
        self.responders = list(responders)
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._tls = tls
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data)
            respond = self.responders[min(len(self.requests), len(self.responders)) - 1]
            respond(conn, data, self.stop)
        except OSError:
            pass  # the client gave up, or refused our certificate
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self._sock.close()


@pytest.fixture
def servers() -> Iterator[list[RawServer]]:
    started: list[RawServer] = []
    yield started
    for server in started:
        server.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return monkeypatch


def client_for(endpoint: str, **overrides: Any) -> TwilioClient:
    fields: dict[str, Any] = {
        "account_sid": AC,
        "auth_token": TOKEN,
        "endpoint": endpoint,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "max_retries": 0,
        "retry_max_seconds": 10.0,
        "retry_base_delay": 0.01,
    }
    fields.update(overrides)
    return TwilioClient(Settings(**fields))


def head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


def trickle(status: str) -> Respond:
    """Announce a 100 kB body, then send one byte every 0.2 s (for at most 8 s, then hang up)."""

    def respond(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
        conn.sendall(head(status, "Content-Type: application/json", "Content-Length: 100000"))
        until = time.monotonic() + 8
        while time.monotonic() < until and not stop.wait(0.2):
            conn.sendall(b" ")

    return respond


def answer(status: str, body: bytes, *headers: str) -> Respond:
    def respond(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
        conn.sendall(head(status, f"Content-Length: {len(body)}", "Connection: close", *headers) + body)

    return respond


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except TwilioError as exc:
        return exc, time.monotonic() - started


# -- bodies ----------------------------------------------------------------------------------------


def test_trickling_body_is_bounded_by_the_read_timeout(servers: list[RawServer]) -> None:
    """The read timeout bounds each silence; a server sending a byte every 0.2 s never falls silent
    for 1 s, so without a bound on the whole body the call waits as long as the server likes."""
    server = RawServer(trickle("200 OK"))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    outcome, elapsed = timed(lambda: client.fetch_item("Configs", "k"))
    assert isinstance(outcome, Timeout), outcome
    assert "response from 127.0.0.1" in str(outcome) and "not complete within 1 s" in str(outcome)
    assert elapsed < 4, elapsed


def test_trickling_headers_are_bounded_by_the_read_timeout(servers: list[RawServer]) -> None:
    """The same for the head: a header line sent a byte at a time (each within the read timeout)."""

    def slow_head(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        until = time.monotonic() + 8
        while time.monotonic() < until and not stop.wait(0.2):
            conn.sendall(b"a")

    server = RawServer(slow_head)
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    outcome, elapsed = timed(lambda: client.fetch_item("Configs", "k"))
    assert isinstance(outcome, Timeout), outcome
    assert elapsed < 4, elapsed
    # Cut off mid-head, what came must never pass for a whole answer (an empty 200 to a DELETE).
    server = RawServer(slow_head)
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    with pytest.raises(Timeout, match="no response from 127.0.0.1:[0-9]+ within 1 s"):
        client.delete_item("Configs", "k")
    # A GET is retried after that, like after any dropped answer; a create is not.
    server = RawServer(slow_head, answer("200 OK", b'{"key": "k"}'))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}", max_retries=1)
    outcome, elapsed = timed(lambda: client.fetch_item("Configs", "k"))
    assert outcome == {"key": "k"} and elapsed < 4, (outcome, elapsed)


def test_retried_response_with_a_trickling_body_does_not_hold_the_retry(servers: list[RawServer]) -> None:
    """A 503 to be retried is drained by urllib3 to keep its connection: a body that never ends must
    not hold the call there (it is dropped after the read timeout) before the retry succeeds."""
    server = RawServer(trickle("503 Service Unavailable"), answer("200 OK", b'{"key": "k", "value": "v"}'))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}", max_retries=2)
    outcome, elapsed = timed(lambda: client.fetch_item("Configs", "k"))
    assert outcome == {"key": "k", "value": "v"}
    assert elapsed < 4, elapsed


def test_gzip_bomb_is_refused_before_it_inflates(servers: list[RawServer]) -> None:
    """A small gzip body (a few hundred kB) that inflates past the limit: refused, not inflated whole."""
    padding = b"x" * (MAX_BODY_BYTES + 1024 * 1024)
    bomb = gzip.compress(b'{"key": "k", "pad": "' + padding + b'"}', 6)
    del padding
    assert len(bomb) < MAX_BODY_BYTES // 50
    server = RawServer(answer("200 OK", bomb, "Content-Type: application/json", "Content-Encoding: gzip"))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    with pytest.raises(TwilioError, match="larger than") as info:
        client.fetch_item("Configs", "k")
    assert info.value.status == 200


def test_gzip_body_within_the_limit_is_decoded(servers: list[RawServer]) -> None:
    packed = zlib.compress(b'{"key": "k", "value": "v"}')
    server = RawServer(
        answer("200 OK", packed, "Content-Type: application/json", "Content-Encoding: deflate")
    )
    servers.append(server)
    assert client_for(f"http://127.0.0.1:{server.port}").fetch_item("Configs", "k") == {
        "key": "k",
        "value": "v",
    }


def test_body_cut_short_is_retried_for_a_get_but_not_for_a_create(servers: list[RawServer]) -> None:
    def cut(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
        conn.sendall(head("200 OK", "Content-Length: 1000") + b'{"key": ')

    server = RawServer(cut, answer("200 OK", b'{"key": "k"}'))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}", max_retries=2)
    assert client.fetch_item("Configs", "k") == {"key": "k"}
    assert len(server.requests) == 2

    server = RawServer(cut)
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}", max_retries=2)
    with pytest.raises(NetworkError, match="may have received it"):
        client.request("POST", "microvisor", "/v1/Configs", data={"Key": "k", "Value": "v"})
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [200, 400])
def test_deeply_nested_json_body_is_no_crash(status: int) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting: a 200 kB page of brackets
    must become a clear error, not escape as an internal crash."""
    deep = "[" * 100_000 + "]" * 100_000
    with FakeTwilio() as fake:
        fake.add(Canned(status, deep))
        with pytest.raises(TwilioError) as info:
            client_for(fake.url).fetch_item("Configs", "k")
    assert info.value.status == status
    assert "JSON" in str(info.value)


def test_corrupt_gzip_body_is_a_clear_error(servers: list[RawServer]) -> None:
    server = RawServer(answer("200 OK", b"\x1f\x8b\x08\x00garbage" * 10, "Content-Encoding: gzip"))
    servers.append(server)
    with pytest.raises(TwilioError, match="could not be decoded"):
        client_for(f"http://127.0.0.1:{server.port}").fetch_item("Configs", "k")


@pytest.mark.parametrize("code", ["\u00b2", "9" * 5000])
def test_error_code_that_is_not_a_number_is_dropped(code: str) -> None:
    """``"²".isdigit()`` is true but int() refuses it, as it refuses 5000 digits: no crash, no code."""
    with FakeTwilio() as fake:
        fake.add(Canned(400, {"code": code, "message": "bad request"}))
        with pytest.raises(TwilioError, match="bad request") as info:
            client_for(fake.url).fetch_item("Configs", "k")
    assert info.value.status == 400 and info.value.code is None


def test_next_page_link_that_is_not_a_url_is_a_clear_error() -> None:
    with FakeTwilio() as fake:
        broken = "https://[microvisor.twilio.com/v1/Configs?Page=1"
        meta = {"key": "configs", "next_page_url": broken}
        fake.add(Canned(200, {"configs": [{"key": "a"}], "meta": meta}))
        client = client_for(fake.url)
        with pytest.raises(TwilioError, match="next-page link is not a valid URL"):
            list(client.iter_list("microvisor", "/v1/Configs"))


def test_next_page_link_with_cr_lf_cannot_inject_a_header() -> None:
    with FakeTwilio() as fake:
        evil = "/v1/Configs?Page=1 HTTP/1.1\r\nX-Evil: y"
        meta = {"key": "configs", "next_page_url": evil}
        fake.add(Canned(200, {"configs": [{"key": "a"}], "meta": meta}))
        fake.add(Canned(200, {"configs": [], "meta": {"key": "configs"}}))
        assert [r["key"] for r in client_for(fake.url).iter_list("microvisor", "/v1/Configs")] == ["a"]
        assert "X-Evil" not in fake.received[1].headers
        assert "\r" not in fake.received[1].raw_path and "\n" not in fake.received[1].raw_path


def test_informational_answer_never_desynchronizes_the_connection(servers: list[RawServer]) -> None:
    """http.client takes a 103 Early Hints for the final answer; the real one, arriving later on the
    same keep-alive connection, was then read as the answer to the *next* request (request 2 got
    request 1's record). The connection must go with the 103."""

    def hints_then_answer(conn: socket.socket, _: bytes, stop: threading.Event) -> None:
        for n in range(1, 4):
            conn.sendall(head("103 Early Hints", "Link: </x>; rel=preload"))
            time.sleep(0.2)
            body = b'{"key": "answer-to-request-%d"}' % n
            conn.sendall(head("200 OK", f"Content-Length: {len(body)}") + body)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk

    server = RawServer(hints_then_answer)
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    outcomes: list[Any] = []
    for _ in range(2):
        try:
            outcomes.append(client.fetch_item("Configs", "k"))
        except TwilioError as exc:
            outcomes.append(exc)
    assert not any(isinstance(o, dict) for o in outcomes), outcomes  # no answer to another request
    assert all(isinstance(o, NetworkError) and "informational HTTP 103" in str(o) for o in outcomes)
    # A create's outcome is unknown too: its recovery must look before anything is sent again.
    with pytest.raises(NetworkError, match="may have received it"):
        client.request("POST", "microvisor", "/v1/Configs", data={"Key": "k", "Value": "v"})


# -- hints and headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hint",
    [
        "\u00b2",  # "²".isdigit() is true, but float("²") fails
        "Mon, 01 Jan 99999999 00:00:00",  # a year past datetime's range
        "Mon, 01 Jan 9999999999999999999999 00:00:00",  # overflows
        "Mon, 01 Jan 9999999999999999999999 00:00:00 GMT",
    ],
)
def test_malformed_retry_after_is_no_hint(hint: str) -> None:
    """The server controls every byte of Retry-After: a malformed one is no hint, never a crash."""
    with FakeTwilio() as fake:
        fake.add(Canned(429, {"code": 20429, "message": "slow down"}, headers={"Retry-After": hint}))
        with pytest.raises(RateLimited) as info:
            client_for(fake.url).fetch_item("Configs", "k")
    assert info.value.code == 20429 and info.value.retry_after is None


@pytest.mark.parametrize("load", ["9" * 400, "0", "-3"])
def test_absurd_concurrent_requests_header_is_not_believed(load: str) -> None:
    """Twilio-Concurrent-Requests feeds the limiter's arithmetic: a 400-digit count overflowed it
    (OverflowError out of the call); zero or a negative count is no count (it includes this request)."""
    with FakeTwilio() as fake:
        throttled = {"code": 20429, "message": "slow down"}
        fake.add(Canned(429, throttled, headers={"Twilio-Concurrent-Requests": load, "Retry-After": "0"}))
        fake.add(Canned(200, {"key": "k"}))
        client = client_for(fake.url, max_retries=1)
        assert client.fetch_item("Configs", "k") == {"key": "k"}
        assert client._limiter.ceiling is None and client._limiter.in_flight == 0


# -- proxies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proxy",
    [
        "http://user:pr0xy-CANARY@127.0.0.1:99999",  # port out of range
        "http://user:pr0xy-CANARY@127.0.0.1:notaport",
        "http://user:pr0xy-CANARY@[127.0.0.1:8080",  # unbalanced bracket
    ],
)
def test_malformed_proxy_url_never_shows_its_password(clean_env: pytest.MonkeyPatch, proxy: str) -> None:
    """urllib3's LocationParseError quotes the whole proxy URL: it must not reach the user."""
    clean_env.setenv("HTTP_PROXY", proxy)
    client = client_for("http://127.0.0.1:9")
    with pytest.raises(TwilioError, match="HTTP_PROXY") as info:
        client.fetch_item("Configs", "k")
    assert "CANARY" not in str(info.value) and "CANARY" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_socks_proxy_is_refused_by_name(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ALL_PROXY", "socks5://user:pr0xy-CANARY@127.0.0.1:1080")
    with pytest.raises(TwilioError, match="socks5:// proxy; only http:// and https://") as info:
        client_for("http://127.0.0.1:9").fetch_item("Configs", "k")
    assert "CANARY" not in str(info.value)


def test_proxy_password_outside_latin1_is_sent_as_utf8(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Basic credentials go out in latin-1 when they can (as requests did), else in UTF-8."""
    with FakeTwilio() as fake:
        fake.add(Canned(200, {"key": "k"}))
        clean_env.setenv("HTTP_PROXY", fake.url.replace("http://", "http://user:p%E2%82%ACss@"))
        assert client_for(fake.url).fetch_item("Configs", "k") == {"key": "k"}
        sent = fake.received[0].headers["Proxy-Authorization"]
    assert sent == "Basic " + base64.b64encode("user:p\u20acss".encode()).decode()


def test_proxy_echoing_its_credentials_never_shows_them(clean_env: pytest.MonkeyPatch) -> None:
    """A plain-http proxy answers for itself (407, 502 pages) and may echo the credentials it got."""
    with FakeTwilio() as fake:
        page = "proxy refused user proxyuser with password pr0xy-CANARY-pw (proxyuser:pr0xy-CANARY-pw)"
        fake.add(Canned(407, {"message": page}))
        clean_env.setenv("HTTP_PROXY", fake.url.replace("http://", "http://proxyuser:pr0xy-CANARY-pw@"))
        with pytest.raises(TwilioError, match="proxy refused") as info:
            client_for(fake.url).fetch_item("Configs", "k")
    assert "CANARY" not in str(info.value)


# -- TLS -------------------------------------------------------------------------------------------


def tls_server(cert: str) -> RawServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / cert)
    return RawServer(answer("200 OK", b'{"key": "k"}', "Content-Type: application/json"), tls=context)


def test_tls_certificate_from_an_unknown_ca_is_refused(
    servers: list[RawServer], clean_env: pytest.MonkeyPatch
) -> None:
    server = tls_server("ip-server.pem")
    servers.append(server)
    with pytest.raises(NetworkError, match="TLS") as info:
        client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k")
    assert TOKEN not in str(info.value)
    assert server.requests == []  # nothing, credentials least of all, went over the refused link


def test_tls_ca_bundle_from_the_environment_is_trusted(
    servers: list[RawServer], clean_env: pytest.MonkeyPatch
) -> None:
    server = tls_server("ip-server.pem")
    servers.append(server)
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(TLS / "ca.pem"))
    assert client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k") == {"key": "k"}


def test_tls_certificate_for_another_host_is_refused(
    servers: list[RawServer], clean_env: pytest.MonkeyPatch
) -> None:
    """Signed by a trusted CA, but for wrong.example, not 127.0.0.1: host name checking refuses it."""
    server = tls_server("wrong-server.pem")
    servers.append(server)
    clean_env.setenv("CURL_CA_BUNDLE", str(TLS / "ca.pem"))
    with pytest.raises(NetworkError, match="TLS"):
        client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k")
    assert server.requests == []


def test_tls_ca_directory_from_the_environment_is_trusted(
    servers: list[RawServer], clean_env: pytest.MonkeyPatch
) -> None:
    """``requests`` accepted a hashed certificate directory in REQUESTS_CA_BUNDLE; so does the client."""
    server = tls_server("ip-server.pem")
    servers.append(server)
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(TLS / "cadir"))
    assert client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k") == {"key": "k"}


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_tls_ca_bundle_that_is_missing_or_not_pem_is_named(
    servers: list[RawServer], clean_env: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    """A typo in the bundle path must not read as "TLS handshake failed" on every request."""
    server = tls_server("ip-server.pem")
    servers.append(server)
    missing = tmp_path / "no-such-ca.pem"
    clean_env.setenv(variable, str(missing))
    with pytest.raises(TwilioError, match=f"{variable}=.*no-such-ca.pem.* does not exist"):
        client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k")
    garbage = tmp_path / "ca.txt"
    garbage.write_text("not a certificate\n")
    clean_env.setenv(variable, str(garbage))
    with pytest.raises(TwilioError, match=f"{variable}=.*ca.txt.* holds no usable PEM certificate"):
        client_for(f"https://127.0.0.1:{server.port}").fetch_item("Configs", "k")
    assert server.requests == []


# -- other hosts -----------------------------------------------------------------------------------


def test_redirect_to_another_host_is_not_followed(servers: list[RawServer]) -> None:
    other = RawServer(answer("200 OK", b'{"key": "k"}'))
    servers.append(other)
    for status in ("301 Moved Permanently", "307 Temporary Redirect", "308 Permanent Redirect"):
        server = RawServer(answer(status, b"", f"Location: http://127.0.0.2:{other.port}/v1/Configs/k"))
        servers.append(server)
        with pytest.raises(TwilioError, match="redirects are not followed"):
            client_for(f"http://127.0.0.1:{server.port}").fetch_item("Configs", "k")
    assert other.requests == []


def test_next_page_link_to_another_host_stays_on_the_endpoint(servers: list[RawServer]) -> None:
    other = RawServer(answer("200 OK", b'{"configs": [], "meta": {"key": "configs"}}'))
    servers.append(other)
    evil = f"http://127.0.0.2:{other.port}//127.0.0.3/v1/Configs?Page=1&PageToken=PT1"
    first = b'{"configs": [{"key": "a"}], "meta": {"key": "configs", "next_page_url": "%s"}}' % evil.encode()
    last = b'{"configs": [{"key": "b"}], "meta": {"key": "configs", "next_page_url": null}}'
    server = RawServer(answer("200 OK", first), answer("200 OK", last))
    servers.append(server)
    client = client_for(f"http://127.0.0.1:{server.port}")
    assert [r["key"] for r in client.iter_list("microvisor", "/v1/Configs")] == ["a", "b"]
    assert other.requests == []
    assert server.requests[1].startswith(b"GET //127.0.0.3/v1/Configs?Page=1&PageToken=PT1 ")


# -- a careless operator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://AC123:tok-CANARY-h0st1le@api.twilio.com",  # credentials pasted into the URL
        "https://AC123:p@ss-tok-CANARY-h0st1le@api.twilio.com/v1",  # an unescaped '@' in them
        "https://[AC123:tok-CANARY-h0st1le@api.twilio.com",  # and a stray bracket
    ],
)
def test_endpoint_with_credentials_is_refused_without_quoting_them(endpoint: str) -> None:
    with pytest.raises(ValueError, match="twilio:endpoint must") as info:
        Settings.resolve({"twilio:endpoint": endpoint}, {})
    assert "CANARY" not in str(info.value)


@pytest.mark.parametrize("endpoint", ["https://127.0.0.1:99999", "https://127.0.0.1:port"])
def test_endpoint_port_out_of_range_is_refused_by_name(endpoint: str) -> None:
    """Caught with the other settings, naming the key, not as a urllib3 parse error at the first call."""
    with pytest.raises(ValueError, match="TWILIO_ENDPOINT must look like"):
        Settings.resolve({}, {"TWILIO_ENDPOINT": endpoint})

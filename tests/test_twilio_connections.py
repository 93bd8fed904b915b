"""How a connection reads an answer and sends a request (``_twilio/connections.py``).

Three shortcuts taken for CPU (issue 20) must change nothing a server can see or make us see: the
header block parsed without ``email.parser`` gives what http.client's own parser gives, byte for
byte, for any input; the body's socket timeout is set only when the budget needs it; and a request
with a body leaves in one send, framed exactly as before.
"""

from __future__ import annotations

import http.client
import io
import random
from typing import Any

import pytest

from microvisor_pulumi._twilio import connections
from microvisor_pulumi._twilio.connections import _HTTPConnection, _Response, parse_head, read_head

TWILIO_HEAD = (
    b"Date: Fri, 27 Nov 2026 09:00:00 GMT\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 420\r\n"
    b"Connection: keep-alive\r\n"
    b"Twilio-Concurrent-Requests: 3\r\n"
    b"Twilio-Request-Id: RQ0123456789abcdef0123456789abcdef\r\n"
    b"Twilio-Request-Duration: 0.021\r\n"
    b"Strict-Transport-Security: max-age=31536000\r\n"
    b"\r\n"
)

# Header blocks a broken or hostile server could send; each must parse as http.client parses it.
BLOCKS = [
    TWILIO_HEAD,
    b"\r\n",
    b"\n",
    b"",
    b"A: 1\nB: 2\n\n",  # bare LF line ends
    b"A:1\r\nA: 2\r\n\r\n",  # a repeated field, no blank after the colon
    b"A: trailing  \t\r\n\r\n",  # trailing blanks kept, as compat32 keeps them
    b"A:\r\n\r\n",  # an empty value
    b"A: 1\r\n folded\r\n\r\n",  # obs-fold: continuation line
    b"A: 1\r\n\tfolded\r\n\r\n",
    b" leading: space\r\n\r\n",
    b"A: 1\rB: 2\r\n\r\n",  # a bare CR inside the block
    b"A: caf\xe9\r\n\r\n",  # latin-1 in a value
    b"Caf\xe9: 1\r\n\r\n",  # latin-1 in a name
    b"no colon here\r\nA: 1\r\n\r\n",
    b"A: 1\r\nno colon here\r\nB: 2\r\n\r\n",
    b": empty name\r\n\r\n",
    b"A : space before colon\r\n\r\n",
    b"From nobody Mon Jan 1\r\nA: 1\r\n\r\n",
    b"From: someone\r\n\r\n",
    b"A: 1\x00nul\r\n\r\n",
    b"A: del\x7f\r\n\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n",
    b"A: 1\r\n",  # cut short: no blank line
    b"A: x:y:z\r\n\r\n",  # colons in the value
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
]


def email_parse(block: bytes) -> tuple[list[tuple[str, str]], list[type], Any]:
    try:
        message = http.client.parse_headers(io.BytesIO(block))
    except Exception as exc:  # noqa: BLE001 - compared with what ours raises
        return [], [], type(exc)
    return message.items(), [type(d) for d in message.defects], message.get_payload()


def our_parse(block: bytes) -> tuple[list[tuple[str, str]], list[type], Any]:
    try:
        message = parse_head(read_head(io.BytesIO(block)))
    except Exception as exc:  # noqa: BLE001
        return [], [], type(exc)
    return message.items(), [type(d) for d in message.defects], message.get_payload() or ""


@pytest.mark.parametrize("block", BLOCKS, ids=range(len(BLOCKS)))
def test_header_block_parses_as_http_client_parses_it(block: bytes) -> None:
    assert our_parse(block) == email_parse(block)


def test_random_header_blocks_parse_as_http_client_parses_them() -> None:
    pieces = [
        b"A", b"Content-Length", b"x-y", b":", b": ", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xe9", b"\x00",
        b"\x7f", b"From ", b"1", b"chunked", b"v a l",
    ]  # fmt: skip
    rng = random.Random(20)
    for _ in range(4000):
        lines = [
            b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(0, 5))
        ]
        block = b"\r\n".join(lines) + rng.choice([b"\r\n\r\n", b"\n\n", b"\r\n", b""])
        assert our_parse(block) == email_parse(block), block


def test_too_many_or_too_long_header_lines_are_refused_as_http_client_refuses_them() -> None:
    many = b"".join(b"A%d: 1\r\n" % i for i in range(101)) + b"\r\n"
    long = b"A: " + b"x" * 70000 + b"\r\n\r\n"
    for block in (many, long):
        assert our_parse(block)[2] is email_parse(block)[2] is not None
        assert our_parse(block)[2] in (http.client.HTTPException, http.client.LineTooLong)


def test_a_plain_header_block_never_reaches_the_email_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut is taken for what Twilio sends (else the CPU it saves is not saved)."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("email.parser used for a plain header block")

    monkeypatch.setattr(connections.email.parser.Parser, "parsestr", refuse)
    message = parse_head(read_head(io.BytesIO(TWILIO_HEAD)))
    assert message["twilio-concurrent-requests"] == "3"
    assert message.get("Content-Length") == "420"


class FakeSocket:
    """What http.client's response and connection need of a socket, recording what is sent."""

    def __init__(self, incoming: bytes = b"") -> None:
        self.incoming = incoming
        self.sent: list[bytes] = []
        self.timeouts: list[float | None] = []
        self.timeout: float | None = 5.0

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.incoming))

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def settimeout(self, value: float | None) -> None:
        self.timeouts.append(value)
        self.timeout = value

    def gettimeout(self) -> float | None:
        return self.timeout

    def close(self) -> None:
        pass


ANSWERS = [
    b"HTTP/1.1 200 OK\r\n" + TWILIO_HEAD,
    b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",  # no length: read to the end, connection closes
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nProxy-Connection: keep-alive\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1 abc OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nA: 1\r\n folded: 2\r\nContent-Length: 0\r\n\r\n",
    b"",
]


def begun(cls: type[http.client.HTTPResponse], raw: bytes, method: str) -> Any:
    response = cls(FakeSocket(raw), method=method)  # type: ignore[arg-type]
    try:
        response.begin()
    except Exception as exc:  # noqa: BLE001 - compared with what ours raises
        return type(exc)
    return (
        response.status,
        response.reason,
        response.version,
        response.chunked,
        response.length,
        response.will_close,
        response.headers.items(),
    )


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("raw", ANSWERS, ids=range(len(ANSWERS)))
def test_response_begins_as_http_clients_own(raw: bytes, method: str) -> None:
    assert begun(_Response, raw, method) == begun(http.client.HTTPResponse, raw, method)


class FakeBody:
    """A urllib3 response whose body comes in ``chunks``, on a connection with ``sock``."""

    def __init__(self, sock: FakeSocket, chunks: list[bytes]) -> None:
        self._connection = type("Conn", (), {"sock": sock})()
        self.chunks = list(chunks)

    def read1(self, _size: int, decode_content: bool = True) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def test_body_read_leaves_the_socket_timeout_alone_while_the_budget_allows_it() -> None:
    sock = FakeSocket()
    sock.timeout = 5.0  # what urllib3 set for the read timeout before the head
    assert connections.read_body(FakeBody(sock, [b"{", b"}"]), 5.0, 5.0) == b"{}"
    assert sock.timeouts == []


def test_body_read_shortens_the_socket_timeout_to_what_is_left_of_the_budget() -> None:
    sock = FakeSocket()
    sock.timeout = 30.0  # longer than the body's budget
    assert connections.read_body(FakeBody(sock, [b"{}"]), 2.0, 30.0) == b"{}"
    first = sock.timeouts[0]
    assert first is not None and first <= 2.0
    sock = FakeSocket()
    sock.timeout = None  # blocking: every read must get a timeout
    connections.read_body(FakeBody(sock, [b"{}"]), 2.0, 2.0)
    assert sock.timeouts and sock.timeouts[0] is not None and sock.timeouts[0] <= 2.0


def sent_by(body: bytes | None, headers: dict[str, str], method: str = "POST") -> list[bytes]:
    conn = _HTTPConnection("127.0.0.1", 9)
    conn.sock = FakeSocket()
    conn.request(method, "/v1/Configs", body=body, headers=headers)
    return conn.sock.sent


def test_request_with_a_body_leaves_in_one_send() -> None:
    body = b"Key=k&Value=v"
    sent = sent_by(body, {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic x"})
    assert len(sent) == 1
    head, _, rest = sent[0].partition(b"\r\n\r\n")
    assert rest == body
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/Configs HTTP/1.1"
    assert [line for line in lines if line.lower().startswith(b"content-length")] == [b"Content-Length: 13"]
    assert not any(line.lower().startswith(b"transfer-encoding") for line in lines)
    assert b"Authorization: Basic x" in lines


def test_request_without_a_body_or_with_its_own_framing_is_sent_as_urllib3_sends_it() -> None:
    (only,) = sent_by(None, {"Accept": "application/json"}, "GET")
    assert only.endswith(b"\r\n\r\n") and b"content-length" not in only.lower()
    framed = sent_by(b"abc", {"Content-Length": "3"})
    assert framed[-1] == b"abc" and len(framed) == 2  # urllib3's own path: head, then body
    assert framed[0].lower().count(b"content-length") == 1


def test_a_body_is_never_carried_by_a_later_send() -> None:
    conn = _HTTPConnection("127.0.0.1", 9)
    conn.sock = FakeSocket()
    with pytest.raises(ValueError):
        conn.request("POST", "/v1/Configs", body=b"secret=1", headers={"Bad\r\nName": "x"})
    conn.close()  # as urllib3 does with a connection whose request failed
    conn.sock = FakeSocket()
    conn.request("GET", "/v1/Configs", headers={})
    assert not any(b"secret=1" in data for data in conn.sock.sent)

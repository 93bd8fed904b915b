"""The emulator's HTTP framing: methods the API does not define, and chunked request bodies.

Both were found by Schemathesis (tests/test_emulator_fuzz.py): the stdlib answered TRACE with a 501
HTML page, and a chunked body with 411. Twilio answers JSON errors and accepts chunked bodies.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from _openapi import assert_error

from microvisor_pulumi.emulator import Emulator


def _connection(emu: Emulator) -> http.client.HTTPConnection:
    parts = urlsplit(emu.url)
    assert parts.hostname is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)


def _auth(emu: Emulator) -> str:
    return "Basic " + base64.b64encode(f"{emu.account_sid}:{emu.auth_token}".encode()).decode()


class _Stream:
    """One socket's reader for several HTTPResponse objects, so pipelined responses read in turn."""

    def __init__(self, sock: socket.socket) -> None:
        self._reader = sock.makefile("rb")

    def makefile(self, mode: str) -> Any:
        return _KeepOpen(self._reader)


class _KeepOpen:
    """The shared reader, except that a response done with it does not close it for the next one."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def close(self) -> None:
        pass


def _raw(emu: Emulator, head: str, body: bytes = b"", *, then: str = "") -> list[http.client.HTTPResponse]:
    """Send a request written by hand (``head`` lines, ``body`` bytes as given), optionally followed
    on the same connection by ``then`` (a GET path); return the responses, headers read."""
    auth = f"Host: 127.0.0.1\r\nAuthorization: {_auth(emu)}\r\n\r\n"
    data = f"{head}\r\n{auth}".encode("latin-1") + body
    if then:
        data += f"GET {then} HTTP/1.1\r\n{auth}".encode("latin-1")
    parts = urlsplit(emu.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data)
        stream = _Stream(sock)
        responses = []
        for method in [head.split()[0], *(["GET"] if then else [])]:
            response = http.client.HTTPResponse(stream, method=method)  # type: ignore[arg-type]
            response.begin()
            response.body = response.read()  # type: ignore[attr-defined]
            responses.append(response)
        return responses


def _error(response: http.client.HTTPResponse, status: int, code: int) -> dict[str, object]:
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json; charset=utf-8"
    body: dict[str, object] = json.loads(response.body)  # type: ignore[attr-defined]
    assert body["status"] == status and body["code"] == code, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    return body


# -- methods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "CONNECT", "PROPFIND"])
def test_a_method_the_api_does_not_define_gets_a_json_405_with_allow(api, method):
    resp = api.request(method, "/v1/Configs")
    assert_error(resp, 405, 20004, f"Method {method} not allowed")
    assert resp.headers["Allow"] == "GET, POST"
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"


def test_trace_on_an_item_path_lists_the_item_methods(api):
    resp = api.request("TRACE", "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Keys/SKx.json")
    assert_error(resp, 405, 20004)
    assert resp.headers["Allow"] == "DELETE, GET, POST"


def test_unknown_method_on_an_unknown_path_is_a_json_404(api):
    assert_error(api.request("TRACE", "/v1/Nothing"), 404, 20404)


def test_unknown_method_without_credentials_is_a_json_401(emu):
    resp = requests.request("TRACE", f"{emu.url}/v1/Configs", timeout=5)
    assert_error(resp, 401, 20003)


def test_head_gets_the_headers_without_a_body_and_the_connection_stays_usable(emu):
    conn = _connection(emu)
    try:
        headers = {"Authorization": _auth(emu)}
        conn.request("HEAD", "/v1/Configs", headers=headers)
        head = conn.getresponse()
        assert head.status == 405 and head.getheader("Allow") == "GET, POST"
        assert int(head.getheader("Content-Length") or 0) > 0  # the length the full answer would have
        assert head.read() == b""
        # A body written after the HEAD response would be read here as the next status line.
        conn.request("GET", "/v1/Configs", headers=headers)
        after = conn.getresponse()
        assert after.status == 200 and json.loads(after.read())["configs"] == []
    finally:
        conn.close()


# -- chunked bodies ---------------------------------------------------------------------------------


def test_chunked_body_is_accepted(api, emu):
    def body() -> Iterator[bytes]:  # requests sends a generator body chunked, with no Content-Length
        yield b"Key=chunked"
        yield b"&Value=arrived%20"
        yield b"whole"

    made = api.post("/v1/Configs", data=body(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert made.request.headers["Transfer-Encoding"] == "chunked"
    assert made.status_code == 201, made.text
    assert api.get("/v1/Configs/chunked").json()["value"] == "arrived whole"


def test_chunk_extensions_and_trailers_are_read_and_the_connection_reused(emu):
    chunked = b"4;ext=1\r\nKey=\r\n9\r\nx&Value=y\r\n0\r\nX-Trailer: ignored\r\n\r\n"
    created, fetched = _raw(
        emu,
        "POST /v1/Configs HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked",
        chunked,
        then="/v1/Configs/x",
    )
    assert created.status == 201 and json.loads(created.body)["value"] == "y"
    # The GET pipelined behind the body is answered: the body was read to its last byte, no further.
    assert fetched.status == 200 and json.loads(fetched.body)["value"] == "y"


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nKey=a\r\n0\r\n\r\n",  # not hex
        b"0x5\r\nKey=a\r\n0\r\n\r\n",  # int(..., 16) would take it; the grammar does not
        b"5\r\nKey=abc\r\n0\r\n\r\n",  # the chunk is longer than it said
        b"200000\r\n",  # past the 1 MiB bound, refused before reading it
    ],
)
def test_a_malformed_or_oversized_chunked_body_is_a_json_400_and_closes(emu, body):
    (response,) = _raw(
        emu,
        "POST /v1/Configs HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked",
        body,
    )
    assert response.getheader("Connection") == "close"
    assert "Invalid chunked request body" in str(_error(response, 400, 20001)["message"])


def test_an_unsupported_transfer_coding_is_a_json_501(emu):
    (response,) = _raw(emu, "POST /v1/Configs HTTP/1.1\r\nTransfer-Encoding: gzip, chunked", b"0\r\n\r\n")
    assert response.getheader("Connection") == "close"
    _error(response, 501, 20001)

"""Review of the connection code (issue 20): parse_head and read_body against what they replaced.

``parse_head`` must give what ``http.client.parse_headers`` gives for any header block: the same
fields, and the same defects and payload, since urllib3 (``assert_header_parsing``) warns on them.
``read_body`` must work on every socket urllib3 may hand it, as the code it replaced did.
"""

from __future__ import annotations

import http.client
import io
from typing import Any

import pytest
from urllib3.exceptions import HeaderParsingError
from urllib3.util.response import assert_header_parsing

from microvisor_pulumi._twilio.connections import parse_head, read_body, read_head

# Plain blocks (one printable-ASCII field a line) whose Content-Type makes the e-mail parser read
# the (empty) body as a MIME structure: defects and a multipart payload that urllib3 looks at.
MIME_HEADS = [
    b"Content-Type: multipart/mixed\r\nContent-Length: 2\r\n\r\n",  # NoBoundaryInMultipartDefect
    b"Content-Type: multipart/form-data; boundary=x\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Type: message/delivery-status\r\n\r\n",
    b"content-type: MULTIPART/Related\r\n\r\n",
]


def _warning(message: Any) -> str | None:
    try:
        assert_header_parsing(message)
    except HeaderParsingError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("raw", MIME_HEADS)
def test_parse_head_matches_http_client_for_mime_content_types(raw: bytes) -> None:
    reference = http.client.parse_headers(io.BytesIO(raw))
    fast = parse_head(read_head(io.BytesIO(raw)))
    assert fast.items() == reference.items()
    assert [type(d) for d in fast.defects] == [type(d) for d in reference.defects]
    assert fast.is_multipart() == reference.is_multipart()
    # What urllib3 logs ("Failed to parse headers") must not change either.
    assert _warning(fast) == _warning(reference)


class _NoGettimeoutSocket:
    """Like urllib3.contrib.pyopenssl's WrappedSocket: settimeout, but no gettimeout."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def settimeout(self, value: float) -> None:
        self.timeouts.append(value)


class _Connection:
    def __init__(self, sock: Any) -> None:
        self.sock = sock


class _Response:
    def __init__(self, chunks: list[bytes], sock: Any) -> None:
        self._chunks = list(chunks)
        self._connection = _Connection(sock)

    def read1(self, amt: int, decode_content: bool = True) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


def test_read_body_on_a_socket_without_gettimeout() -> None:
    """The code before issue 20 only called settimeout; a socket with no gettimeout must still read."""
    sock = _NoGettimeoutSocket()
    assert read_body(_Response([b"ab", b"c"], sock), 5.0, 5.0) == b"abc"
    assert sock.timeouts and all(0 < t <= 5.0 for t in sock.timeouts)

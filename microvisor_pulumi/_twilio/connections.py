"""Connections to Twilio: keep-alive pools whose answers are bounded in time and size, and cheap.

What ``client.py`` sends through. urllib3 manages the connections (TLS, proxies, keep-alive, pools);
this module changes how they read an answer and send a request:

* the head (status line and header fields) must arrive within the read timeout in all, watched by
  one daemon thread (``Watchdog``), not merely without a silence that long;
* the body is read by ``read_body`` within a time budget and a size limit (after decompression),
  setting the socket's timeout only when the budget left is shorter than it;
* the header block is parsed by ``parse_head``, not by ``email.parser`` (24 us -> 8 us an answer):
  a plain block (one field a line, printable ASCII, not a multipart or message/* type) gives the
  same fields in the same order as the e-mail parser would; anything else (folded lines, a stray
  CR, a line that is not a field, non-ASCII bytes) is still handed to the e-mail parser, so odd
  answers are read exactly as before;
* a request with a body leaves in one write (``OneSendMixin``).

Each system call a request saves is one less time the GIL changes hands among the provider host's
threads, which is what limits it with many operations in flight (BENCHMARKS.md, issue 20).
"""

from __future__ import annotations

import email.parser
import heapq
import http.client
import itertools
import os
import re
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

MAX_BODY_BYTES = 32 * 1024 * 1024
_READ_CHUNK = 64 * 1024
# How much longer than the body's budget a read may wait, rather than pay a settimeout per read.
_TIMEOUT_SLACK = 0.01
# http.client's own limits on a header block (``_MAXLINE``, ``_MAXHEADERS``).
_MAX_LINE = 65536
_MAX_FIELDS = 100
# A field line the e-mail parser reads exactly as "name: value": a name of printable ASCII without
# a colon or a space, then a value of printable ASCII, spaces and tabs, and one line end.
_PLAIN_FIELD = re.compile(rb"[!-9;-~]+:[\t -~]*\r?\n\Z")


def read_head(fp: Any) -> list[bytes]:
    """The header block's lines, up to and including the empty line (http.client's limits)."""
    lines = []
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_FIELDS:
            raise http.client.HTTPException(f"got more than {_MAX_FIELDS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def parse_head(lines: list[bytes]) -> http.client.HTTPMessage:
    """The header fields of ``lines`` (from ``read_head``) as http.client's own parser gives them."""
    fields = lines[:-1] if lines and lines[-1] in (b"\r\n", b"\n", b"") else lines
    plain = _PLAIN_FIELD.match
    if all(plain(line) for line in fields):
        message = http.client.HTTPMessage()
        for line in fields:
            name, _, value = line.decode("ascii").partition(":")
            # As the e-mail parser's compat32 policy stores it: leading blanks and the line end off.
            message[name] = value.lstrip(" \t").rstrip("\r\n")
        # A multipart or message/* type makes the e-mail parser read the (empty) body as MIME
        # structure, with defects and a payload that urllib3's assert_header_parsing warns on.
        if message.get_content_maintype() not in ("multipart", "message"):
            return message
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


class _Response(http.client.HTTPResponse):
    """http.client's response, its header block parsed by ``parse_head``.

    ``begin`` is http.client's own (the same in Python 3.10 to 3.13) with the call to
    ``parse_headers`` changed and its debug printing (``debuglevel``, never set here) left out.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:  # read until a status other than 100 Continue
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            read_head(self.fp)  # the 100's own header block, skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = parse_head(read_head(self.fp))
        encoding = self.headers.get("transfer-encoding")
        if encoding and encoding.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"
        ):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class Watchdog:
    """One daemon thread that shuts down the socket of an answer that is overdue in all.

    A socket timeout bounds each silence only: a server sending a header line byte by byte, each
    byte within the read timeout, would hold a call for hours. The body is bounded by ``read_body``;
    the status line and headers, read inside http.client, by this. Arming and disarming cost a heap
    push and a dict operation under one lock; cancelled entries leave the heap when they come due.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, Any] = {}
        self._tokens = itertools.count()
        self._pid: int | None = None  # the process whose thread runs (none survives a fork)

    def arm(self, sock: Any, seconds: float) -> int:
        token = next(self._tokens)
        deadline = time.monotonic() + seconds
        with self._cond:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._heap.clear()
                self._live.clear()
                threading.Thread(target=self._run, name="twilio-http-watchdog", daemon=True).start()
            self._live[token] = sock
            heapq.heappush(self._heap, (deadline, token))
            if self._heap[0][1] == token:
                self._cond.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Cancel ``token``; False if it had already fired (the socket is shut down)."""
        with self._cond:
            return self._live.pop(token, None) is not None

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                sock = self._live.pop(token)
                # The plain socket's shutdown (not SSLSocket's, which unwraps it under the reader):
                # the blocked read sees the end of the stream at once.
                raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
                if raw is not None:
                    try:
                        socket.socket.shutdown(raw, socket.SHUT_RDWR)
                    except OSError:
                        pass


WATCHDOG = Watchdog()


class BoundedResponseMixin:
    """``getresponse`` (status line and headers) within the connection's read timeout in all."""

    sock: Any
    timeout: Any

    def getresponse(self) -> Any:
        timeout = self.timeout
        token = None
        if self.sock is not None and isinstance(timeout, (int, float)) and timeout > 0:
            token = WATCHDOG.arm(self.sock, float(timeout))
        try:
            response = super().getresponse()  # type: ignore[misc]
        except BaseException:
            if token is not None and not WATCHDOG.disarm(token):
                raise TimeoutError("answer not complete within the read timeout") from None
            raise
        if token is not None and not WATCHDOG.disarm(token):
            # Cut off mid-head, http.client takes what came as a whole head (and an empty body):
            # that must read as the timeout it was, never as an answer. urllib3 maps it to
            # ReadTimeoutError, retried or not like any other.
            response.close()
            raise TimeoutError("answer not complete within the read timeout")
        return response


class OneSendMixin:
    """A request with a body leaves in one ``send``, the head and the body together.

    urllib3 sends the head, then the body: two system calls where one does (each gives up the GIL
    and, on a socket with a timeout, is preceded by a ``poll``), and two TCP segments.
    """

    _joined_body: bytes | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kw: Any) -> None:
        framed = headers is not None and any(k.lower() in _FRAMING for k in headers)
        if not isinstance(body, bytes) or not body or framed or kw.get("chunked"):
            super().request(method, url, body=body, headers=headers, **kw)  # type: ignore[misc]
            return
        self._joined_body = body
        try:
            headers = (
                {**headers, "Content-Length": str(len(body))}
                if headers
                else {"Content-Length": str(len(body))}
            )
            super().request(method, url, body=None, headers=headers, **kw)  # type: ignore[misc]
        finally:
            self._joined_body = None

    def send(self, data: Any) -> None:
        body = self._joined_body
        if body is not None:
            self._joined_body = None  # taken once: a proxy's CONNECT, sent first, never carries it
            data = bytes(data) + body
        super().send(data)  # type: ignore[misc]


_FRAMING = frozenset({"content-length", "transfer-encoding"})


class _HTTPConnection(OneSendMixin, BoundedResponseMixin, HTTPConnection):
    response_class = _Response


class _HTTPSConnection(OneSendMixin, BoundedResponseMixin, HTTPSConnection):
    response_class = _Response


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


def discard(response: Any) -> None:
    """Close a response's connection unread and give the (now closed) connection back to its pool."""
    try:
        response.close()
    finally:
        response.release_conn()


class BodyTooLarge(Exception):
    pass


def read_body(
    response: Any, budget: float, read_timeout: float, *, limit: int = MAX_BODY_BYTES, decode: bool = True
) -> bytes:
    """The whole (decoded) body, within ``budget`` seconds in all and at most ``limit`` bytes.

    A socket read timeout only bounds each silence, so a server sending a byte now and then would
    hold the call forever; each read here waits at most for what is left of the budget. ``read1``
    decompresses at most one chunk per call, so a gzip bomb is stopped at the limit, not in memory.

    The socket's timeout is shortened only when what is left of the budget is shorter than the
    timeout it has (by more than ``_TIMEOUT_SLACK``): each ``settimeout`` is a system call that gives
    up the GIL, and most bodies are read from the buffer, before the budget has moved.
    """
    deadline = time.monotonic() + budget
    parts: list[bytes] = []
    size = 0
    sock = getattr(getattr(response, "_connection", None), "sock", None)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeoutError(None, "", "response body not complete within the read timeout")  # type: ignore[arg-type]
        if sock is not None:
            wanted = min(read_timeout, remaining)
            gettimeout = getattr(sock, "gettimeout", None)  # pyopenssl's WrappedSocket has none
            current = gettimeout() if gettimeout is not None else None
            if current is None or current <= 0 or current - wanted > _TIMEOUT_SLACK:
                sock.settimeout(wanted)
        chunk = response.read1(_READ_CHUNK, decode_content=decode)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)

"""The HTTP/1.1 server of the emulator: sockets, framing, keep-alive; no Twilio in sight.

A ``ThreadingHTTPServer`` with one thread per connection, speaking HTTP/1.1 keep-alive with
``TCP_NODELAY`` and one write per response, because Nagle's algorithm plus delayed ACKs would
otherwise stall every call ~40 ms. It reads a body (``Content-Length`` or chunked), hands method,
target, headers and body to the :class:`.app.WireApp`, and writes what that answers.
"""

from __future__ import annotations

import http
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from microvisor_pulumi.emulator.app import WireApp
from microvisor_pulumi.emulator.wire import Response, error_response

MAX_BODY = 1 << 20  # bytes: far above any API request, low enough that a bad client cannot hurt
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, asks the WireApp, writes the answer in a single send."""

    protocol_version = "HTTP/1.1"
    server_version = "microvisor-emulator"
    sys_version = ""
    server: EmulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature is stdlib's
        # Silence: per-request stderr lines cost time and could reveal paths in CI logs.
        return

    def __getattr__(self, name: str) -> Any:
        # The stdlib answers a method with no do_<METHOD> (TRACE, HEAD, anything) with its own 501
        # HTML page. Every method goes to the app instead, which answers Twilio-shaped JSON: 405
        # with an Allow header on a known path, 404 on an unknown one, 401 without credentials.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = {name.lower(): value for name, value in reversed(self.headers.items())}
        # Absolute URLs follow the Host the client used, so paging works through any address.
        host = headers.get("host") or f"{self.server.host_name}:{self.server.server_port}"
        response = self.server.app.serve(self.command, self.path, headers, body, f"http://{host}")
        if response.drop:
            # Lose the response: close the socket without a byte, like a network failure would.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked), or None once an error has been sent."""
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                self.close_connection = True
                self._send(error_response(501, 20001, "Only the chunked transfer coding is supported"))
                return None
            if self.headers.get("Content-Length") is not None:
                # Both framings (RFC 9112 §6.3): chunked wins, and the connection must not be reused.
                self.close_connection = True
            body = self._read_chunked()
            if body is None:
                self.close_connection = True
                self._send(error_response(400, 20001, "Invalid chunked request body"))
            return body
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(error_response(400, 20001, "Invalid Content-Length"))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        """A chunked body (RFC 9112 §7.1), or None if it is malformed or longer than MAX_BODY."""
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                return None
            size = int(match.group(1), 16)
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                return None
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                return None
            body += chunk
        # Trailer fields, if any, end with an empty line; they carry nothing the API reads.
        for _ in range(100):
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n"):
                return bytes(body)
            if not line.endswith(b"\n"):
                return None
        return None

    def _send(self, response: Response) -> None:
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Date: {self.date_time_string()}",
            "Server: microvisor-emulator",
            f"Twilio-Request-Id: RQ{uuid.uuid4().hex}",
            f"Content-Length: {len(response.body)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # A response to HEAD has the headers of the full answer and no body (RFC 9110 §9.3.2).
        body = b"" if self.command == "HEAD" else response.body
        # One write: headers and body in the same segment, so Nagle never waits on a delayed ACK.
        self.wfile.write(head + body)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server that disables Nagle on every connection and can close them all."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: WireApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def host_name(self) -> str:
        """The bound address as text (for URLs when a client sends no Host header)."""
        name = self.server_address[0]
        return name.decode() if isinstance(name, bytes) else str(name)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open keep-alive connection, so idle handler threads end now."""
        with self._open_lock:
            socks = list(self._open)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

"""A scriptable HTTP/1.1 server on 127.0.0.1 for testing the Twilio HTTP layer end to end.

Tests queue canned responses (or install a handler function); the server records what it received
(method, raw path, headers, body, which connection). Each accepted socket gets TCP_NODELAY and every
response goes out in one write: with keep-alive, split writes meet delayed ACK and stall ~40 ms.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Canned:
    """One scripted answer. ``drop`` closes the connection after reading the request, unanswered."""

    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> sent as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (read timeouts)
    drop: bool = False

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/html; charset=utf-8"
        return bytes(self.body), "application/octet-stream"


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    raw_path: str  # exactly as on the request line (still percent-encoded)
    headers: dict[str, str]
    body: bytes
    connection: int  # client port: same number = same TCP connection
    at: float

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.raw_path).query)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def segments(self) -> list[str]:
        """Decoded path segments, split on the *encoded* path so an escaped '/' stays inside one."""
        return [unquote(s) for s in self.path.split("/")[1:]]


Handler = Callable[[Received], Canned]


class FakeTwilio:
    """Threaded fake server; use as a context manager or call ``close()``."""

    def __init__(self) -> None:
        self.queue: deque[Canned] = deque()
        self.handler: Handler | None = None
        self.received: list[Received] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Received(
                    self.command,
                    self.path,
                    {k: v for k, v in self.headers.items()},
                    body,
                    self.client_address[1],
                    time.monotonic(),
                )
                with fake._lock:
                    fake.received.append(seen)
                    canned = fake.queue.popleft() if fake.queue else None
                if canned is None:
                    canned = (
                        fake.handler(seen) if fake.handler else Canned(599, {"message": "no canned reply"})
                    )
                if canned.delay:
                    time.sleep(canned.delay)
                if canned.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload, ctype = canned.encode()
                try:
                    phrase = HTTPStatus(canned.status).phrase
                except ValueError:
                    phrase = "Whatever"
                lines = [f"HTTP/1.1 {canned.status} {phrase}", f"Content-Type: {ctype}"]
                if canned.status not in (204, 304):
                    lines.append(f"Content-Length: {len(payload)}")
                lines += [f"{k}: {v}" for k, v in canned.headers.items()]
                try:
                    self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
                except OSError:
                    self.close_connection = True  # client gave up (read timeout)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def add(self, *responses: Canned) -> None:
        with self._lock:
            self.queue.extend(responses)

    def connections(self) -> set[int]:
        return {r.connection for r in self.received}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Canned:
    """A response in Twilio's legacy error shape."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }
    return Canned(status, body)


def closed_port() -> int:
    """A local port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running() -> Iterator[FakeTwilio]:
    """Generator body for a pytest fixture."""
    with FakeTwilio() as fake:
        yield fake

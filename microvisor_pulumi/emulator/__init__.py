"""A local, Twilio-compatible API emulator for Microvisor Configs/Secrets/Devices and API keys.

Deploy and test a stack with no Twilio account and no network::

    from microvisor_pulumi.emulator import Emulator

    with Emulator() as emu:          # loopback, a free port, in-memory state
        print(emu.url, emu.account_sid, emu.auth_token)

or from a shell: ``python -m microvisor_pulumi.emulator --port 8080 --data state.db``. See
``README.md`` beside this file for the surface, the rules and the ``/_emulator`` test hooks.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from microvisor_pulumi.emulator.app import WireApp
from microvisor_pulumi.emulator.faults import FaultBook, RequestLog, Traffic
from microvisor_pulumi.emulator.server import EmulatorHTTPServer
from microvisor_pulumi.emulator.store import Store
from microvisor_pulumi.emulator.wire import DEFAULT_PAGE_SIZE, Exchange, Observer

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "DEFAULT_DEVICES",
    "Emulator",
    "Exchange",
    "Observer",
]

# Fixed, well-formed credentials so a demo stack's config can name them; they open nothing real.
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "e0" * 16
DEFAULT_DEVICES: list[tuple[str, str]] = [
    ("UV" + "dec0de" + "0" * 25 + str(n), f"demo-device-{n}") for n in (1, 2, 3)
]


class Emulator:
    """The emulator as an object: start it on an ephemeral port in a test, stop it after.

    ``devices`` are ``(sid, unique_name)`` pairs (``DEFAULT_DEVICES`` when None); ``data`` is a
    SQLite file for state that outlives the process (in memory when None); ``observer`` is called
    with an :class:`Exchange` for every API response (not for /_emulator hooks or dropped
    connections), before the response is sent. The auth token is the account's password; API keys
    created through the emulator authenticate too while they exist. ``latency`` delays every API
    request by that many seconds; with ``concurrency_limit`` N, a request arriving while N others
    are in flight gets 429 (code 20429, ``Retry-After: 1``) and is not processed. ``page_size`` is
    the size of a list page when the request names none (Twilio's is 50): a smaller one makes a
    client's paging show with few records.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        devices: Sequence[tuple[str, str | None]] | None = None,
        data: str | None = None,
        observer: Observer | None = None,
        latency: float = 0.0,
        concurrency_limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
            raise ValueError(f"page_size must be a whole number from 1 to 1000, got {page_size!r}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.traffic = Traffic(latency, concurrency_limit)  # validated before a database is opened
        self.store = Store(
            data or ":memory:",
            account_sid=account_sid,
            auth_token=auth_token,
            devices=DEFAULT_DEVICES if devices is None else devices,
        )
        self._faults = FaultBook()
        self._log = RequestLog()
        self._app = WireApp(self.store, self._faults, self._log, observer, self.traffic, page_size)
        self._requested = (host, port)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in a daemon thread; returns once the socket is listening."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._server = EmulatorHTTPServer(self._requested, self._app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"microvisor-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and the database (a data file keeps the state)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.store.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where -------------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        if self._server is None:
            return self._requested[0]
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if self._server is None:
            return self._requested[1]
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``; use it for every Twilio host."""
        return f"http://{self.host}:{self.port}"

    # -- hooks -------------------------------------------------------------------------------------

    @property
    def observer(self) -> Observer | None:
        """The callable told about every API exchange, or None."""
        return self._app.observer

    @observer.setter
    def observer(self, observer: Observer | None) -> None:
        self._app.observer = observer

    def request_log(self) -> list[dict[str, Any]]:
        """The request log: ``[{method, path, status, time, duration_ms, fault, in_flight}, ...]``."""
        return self._log.entries()

    def peak_in_flight(self) -> int:
        """The most API requests in flight at once since the request log was last cleared."""
        return self._log.peak_in_flight()

    def clear_request_log(self) -> None:
        """Forget the request log."""
        self._log.clear()

    def add_fault(self, **spec: Any) -> str:
        """Add a fault rule (same fields as ``POST /_emulator/faults``); returns its id."""
        return self._faults.add(spec).id

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules with their remaining counts."""
        return self._faults.describe()

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    def reset(self) -> None:
        """Drop configs, secrets and keys; restore seeded devices; clear the log and faults."""
        self._app.reset()

"""The path of one request through the emulator, from method, target and body to a Response.

:meth:`WireApp.serve` is what the HTTP server calls: test hooks aside, it counts the request in
flight, applies the latency and the concurrency limit (the :class:`.faults.Traffic` model), the
fault rules, the request log and the observer. :meth:`WireApp.handle` authenticates, finds the
route in :mod:`.urls` and runs the product's handler from :mod:`.responses`.
"""

from __future__ import annotations

import http
import time
from urllib.parse import unquote

from microvisor_pulumi.emulator.auth import authenticate, authorize
from microvisor_pulumi.emulator.faults import Fault, FaultBook, RequestLog, Traffic
from microvisor_pulumi.emulator.hooks import Hooks, is_hook
from microvisor_pulumi.emulator.responses import Responses
from microvisor_pulumi.emulator.store import Store, StoreError
from microvisor_pulumi.emulator.urls import ROUTES
from microvisor_pulumi.emulator.wire import (
    DEFAULT_PAGE_SIZE,
    Exchange,
    Observer,
    Request,
    Response,
    error_response,
    json_response,
)


def default_fault_error(status: int) -> Response:
    """The body an injected status carries unless the fault gives one: 429 -> 20429 Too Many Requests."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return error_response(status, 20000 + status, phrase)


class WireApp:
    """Turns requests into Twilio answers: hooks, traffic, faults, log and observer around auth,
    routing and the products' handlers.

    :meth:`serve` is the whole request path (faults, auth, routing, log, observer) and is what the
    HTTP handler calls; :meth:`handle` is the same without faults or logging.
    """

    def __init__(
        self,
        store: Store,
        faults: FaultBook,
        log: RequestLog,
        observer: Observer | None = None,
        traffic: Traffic | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.store = store
        self.faults = faults
        self.log = log
        self.observer = observer
        self.traffic = traffic or Traffic()
        self.hooks = Hooks(store, faults, log, self.reset)
        self._responses: dict[type[Responses], Responses] = {
            cls: cls(store, page_size) for cls in dict.fromkeys(route.responses for route in ROUTES)
        }

    # -- entry points -----------------------------------------------------------------------

    def reset(self) -> None:
        """Drop configs, secrets and keys, restore devices, clear the log and the faults."""
        self.store.reset()
        self.log.clear()
        self.faults.clear()

    def serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Response:
        """Answer one request, applying faults, logging it and telling the observer."""
        raw_path, _, query = target.partition("?")
        if is_hook(raw_path):
            # Test hooks: never faulted, never logged, no auth.
            return self.hooks.serve(method, raw_path, body)
        started = time.time()
        in_flight, over_limit = self.traffic.arrive()
        fault: Fault | None = None
        try:
            if self.traffic.latency:
                # Outside every lock: delayed requests overlap, as they do on a real link.
                time.sleep(self.traffic.latency)
            if over_limit:
                response = error_response(
                    429, 20429, "Too Many Requests: concurrent request limit exceeded", [("Retry-After", "1")]
                )
            else:
                fault = self.faults.take(method, raw_path)
                response = self._with_fault(fault, method, raw_path, query, headers, body, base_url)
        finally:
            self.traffic.leave()
        response.headers.append(("Twilio-Concurrent-Requests", str(in_flight)))
        duration_ms = (time.time() - started) * 1000
        self.log.record(
            method=method,
            path=raw_path,
            status=None if response.drop else response.status,
            time=started,
            duration_ms=duration_ms,
            fault=fault is not None,
            in_flight=in_flight,
        )
        if self.observer is not None and not response.drop:
            exchange = Exchange(
                method=method,
                path=raw_path,
                query=query,
                content_type=headers.get("content-type"),
                status=response.status,
                headers=dict(response.headers),
                body=response.body,
            )
            try:
                self.observer(exchange)
            except Exception:  # noqa: BLE001 - a broken observer must not break the API it observes
                pass
        return response

    def _with_fault(
        self,
        fault: Fault | None,
        method: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        base_url: str,
    ) -> Response:
        if fault is None:
            return self.handle(method, raw_path, query, headers, body, base_url)
        if fault.delay:
            time.sleep(fault.delay)
        if fault.when == "after":
            # The change is made; then the real response is lost or replaced.
            real = self.handle(method, raw_path, query, headers, body, base_url)
            if not fault.drop and fault.status is None:
                return real
        elif not fault.drop and fault.status is None:
            # A "before" fault with neither drop nor status is just a slow request.
            return self.handle(method, raw_path, query, headers, body, base_url)
        if fault.drop:
            return Response(0, drop=True)
        assert fault.status is not None
        extra = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
        if fault.body is not None:
            return json_response(fault.status, fault.body, extra)
        injected = default_fault_error(fault.status)
        injected.headers.extend(extra)
        return injected

    def handle(
        self, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes, base_url: str
    ) -> Response:
        """Authenticate, route and run one API request (no faults, no log)."""
        req = Request(method, raw_path, query, headers, body, base_url)
        req.principal = authenticate(self.store, headers.get("authorization"))
        if req.principal is None:
            return error_response(
                401, 20003, "Authenticate", [("WWW-Authenticate", 'Basic realm="Twilio API"')]
            )
        allowed: list[str] = []
        for route in ROUTES:
            match = route.regex.match(raw_path)
            if match is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            denied = authorize(req.principal, route)
            if denied is not None:
                return denied
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            handler = getattr(self._responses[route.responses], route.handler)
            try:
                result: Response = handler(req, **route.kwargs, **params)
                return result
            except StoreError as exc:
                return error_response(exc.status, exc.code, exc.message)
        if allowed:
            return error_response(
                405, 20004, f"Method {method} not allowed", [("Allow", ", ".join(sorted(set(allowed))))]
            )
        return error_response(404, 20404, f"The requested resource {unquote(raw_path)} was not found")

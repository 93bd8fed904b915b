"""The HTTP face of the emulator: routing table, request parsing, auth, paging, JSON shaping.

This module knows Twilio's wire format (form-encoded PascalCase parameters in, snake_case JSON
out, the three paging shapes, the error body) and nothing about the rules: every decision about
state, uniqueness, limits and secrecy is made by :class:`.store.Store`. The server is a
``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive with ``TCP_NODELAY`` and one write per
response, because Nagle's algorithm plus delayed ACKs would otherwise stall every call ~40 ms.
"""

from __future__ import annotations

import base64
import binascii
import http
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from microvisor_pulumi.emulator.faults import Fault, FaultBook, FaultSpecError, RequestLog, Traffic
from microvisor_pulumi.emulator.store import (
    ACCOUNT_SID_RE,
    InvalidParameter,
    ItemKind,
    NotFound,
    Principal,
    Record,
    Store,
    StoreError,
    parse_policy,
    policy_allows,
)

JSON_TYPE = "application/json; charset=utf-8"
HOOK_PREFIX = "/_emulator"
KEYS_PERMISSION_PREFIX = "/twilio/iam/api-keys/"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def iso8601(epoch: int | None) -> str | None:
    """Microvisor's timestamp format: ``2021-01-01T12:34:56Z``."""
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def rfc2822(epoch: int | None) -> str | None:
    """API v2010 / IAM timestamp format: ``Mon, 13 Jun 2016 22:50:08 +0000`` (locale-independent)."""
    if epoch is None:
        return None
    t = time.gmtime(epoch)
    return f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} " + time.strftime(
        "%H:%M:%S +0000", t
    )


def quote_segment(value: str) -> str:
    """Percent-encode one path segment; "." and ".." too, or HTTP clients would resolve them away."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


@dataclass
class Response:
    """What to send back: status, extra headers, body bytes; or ``drop`` to send nothing at all."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False


@dataclass(frozen=True)
class Exchange:
    """One API request and the response the emulator gave, as handed to the ``observer``.

    ``path`` is the raw (percent-encoded) path, ``query`` the raw query string, ``headers`` the
    response headers. Dropped connections produce no Exchange; /_emulator hooks are not included.
    """

    method: str
    path: str
    query: str
    content_type: str | None
    status: int
    headers: dict[str, str]
    body: bytes


Observer = Callable[[Exchange], None]


def json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """A JSON response with the given status."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, [("Content-Type", JSON_TYPE), *headers])


def error_response(status: int, code: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """Twilio's error body: ``{code, message, more_info, status}``."""
    return json_response(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


def default_fault_error(status: int) -> Response:
    """The body an injected status carries unless the fault gives one: 429 -> 20429 Too Many Requests."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return error_response(status, 20000 + status, phrase)


@dataclass
class Request:
    """A parsed API request."""

    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    base_url: str
    principal: Principal | None = None
    _form: dict[str, str] | None = None

    @property
    def form(self) -> dict[str, str]:
        """The form-encoded body; the first value of each parameter wins."""
        if self._form is None:
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidParameter("The request body must be UTF-8") from None
            form: dict[str, str] = {}
            for name, value in parse_qsl(text, keep_blank_values=True):
                form.setdefault(name, value)
            self._form = form
        return self._form

    @property
    def args(self) -> dict[str, str]:
        """The query string parameters; the first value of each wins."""
        args: dict[str, str] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            args.setdefault(name, value)
        return args


@dataclass(frozen=True)
class Route:
    """One line of the routing table: method + path template -> handler, with the permission it needs
    (None: no documented restricted-key permission covers it)."""

    method: str
    template: str
    handler: str
    permission: str | None
    kwargs: dict[str, Any]
    regex: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    # Templates name segments {like_this}; each matches one raw (still percent-encoded) segment,
    # so a key holding "/" arrives as %2F and never splits the path.
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


# Twilio documents no restricted-key permission for Microvisor, so its routes name none (None) and
# a restricted key is refused there whatever its policy: an assumption, said in the README.
_NO_DOCUMENTED_PERMISSION = None
_KEYS = KEYS_PERMISSION_PREFIX
_V2010 = "/2010-04-01/Accounts/{account}"
_CFG: dict[str, Any] = {"kind": "config"}
_SEC: dict[str, Any] = {"kind": "secret"}

# The routing table (moto's urls.py): method, raw path template, handler method, permission.
_TABLE: tuple[tuple[str, str, str, str | None, dict[str, Any]], ...] = (
    ("GET", "/v1/Configs", "list_items", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("POST", "/v1/Configs", "create_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("GET", "/v1/Configs/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("POST", "/v1/Configs/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("DELETE", "/v1/Configs/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("GET", "/v1/Secrets", "list_items", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("POST", "/v1/Secrets", "create_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("GET", "/v1/Secrets/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("POST", "/v1/Secrets/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("DELETE", "/v1/Secrets/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("GET", "/v1/Devices", "list_devices", _NO_DOCUMENTED_PERMISSION, {}),
    ("GET", "/v1/Devices/{device}", "fetch_device", _NO_DOCUMENTED_PERMISSION, {}),
    ("POST", "/v1/Devices/{device}", "update_device", _NO_DOCUMENTED_PERMISSION, {}),
    ("GET", "/v1/Devices/{device}/Configs", "list_items", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("POST", "/v1/Devices/{device}/Configs", "create_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("GET", "/v1/Devices/{device}/Configs/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("POST", "/v1/Devices/{device}/Configs/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("DELETE", "/v1/Devices/{device}/Configs/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _CFG),
    ("GET", "/v1/Devices/{device}/Secrets", "list_items", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("POST", "/v1/Devices/{device}/Secrets", "create_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("GET", "/v1/Devices/{device}/Secrets/{key}", "fetch_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("POST", "/v1/Devices/{device}/Secrets/{key}", "update_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("DELETE", "/v1/Devices/{device}/Secrets/{key}", "delete_item", _NO_DOCUMENTED_PERMISSION, _SEC),
    ("GET", _V2010 + "/Keys.json", "list_keys_v2010", _KEYS + "read", {}),
    ("POST", _V2010 + "/Keys.json", "create_key_v2010", _KEYS + "create", {}),
    ("GET", _V2010 + "/Keys/{sid}.json", "fetch_key_v2010", _KEYS + "read", {}),
    ("POST", _V2010 + "/Keys/{sid}.json", "update_key_v2010", _KEYS + "update", {}),
    ("DELETE", _V2010 + "/Keys/{sid}.json", "delete_key_v2010", _KEYS + "delete", {}),
    ("GET", "/v1/Keys", "list_keys_iam", _KEYS + "read", {}),
    ("POST", "/v1/Keys", "create_key_iam", _KEYS + "create", {}),
    ("GET", "/v1/Keys/{sid}", "fetch_key_iam", _KEYS + "read", {}),
    ("POST", "/v1/Keys/{sid}", "update_key_iam", _KEYS + "update", {}),
    ("DELETE", "/v1/Keys/{sid}", "delete_key_iam", _KEYS + "delete", {}),
)

ROUTES: tuple[Route, ...] = tuple(
    Route(method, template, handler, permission, kwargs, _compile(template))
    for method, template, handler, permission, kwargs in _TABLE
)


@dataclass
class _Page:
    records: list[Record]
    page: int
    size: int
    start: int
    query: str
    first_query: str
    next_query: str | None
    previous_query: str | None


def _int_arg(args: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameter(f"{name} must be an integer {bound}")
    return value


#: Twilio's page size when a list request names none.
DEFAULT_PAGE_SIZE = 50


def paginate(
    req: Request,
    items: list[tuple[int, Record]],
    fixed: Sequence[tuple[str, str]] = (),
    default_size: int = DEFAULT_PAGE_SIZE,
) -> _Page:
    """Cut one page out of ``(cursor, record)`` pairs in creation order.

    ``PageToken`` (``PA<cursor>``: after it, ``PB<cursor>``: before it) keeps paging stable while
    records come and go; without a token, ``Page * PageSize`` is the offset. ``fixed`` are query
    parameters every page URL must repeat (IAM's AccountSid).
    """
    args = req.args
    size = _int_arg(args, "PageSize", default_size, 1, 1000)
    page = _int_arg(args, "Page", 0, 0, None)
    token = args.get("PageToken")
    cursors = [c for c, _ in items]
    if token:
        match = re.fullmatch(r"P([AB])(\d+)", token)
        if not match:
            raise InvalidParameter("PageToken is invalid")
        mark = int(match.group(2))
        if match.group(1) == "A":
            start = next((i for i, c in enumerate(cursors) if c > mark), len(cursors))
        else:
            end = next((i for i, c in enumerate(cursors) if c >= mark), len(cursors))
            start = max(0, end - size)
    else:
        start = page * size
    chunk = items[start : start + size]

    def query(p: int, tok: str | None) -> str:
        params = [*fixed, ("PageSize", str(size)), ("Page", str(p))]
        if tok:
            params.append(("PageToken", tok))
        return urlencode(params)

    more = start + size < len(items)
    next_q = query(page + 1, f"PA{chunk[-1][0]}") if more and chunk else None
    if page > 0 or start > 0:
        previous_q: str | None = query(max(page - 1, 0), f"PB{chunk[0][0]}" if chunk else None)
    else:
        previous_q = None
    return _Page(
        records=[r for _, r in chunk],
        page=page,
        size=size,
        start=start,
        query=query(page, token),
        first_query=query(0, None),
        next_query=next_q,
        previous_query=previous_q,
    )


def _bool_param(form: dict[str, str], name: str) -> bool | None:
    raw = form.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise InvalidParameter(f"{name} must be true or false")


class _Forbidden(StoreError):
    """The credentials are valid but may not do this (403, code 20403)."""

    status = 403
    code = 20403


def _not_found(req: Request) -> NotFound:
    return NotFound(f"The requested resource {unquote(req.raw_path)} was not found")


class WireApp:
    """Turns parsed requests into store calls and store records into Twilio JSON.

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
        self.page_size = page_size

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
        if raw_path == HOOK_PREFIX or raw_path.startswith(HOOK_PREFIX + "/"):
            # Test hooks: never faulted, never logged, no auth.
            return self._hook(method, raw_path, body)
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
        req.principal = self._authenticate(headers.get("authorization"))
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
            denied = self._authorize(req.principal, route)
            if denied is not None:
                return denied
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            try:
                result: Response = getattr(self, route.handler)(req, **route.kwargs, **params)
                return result
            except StoreError as exc:
                return error_response(exc.status, exc.code, exc.message)
        if allowed:
            return error_response(
                405, 20004, f"Method {method} not allowed", [("Allow", ", ".join(sorted(set(allowed))))]
            )
        return error_response(404, 20404, f"The requested resource {unquote(raw_path)} was not found")

    # -- auth -------------------------------------------------------------------------------

    def _authenticate(self, header: str | None) -> Principal | None:
        if not header or header[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        return self.store.authenticate(username, password)

    @staticmethod
    def _authorize(principal: Principal, route: Route) -> Response | None:
        if principal.kind == "account":
            return None
        if principal.kind == "standard":
            # Twilio: Standard keys cannot manage API keys; everything else is open to them.
            if route.permission is not None and route.permission.startswith(KEYS_PERMISSION_PREFIX):
                return error_response(403, 20403, "Standard API keys cannot manage API keys")
            return None
        if route.permission is None:
            return error_response(
                403,
                20403,
                "Restricted API keys cannot use this API: Twilio documents no restricted-key permission "
                "for it (an assumption of this emulator)",
            )
        if policy_allows(principal.allow, route.permission):
            return None
        return error_response(403, 20403, f"This API key's policy does not allow {route.permission}")

    # -- Microvisor: configs and secrets ------------------------------------------------------

    def _item_json(self, req: Request, kind: ItemKind, record: Record) -> dict[str, Any]:
        noun = "Configs" if kind == "config" else "Secrets"
        device = record.get("device_sid")
        parent = f"{req.base_url}/v1/Devices/{device}" if device else f"{req.base_url}/v1"
        out: dict[str, Any] = {}
        if device:
            out["device_sid"] = device
        out["key"] = record["key"]
        if kind == "config":
            out["value"] = record["value"]
            out["date_updated"] = iso8601(record["date_updated"])
        else:
            out["date_rotated"] = iso8601(record["date_rotated"])
        out["url"] = f"{parent}/{noun}/{quote_segment(record['key'])}"
        return out

    def _meta_list(self, req: Request, key: str, page: _Page, items: list[dict[str, Any]]) -> Response:
        base = req.base_url + req.raw_path
        return json_response(
            200,
            {
                key: items,
                "meta": {
                    "page": page.page,
                    "page_size": page.size,
                    "first_page_url": f"{base}?{page.first_query}",
                    "previous_page_url": f"{base}?{page.previous_query}" if page.previous_query else None,
                    "url": f"{base}?{page.query}",
                    "next_page_url": f"{base}?{page.next_query}" if page.next_query else None,
                    "key": key,
                },
            },
        )

    def list_items(self, req: Request, *, kind: ItemKind, device: str | None = None) -> Response:
        page = paginate(req, self.store.list_items(kind, device), default_size=self.page_size)
        items = [self._item_json(req, kind, r) for r in page.records]
        return self._meta_list(req, "configs" if kind == "config" else "secrets", page, items)

    def create_item(self, req: Request, *, kind: ItemKind, device: str | None = None) -> Response:
        record = self.store.create_item(kind, req.form.get("Key"), req.form.get("Value"), device)
        return json_response(201, self._item_json(req, kind, record))

    def fetch_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        return json_response(200, self._item_json(req, kind, self.store.get_item(kind, key, device)))

    def update_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        record = self.store.update_item(kind, key, req.form.get("Value"), device)
        return json_response(200, self._item_json(req, kind, record))

    def delete_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        self.store.delete_item(kind, key, device)
        return Response(204)

    # -- Microvisor: devices -----------------------------------------------------------------

    def _device_json(self, req: Request, record: Record) -> dict[str, Any]:
        url = f"{req.base_url}/v1/Devices/{record['sid']}"
        return {
            "sid": record["sid"],
            "unique_name": record["unique_name"],
            "account_sid": record["account_sid"],
            "app": {
                "target_sid": record["target_sid"],
                "target_hash": None,
                "date_targeted": iso8601(record["date_targeted"]),
                "update_status": "up-to-date",
                "update_error_code": 0,
                "reported_sid": record["target_sid"],
                "date_reported": iso8601(record["date_targeted"]),
            },
            "logging": {
                "enabled": record["logging_enabled"],
                "date_expires": iso8601(record["logging_expires"]) if record["logging_enabled"] else None,
            },
            "date_created": iso8601(record["date_created"]),
            "date_updated": iso8601(record["date_updated"]),
            "url": url,
            "links": {"device_configs": f"{url}/Configs", "device_secrets": f"{url}/Secrets"},
        }

    def list_devices(self, req: Request) -> Response:
        page = paginate(req, self.store.list_devices(), default_size=self.page_size)
        return self._meta_list(req, "devices", page, [self._device_json(req, r) for r in page.records])

    def fetch_device(self, req: Request, *, device: str) -> Response:
        return json_response(200, self._device_json(req, self.store.get_device(device)))

    def update_device(self, req: Request, *, device: str) -> Response:
        form = req.form
        record = self.store.update_device(
            device,
            unique_name=form.get("UniqueName"),
            target_app=form.get("TargetApp"),
            logging_enabled=_bool_param(form, "LoggingEnabled"),
            restart_app=_bool_param(form, "RestartApp"),
        )
        return json_response(200, self._device_json(req, record))

    # -- API v2010 keys ------------------------------------------------------------------------

    def _check_account(self, req: Request, account: str) -> None:
        # Only the emulator's own account exists; any other AccountSid in the path is not found.
        if account != self.store.account_sid:
            raise _not_found(req)

    @staticmethod
    def _key_v2010(record: Record) -> dict[str, Any]:
        return {
            "sid": record["sid"],
            "friendly_name": record["friendly_name"],
            "date_created": rfc2822(record["date_created"]),
            "date_updated": rfc2822(record["date_updated"]),
        }

    def list_keys_v2010(self, req: Request, *, account: str) -> Response:
        self._check_account(req, account)
        page = paginate(req, self.store.list_keys(), default_size=self.page_size)
        base = req.raw_path
        end = page.start + len(page.records) - 1 if page.records else page.start
        return json_response(
            200,
            {
                "keys": [self._key_v2010(r) for r in page.records],
                "first_page_uri": f"{base}?{page.first_query}",
                "next_page_uri": f"{base}?{page.next_query}" if page.next_query else None,
                "previous_page_uri": f"{base}?{page.previous_query}" if page.previous_query else None,
                "uri": f"{base}?{page.query}",
                "page": page.page,
                "page_size": page.size,
                "start": page.start,
                "end": end,
            },
        )

    def create_key_v2010(self, req: Request, *, account: str) -> Response:
        self._check_account(req, account)
        # API v2010 only ever creates Standard keys.
        record, secret = self.store.create_key(req.form.get("FriendlyName"))
        return json_response(201, {**self._key_v2010(record), "secret": secret})

    def fetch_key_v2010(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        return json_response(200, self._key_v2010(self.store.get_key(sid)))

    def update_key_v2010(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        record = self.store.update_key(sid, friendly_name=req.form.get("FriendlyName"))
        return json_response(200, self._key_v2010(record))

    def delete_key_v2010(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        self.store.delete_key(sid)
        return Response(204)

    # -- IAM v1 keys -------------------------------------------------------------------------

    def _iam_account(self, value: str | None, where: str) -> str:
        if value is None:
            raise InvalidParameter(f"Missing required parameter AccountSid in the {where}")
        if not ACCOUNT_SID_RE.match(value):
            raise InvalidParameter("AccountSid must match ^AC[0-9a-fA-F]{32}$")
        if value != self.store.account_sid:
            raise _Forbidden("AccountSid is not the authenticated account")
        return value

    @staticmethod
    def _key_iam(record: Record) -> dict[str, Any]:
        return {
            "sid": record["sid"],
            "friendly_name": record["friendly_name"],
            "date_created": rfc2822(record["date_created"]),
            "date_updated": rfc2822(record["date_updated"]),
            "policy": record["policy"],
        }

    @staticmethod
    def _policy_param(form: dict[str, str]) -> dict[str, Any] | None:
        raw = form.get("Policy")
        return None if raw is None else parse_policy(raw)

    def list_keys_iam(self, req: Request) -> Response:
        account = self._iam_account(req.args.get("AccountSid"), "query string")
        page = paginate(req, self.store.list_keys(), [("AccountSid", account)], self.page_size)
        items = [
            {
                "sid": r["sid"],
                "friendly_name": r["friendly_name"],
                "date_created": rfc2822(r["date_created"]),
                "date_updated": rfc2822(r["date_updated"]),
                "flags": r["flags"],
            }
            for r in page.records
        ]
        return self._meta_list(req, "keys", page, items)

    def create_key_iam(self, req: Request) -> Response:
        form = req.form
        self._iam_account(form.get("AccountSid"), "post body")
        key_type = form.get("KeyType")
        if key_type not in (None, "restricted"):
            raise InvalidParameter("KeyType must be restricted (or omitted for a standard key)")
        record, secret = self.store.create_key(
            form.get("FriendlyName"),
            key_type="restricted" if key_type else "standard",
            policy=self._policy_param(form),
        )
        return json_response(201, {**self._key_iam(record), "secret": secret})

    def fetch_key_iam(self, req: Request, *, sid: str) -> Response:
        return json_response(200, self._key_iam(self.store.get_key(sid)))

    def update_key_iam(self, req: Request, *, sid: str) -> Response:
        form = req.form
        record = self.store.update_key(
            sid, friendly_name=form.get("FriendlyName"), policy=self._policy_param(form)
        )
        return json_response(200, self._key_iam(record))

    def delete_key_iam(self, req: Request, *, sid: str) -> Response:
        self.store.delete_key(sid)
        return Response(204)

    # -- test hooks ------------------------------------------------------------------------------

    def _hook(self, method: str, raw_path: str, body: bytes) -> Response:
        sub = raw_path[len(HOOK_PREFIX) :]
        if sub == "/requests":
            if method == "GET":
                return json_response(
                    200, {"requests": self.log.entries(), "peak_in_flight": self.log.peak_in_flight()}
                )
            if method == "DELETE":
                self.log.clear()
                return Response(204)
        elif sub == "/faults":
            if method == "GET":
                return json_response(200, {"faults": self.faults.describe()})
            if method == "DELETE":
                self.faults.clear()
                return Response(204)
            if method == "POST":
                try:
                    spec = json.loads(body.decode("utf-8") or "null")
                    fault = self.faults.add(spec)
                except (ValueError, FaultSpecError) as exc:
                    return error_response(400, 20001, f"Invalid fault: {exc}")
                return json_response(201, fault.describe())
        elif sub.startswith("/faults/"):
            if method == "DELETE":
                if self.faults.remove(unquote(sub[len("/faults/") :])):
                    return Response(204)
                return error_response(404, 20404, f"The requested resource {raw_path} was not found")
        elif sub == "/state":
            if method == "DELETE":
                self.reset()
                return Response(204)
        elif sub == "/info":
            if method == "GET":
                devices = [
                    {"sid": r["sid"], "unique_name": r["unique_name"]} for _, r in self.store.list_devices()
                ]
                return json_response(200, {"account_sid": self.store.account_sid, "devices": devices})
        else:
            return error_response(404, 20404, f"The requested resource {raw_path} was not found")
        return error_response(405, 20004, f"Method {method} not allowed")


# -- the HTTP server ---------------------------------------------------------------------------


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

"""Twilio's wire format, shared by every product the emulator serves.

Form-encoded PascalCase parameters in, snake_case JSON out; the error body; the two timestamp
formats; path segments percent-encoded one at a time; the paging rules and the ``meta`` list shape.
Nothing here knows a route, a socket or a rule: the handlers in :mod:`.responses` build on it, and
every decision about state is :class:`.store.Store`'s.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from microvisor_pulumi.emulator.store import InvalidParameter, NotFound, Principal, Record

JSON_TYPE = "application/json; charset=utf-8"

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


@dataclass
class Page:
    """One page cut out of a list, with the query strings of its neighbours."""

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
) -> Page:
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
    return Page(
        records=[r for _, r in chunk],
        page=page,
        size=size,
        start=start,
        query=query(page, token),
        first_query=query(0, None),
        next_query=next_q,
        previous_query=previous_q,
    )


def bool_param(form: dict[str, str], name: str) -> bool | None:
    """A ``true``/``false`` form parameter (any case), or None when absent."""
    raw = form.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise InvalidParameter(f"{name} must be true or false")


def meta_list(req: Request, key: str, page: Page, items: list[dict[str, Any]]) -> Response:
    """The list shape of Microvisor and IAM: ``{<key>: [...], meta: {...}}`` with absolute URLs."""
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


def not_found(raw_path: str) -> NotFound:
    """Twilio's 404 for a path: ``The requested resource /v1/... was not found``."""
    return NotFound(f"The requested resource {unquote(raw_path)} was not found")

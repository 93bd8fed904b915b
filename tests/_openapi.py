"""Validate emulator responses against the vendored Twilio OpenAPI specs (tests/specs/).

Successful responses are checked with openapi-core against the operation's declared response
(status code, content type, schema). The specs are tightened in memory: any object schema that
lists ``properties`` gets ``additionalProperties: false``, so an undeclared field (a leaked secret
value, say) is a violation too. Response headers are checked here rather than by openapi-core, which
spends two thirds of its time on them: every operation of Twilio's specs declares the same five
optional CORS headers, four plain strings and one boolean, and checking that takes a dict lookup.
Error responses are not in the specs; they must have Twilio's error shape
``{code:int, message:str, more_info:str, status:int}`` and nothing else.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from microvisor_pulumi.emulator import Exchange

SPECS = Path(__file__).parent / "specs"

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} \+0000$"
)
_ABSOLUTE = re.compile(r"^https?://[^/\s]+/\S*$")
_RELATIVE = re.compile(r"^/\S*$")


def _format_checks() -> dict[str, Callable[[Any], bool]]:
    def iso(value: Any) -> bool:
        return not isinstance(value, str) or bool(_ISO.match(value))

    def rfc2822(value: Any) -> bool:
        return not isinstance(value, str) or bool(_RFC2822.match(value))

    def uri(value: Any) -> bool:
        # Twilio's v2010 *_uri fields are relative in practice and in every example, though typed
        # "uri"; Microvisor/IAM urls are absolute. Accept either, reject anything else.
        return not isinstance(value, str) or bool(_ABSOLUTE.match(value) or _RELATIVE.match(value))

    return {"date-time": iso, "date-time-rfc-2822": rfc2822, "uri": uri}


def _tighten(node: Any) -> None:
    """Forbid undeclared properties on every object schema that declares its properties."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _tighten(value)
    elif isinstance(node, list):
        for value in node:
            _tighten(value)


# A header value (always a string on the wire) against its declared schema type.
_HEADER_TYPES: dict[str, Callable[[str], bool]] = {
    "string": lambda value: True,
    "boolean": lambda value: value in ("true", "false"),
    "integer": lambda value: re.fullmatch(r"-?\d+", value) is not None,
}


def _take_response_headers(spec: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Remove the response headers from every operation of ``spec`` and return them, by lower-case
    name, as (schema type, required). Refuses a spec whose operations declare one header in two
    ways, or a type this check does not know: then it is time to check headers per operation."""
    declared: dict[str, tuple[str, bool]] = {}
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for name, header in response.pop("headers", {}).items():
                    schema = header.get("schema", {})
                    kind = (schema.get("type"), bool(header.get("required")))
                    if set(schema) - {"type", "example", "description"} or kind[0] not in _HEADER_TYPES:
                        raise ValueError(f"response header {name}: no check for schema {schema}")
                    if declared.setdefault(name.lower(), kind) != kind:
                        raise ValueError(f"response header {name} is declared in two ways")
    return declared


def load_spec(name: str, *, strict: bool = True) -> dict[str, Any]:
    """A vendored spec as a dict, tightened (see module docstring) unless ``strict`` is False."""
    spec: dict[str, Any] = json.loads((SPECS / name).read_text(encoding="utf-8"))
    if strict:
        spec = copy.deepcopy(spec)
        _tighten(spec)
    return spec


@dataclass
class Violation:
    """One response that broke the contract."""

    method: str
    path: str
    status: int
    problem: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}: {self.problem}"


@dataclass
class SpecValidator:
    """Checks emulator exchanges against the specs and collects every violation (thread-safe).

    Use :meth:`observe` as the emulator's observer; :attr:`violations` lists what failed and
    :attr:`checked` counts what was looked at, so a suite can prove it validated something.
    """

    violations: list[Violation] = field(default_factory=list)
    checked: int = 0

    def __post_init__(self) -> None:
        config = Config(extra_format_validators=_format_checks())
        self._apis: dict[str, tuple[str, OpenAPI]] = {}
        self._headers: dict[str, dict[str, tuple[str, bool]]] = {}
        for key, filename, host in (
            ("microvisor", "twilio_microvisor_v1.json", "https://microvisor.twilio.com"),
            ("v2010", "twilio_api_v2010_keys.json", "https://api.twilio.com"),
            ("iam", "twilio_iam_v1.json", "https://iam.twilio.com"),
        ):
            spec = load_spec(filename)
            self._headers[key] = _take_response_headers(spec)
            self._apis[key] = (host, OpenAPI.from_dict(spec, config=config))
        self._lock = threading.Lock()

    def _api_for(self, path: str) -> str:
        if path.startswith("/2010-04-01/"):
            return "v2010"
        if path == "/v1/Keys" or path.startswith("/v1/Keys/"):
            return "iam"
        return "microvisor"

    def problems(self, exchange: Exchange) -> list[str]:
        """Everything wrong with one exchange (empty when it conforms)."""
        if exchange.status >= 400:
            return _error_problems(exchange)
        which = self._api_for(exchange.path)
        host, api = self._apis[which]
        content_type = exchange.headers.get("Content-Type", "")
        # Clients may send a "." or ".." key segment literally (urllib3 decodes %2E); openapi-core
        # would resolve it as a dot segment, so present it encoded for operation lookup.
        path = "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in exchange.path.split("/"))
        request = MockRequest(
            host,
            exchange.method,
            path,
            args=dict(parse_qsl(exchange.query, keep_blank_values=True)),
            data=b"",
            content_type=exchange.content_type or "",
        )
        # openapi-core matches media types exactly; Twilio (and the emulator) add "; charset=utf-8".
        response = MockResponse(
            exchange.body,
            status_code=exchange.status,
            headers=exchange.headers,
            content_type=content_type.split(";")[0].strip(),
        )
        problems: list[str] = []
        sent = {name.lower(): value for name, value in exchange.headers.items()}
        for name, (kind, required) in self._headers[which].items():
            if name not in sent:
                if required:
                    problems.append(f"required header {name} is missing")
            elif not _HEADER_TYPES[kind](sent[name]):
                problems.append(f"header {name}: {sent[name]!r} is not a {kind}")
        if exchange.status == 204 and exchange.body:
            problems.append("204 response has a body")
        try:
            api.validate_response(request, response)
        except Exception as exc:  # noqa: BLE001 - every validation failure is a finding
            problems.append(_describe(exc))
        return problems

    def observe(self, exchange: Exchange) -> None:
        """The emulator observer: validate and remember any violation."""
        found = self.problems(exchange)
        with self._lock:
            self.checked += 1
            self.violations.extend(
                Violation(exchange.method, exchange.path, exchange.status, p) for p in found
            )

    def report(self) -> str:
        """All violations, one per line."""
        with self._lock:
            return "\n".join(str(v) for v in self.violations)


def _describe(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__ or exc.__context__
    for inner in getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None) or []:
        parts.append(f"  - {getattr(inner, 'message', inner)}")
    if cause is not None and not getattr(cause, "schema_errors", None):
        parts.append(f"  caused by {type(cause).__name__}: {cause}")
    return "\n".join(parts)


_ERROR_FIELDS = {"code": int, "message": str, "more_info": str, "status": int}


def _error_problems(exchange: Exchange) -> list[str]:
    if not exchange.headers.get("Content-Type", "").startswith("application/json"):
        return ["error response is not JSON"]
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return ["error body is not valid JSON"]
    if not isinstance(body, dict):
        return ["error body is not a JSON object"]
    problems = []
    if set(body) != set(_ERROR_FIELDS):
        problems.append(f"error body fields are {sorted(body)}, expected {sorted(_ERROR_FIELDS)}")
    for name, kind in _ERROR_FIELDS.items():
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"error field {name} is {type(value).__name__}, expected {kind.__name__}")
    if body.get("status") != exchange.status:
        problems.append(f"error status {body.get('status')} differs from HTTP status {exchange.status}")
    if isinstance(body.get("code"), int) and body.get("more_info") != (
        f"https://www.twilio.com/docs/errors/{body['code']}"
    ):
        problems.append("more_info does not point at the code's error page")
    return problems


def assert_error(resp: Any, status: int, code: int, *fragments: str) -> dict[str, Any]:
    """Assert ``resp`` (a requests Response) is Twilio error ``code`` with ``status``; return the body.

    Each of ``fragments`` must appear in the message.
    """
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    body: dict[str, Any] = resp.json()
    assert body["code"] == code and body["status"] == status, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    for fragment in fragments:
        assert fragment in body["message"], (fragment, body["message"])
    return body

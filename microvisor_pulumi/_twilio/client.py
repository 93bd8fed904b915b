"""The one HTTP transport to Twilio: connection pools, retries, error mapping and paging.

Design points (each one is a past or likely bug):

* urllib3 directly, under urllib3's own ``Retry`` (no home-grown loop). ``requests`` did the same
  work with about three times the CPU per call (its per-request merging of environment settings,
  hooks, cookie jars and adapters), which on a small machine is what limits a fleet deployment.
  Two policies: *retry* (GET, DELETE, update POST) retries 429/5xx, connect and read failures with
  jittered exponential backoff and a capped ``Retry-After``, bounded by a total time budget; *once*
  (create POST) retries only failures that happen before the request is sent, and 429s (Twilio did
  not process the request), because a create that may have taken effect must never be sent twice.
* Proxies (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and the CA bundle
  (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's, as ``requests`` chose) are read once
  per client and host, not on every request.
* Every attempt holds a place in the account's adaptive limiter (``limiter.py``) while it is out,
  so one process never has more than ``max_concurrency`` requests out and backs off on 429.
* One thread-safe pool per host and client, as large as the limiter lets requests out, so
  keep-alive connections are reused by every thread.
* A server cannot hold a call or the memory: the head and the body must each arrive within the
  read timeout in all (not merely without a silence that long), a body is refused past 32 MiB once
  decompressed, a retried answer's body is never read unbounded, and an informational 1xx answer
  drops its connection (the real answer after it would be read as the next request's).
* Errors are built from status code and a scrubbed server message only; no exception keeps the
  request or response, and none is chained to a urllib3 exception (whose text holds URLs).
"""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import json
import os
import platform
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from datetime import timezone
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util.retry import Retry

from microvisor_pulumi._twilio.connections import (
    MAX_BODY_BYTES,
    POOL_CLASSES,
    BodyTooLarge,
    discard,
    read_body,
)
from microvisor_pulumi._twilio.endpoints import Record, TwilioEndpoints
from microvisor_pulumi._twilio.errors import (
    AuthFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    MissingCredentials,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    TwilioError,
)
from microvisor_pulumi._twilio.hosts import base_url, rebase
from microvisor_pulumi._twilio.limiter import Slot, limiter_for
from microvisor_pulumi._twilio.settings import RETRY_DELAY_CAP, Settings, backoff_delay, is_loopback_host
from microvisor_pulumi._version import __version__

USER_AGENT = (
    f"microvisor-pulumi/{__version__} ({platform.system()} {platform.machine()}) "
    f"Python/{platform.python_version()}"
)

#: Statuses worth another attempt: throttling and transient server or gateway failures.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_STATUS_ERRORS: dict[int, type[TwilioError]] = {
    400: InvalidInput,
    401: AuthFailed,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    429: RateLimited,
}
# Sent form values shorter than this are not scrubbed: "true", "abc" would blank out ordinary words.
_MIN_SCRUB_LENGTH = 4
_MAX_MESSAGE_LENGTH = 500
# No Twilio answer comes near this (a full 1000-record page is a few MB); a body past it, decoded, is
# a broken or hostile server (or a gzip bomb: a few MB that inflate to gigabytes) and is refused.
_MAX_LOAD = 1_000_000  # Twilio-Concurrent-Requests beyond this is not believed
_DRAIN_LIMIT = 64 * 1024  # a retried response's body read to keep its connection; past it, closed
_AUTH_HEADER_RE = re.compile(
    r"""(?i)(\bauthorization\b["']?\s*[:=]\s*["']?)(?:(?:basic|bearer)\s+)?[^\s"',;}]+"""
)
_AUTH_SCHEME_RE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{16,}")

_R = TypeVar("_R", bound="BudgetRetry")


class BudgetRetry(Retry):
    """urllib3 ``Retry`` with jittered backoff, a capped ``Retry-After`` and a total time budget.

    ``started()`` returns a copy whose clock starts now; ``increment`` refuses another attempt when
    the time spent so far plus the coming sleep would exceed ``budget_seconds``. The sleep is chosen
    once in ``increment`` (so the budget check and the actual sleep agree despite the jitter).
    """

    # Retry-After is only meaningful for these; 413 (urllib3's default extra) is never transient here.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def __init__(
        self,
        *args: Any,
        backoff_cap: float = RETRY_DELAY_CAP,
        retry_after_cap: float = 30.0,
        budget_seconds: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.budget_seconds = budget_seconds
        self.started_at: float | None = None
        self.planned_sleep = 0.0
        # The request's place in the account's limiter (None: unlimited), and how long to queue for it.
        self.slot: Slot | None = None
        self.slot_timeout: float | None = None
        # The client's read timeout, which also bounds reading a retried response's body in all.
        self.read_timeout = 30.0

    def new(self: _R, **kw: Any) -> _R:
        fresh = super().new(**kw)
        fresh.backoff_cap = self.backoff_cap
        fresh.retry_after_cap = self.retry_after_cap
        fresh.budget_seconds = self.budget_seconds
        fresh.started_at = self.started_at
        fresh.slot = self.slot
        fresh.slot_timeout = self.slot_timeout
        fresh.read_timeout = self.read_timeout
        return fresh

    def started(self: _R) -> _R:
        """A copy of this policy whose time budget starts now (one per request)."""
        fresh = self.new()
        fresh.started_at = time.monotonic()
        return fresh

    def get_backoff_time(self) -> float:
        # Unlike urllib3's default the first retry waits too (about factor * 1).
        return backoff_delay(len(self.history), self.backoff_factor, self.backoff_cap)

    def get_retry_after(self, response: Any) -> float | None:
        header = response.headers.get("Retry-After")
        if header is None:
            return None
        try:
            seconds = float(self.parse_retry_after(header))
        except Exception:
            return None  # a malformed hint falls back to our own backoff
        return min(seconds, self.retry_after_cap)

    def _next_sleep(self, response: Any) -> float:
        if self.respect_retry_after_header and response is not None:
            hinted = self.get_retry_after(response)
            if hinted is not None:
                return hinted
        return self.get_backoff_time()

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> BudgetRetry:
        if self.slot is not None:
            # The attempt is over: its place goes back (a 429 narrows the window) before any sleep.
            self.slot.release(getattr(response, "status", None), _load(response))
        fresh = super().increment(method, url, response, error, _pool, _stacktrace)
        delay = fresh._next_sleep(response)
        if self.started_at is not None and time.monotonic() - self.started_at + delay > self.budget_seconds:
            # Same exception urllib3 raises when the counters run out: for a response it hands the
            # response back (raise_on_status=False), for an error it surfaces that error.
            reason = error or ResponseError(f"retry budget of {self.budget_seconds:g} s exhausted")
            raise MaxRetryError(_pool, url or "", reason) from reason
        fresh.planned_sleep = delay
        if response is not None:
            # urllib3 next drains this body to reuse the connection, without any bound: an endless or
            # trickling body would hang the call there. A short one is read here (undecoded, within
            # the read timeout in all); any other drops the connection instead.
            try:
                read_body(response, self.read_timeout, self.read_timeout, limit=_DRAIN_LIMIT, decode=False)
            except (BodyTooLarge, HTTPError, OSError):
                discard(response)
        return fresh

    def sleep(self, response: Any = None) -> None:
        if self.planned_sleep > 0:
            time.sleep(self.planned_sleep)
        if self.slot is not None:
            self.slot.retake(self.slot_timeout)


class _CreatePolicy(BudgetRetry):
    """The create POST's policy: a 429 is the one answer it may resend after (Twilio did nothing)."""

    RETRY_AFTER_STATUS_CODES = frozenset({429})  # not 503: a 503 may come after the create took effect


def _load(response: Any) -> int | None:
    """Twilio's count of the account's requests in flight (``Twilio-Concurrent-Requests``), if sent."""
    headers = getattr(response, "headers", None)
    raw = headers.get("Twilio-Concurrent-Requests") if headers is not None else None
    try:
        load = int(raw) if raw is not None else None
    except ValueError:
        return None
    # The count includes this very request, so it is at least 1; a figure past any account's limit
    # is a broken or hostile server (and one past a float's range would crash the limiter's sums).
    return load if load is not None and 1 <= load <= _MAX_LOAD else None


def _proxy_for(origin: str) -> str | None:
    """The proxy URL for ``scheme://host[:port]`` from the environment, or None to go direct.

    What ``requests`` did on every request, done once per host: ``getproxies()`` (``<scheme>_proxy``,
    then ``all_proxy``; lower case first) unless ``no_proxy`` covers the host (a suffix, an exact
    host[:port], ``*``, or a CIDR block around an IP address). Plain http to this machine goes only
    through a proxy on this machine.
    """
    parts = urlsplit(origin)
    host = parts.hostname or ""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    # Plain http is allowed only to this machine (see settings.check_endpoint_transport): a proxy on
    # another one would read the Basic credentials in clear text (and reach its own loopback, not
    # ours). A proxy on this machine (a local recording proxy) keeps them here.
    local_proxy = is_loopback_host(urlsplit(proxy).hostname or "")
    if parts.scheme == "http" and is_loopback_host(host) and not local_proxy:
        return None
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    for entry in (e.strip() for e in no_proxy.split(",")):
        if not entry:
            continue
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return None
        except ValueError:
            pass  # not an IP host or not an address entry: the name rules below apply
    if urllib.request.proxy_bypass(parts.netloc) or urllib.request.proxy_bypass(host):
        return None
    return proxy


def _ca_certs() -> dict[str, str]:
    """The CA bundle ``requests`` would use, as pool arguments: its environment variables (a file or,
    as ``requests`` allowed, a hashed directory), else certifi's bundle.

    A bundle that is missing or holds no certificate would otherwise surface only as "TLS handshake
    failed" on every request, hiding the operator's typo: it is checked once, here, and named.
    """
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        chosen = os.environ.get(name)
        if not chosen:
            continue
        if os.path.isdir(chosen):
            return {"ca_cert_dir": chosen}
        if not os.path.isfile(chosen):
            raise TwilioError(f"the CA bundle {name}={chosen!r} does not exist (or is not a file)")
        try:
            ssl.create_default_context(cafile=chosen)
        except (ssl.SSLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise TwilioError(
                f"the CA bundle {name}={chosen!r} holds no usable PEM certificate ({reason})"
            ) from None
        return {"ca_certs": chosen}
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests' dependency, normally present
        return {}  # the system's trust store
    return {"ca_certs": str(certifi.where())}


class TwilioClient(TwilioEndpoints):
    """HTTP client for Twilio's Microvisor, API v2010 and IAM products; knows nothing about Pulumi.

    One instance may be shared by many threads. It holds credentials and live connections, so it
    refuses to be pickled or copied. ``close()`` (or a ``with`` block) closes every connection.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_max: float = RETRY_DELAY_CAP,
        retry_after_max: float = 30.0,
    ) -> None:
        self.settings = settings
        common: dict[str, Any] = {
            "redirect": 0,
            "raise_on_redirect": False,
            "raise_on_status": False,  # we map the final response ourselves
            "backoff_factor": settings.retry_base_delay,
            "backoff_cap": backoff_max,
            "retry_after_cap": retry_after_max,
            "budget_seconds": settings.retry_max_seconds,
        }
        n = settings.max_retries
        self._retry_policy = BudgetRetry(
            total=n,
            connect=n,
            read=n,
            status=n,
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST"}),
            respect_retry_after_header=True,
            **common,
        )
        # Only connect failures (urllib3: nothing was sent) and 429s (Twilio says it did not
        # process the request) are retried; a read error or any other status may mean Twilio
        # already created the resource.
        self._once_policy = _CreatePolicy(
            total=n,
            connect=n,
            read=0,
            status=n,
            other=0,
            status_forcelist=frozenset({429}),
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST"}),
            respect_retry_after_header=True,
            **common,
        )
        self._limiter = limiter_for(settings)
        # Queueing for a place is bounded too: a request that cannot start within this fails.
        self._queue_timeout = settings.retry_max_seconds + settings.read_timeout
        self._timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Per origin (scheme://host:port): the pool manager that reaches it, direct or through its
        # proxy, chosen on first use; and each product's base URL. Both fixed for the client's life.
        self._managers: dict[str, urllib3.PoolManager] = {}
        self._bases: dict[str, str] = {}
        # Per origin: the spellings of its proxy's credentials, blanked from errors like our own.
        self._proxy_secrets: dict[str, list[str]] = {}
        self._headers: dict[str, dict[str, str]] | None = None
        self._last_date: tuple[str, float] | None = None  # (Date header, its epoch seconds)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection; the client opens new ones if used again."""
        with self._lock:
            managers = list(self._managers.values())
        for manager in managers:
            manager.clear()

    def __enter__(self) -> TwilioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            "TwilioClient cannot be pickled or copied: it holds credentials and live connections. "
            "Keep it out of Pulumi state and build a new one from Settings where needed."
        )

    def __reduce__(self) -> NoReturn:
        self.__reduce_ex__(None)

    def __getstate__(self) -> NoReturn:
        self.__reduce_ex__(None)

    def __repr__(self) -> str:
        return f"TwilioClient({self.settings!r})"

    @property
    def account_sid(self) -> str:
        """The configured Account SID (needed in v2010 and IAM paths); raises MissingCredentials."""
        if not self.settings.account_sid:
            raise MissingCredentials(
                "No Twilio Account SID configured: set the Pulumi config key twilio:accountSid or the "
                "environment variable TWILIO_ACCOUNT_SID (required with API key credentials, "
                "twilio:apiKey/twilio:apiSecret or TWILIO_API_KEY/TWILIO_API_SECRET)."
            )
        return self.settings.account_sid

    def base_url(self, product: str) -> str:
        """Base URL of ``product`` after region/edge rewriting or the endpoint override."""
        found = self._bases.get(product)
        if found is None:
            found = self._bases[product] = base_url(product, self.settings)
        return found

    # -- connections -----------------------------------------------------------------------------

    def _manager(self, origin: str) -> urllib3.PoolManager:
        manager = self._managers.get(origin)
        if manager is not None:
            return manager
        failed = False
        with self._lock:
            manager = self._managers.get(origin)
            if manager is None:
                try:
                    manager = self._managers[origin] = self._new_manager(origin)
                except ValueError:  # urllib3's LocationParseError too
                    failed = True
        if failed or manager is None:
            # Raised here, not chained: urllib3's message quotes the whole proxy URL, password included.
            raise TwilioError(
                f"the proxy configured for {urlsplit(origin).netloc} is not a valid URL "
                "(check HTTPS_PROXY, HTTP_PROXY and ALL_PROXY, upper or lower case)"
            )
        return manager

    def _new_manager(self, origin: str) -> urllib3.PoolManager:
        # As many keep-alive connections as requests the limiter lets out at once; beyond that
        # (never, normally) a connection is opened for the request and closed after it.
        pool: dict[str, Any] = {"num_pools": 4, "maxsize": max(4, self.settings.max_concurrency)}
        if origin.startswith("https:"):
            pool.update(_ca_certs())
        proxy = _proxy_for(origin)
        if proxy is None:
            return self._bounded(urllib3.PoolManager(**pool))
        auth = urlsplit(proxy)
        if auth.scheme not in ("http", "https"):
            raise TwilioError(
                f"the proxy configured for {urlsplit(origin).netloc} is a {auth.scheme}:// proxy; only "
                "http:// and https:// proxies are supported (check HTTPS_PROXY, HTTP_PROXY, ALL_PROXY)"
            )
        headers = None
        if auth.username is not None:
            text = f"{unquote(auth.username)}:{unquote(auth.password or '')}"
            try:
                pair = text.encode("latin-1")  # as requests encodes Basic credentials
            except UnicodeEncodeError:
                pair = text.encode()
            headers = {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
            # A plain-http proxy answers for itself (a 407, a 502 page) and may echo what it got.
            password = unquote(auth.password or "")
            self._proxy_secrets[origin] = [password, *_auth_spellings((unquote(auth.username), password))]
        return self._bounded(urllib3.ProxyManager(proxy, proxy_headers=headers, **pool))

    @staticmethod
    def _bounded(manager: urllib3.PoolManager) -> urllib3.PoolManager:
        # Its pools' connections read each answer's head within the read timeout in all.
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def _base_headers(self) -> dict[str, dict[str, str]]:
        """The headers of each kind of request, built once (credentials included)."""
        if self._headers is None:
            user, password = self.settings.basic_auth()  # MissingCredentials before any traffic
            try:
                pair = f"{user}:{password}".encode("latin-1")  # as requests encodes Basic auth
            except UnicodeEncodeError:
                pair = f"{user}:{password}".encode()
            common = {
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "application/json",
                "Accept-Charset": "utf-8",
                "Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
            }
            # Twilio's SDK sends no Accept on DELETE.
            bare = {k: v for k, v in common.items() if k != "Accept"}
            form = {**common, "Content-Type": "application/x-www-form-urlencoded"}
            self._headers = {"": common, "DELETE": bare, "form": form}
        return self._headers

    # -- requests --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        product: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        retry: bool | None = None,
        secret: Sequence[str] = (),
    ) -> Record | None:
        """Call ``method`` on ``product``'s ``path`` (already percent-encoded, starting with ``/``).

        ``params`` go in the query, ``data`` as a form (PascalCase keys; bools as ``true``/``false``;
        None dropped). ``retry=None`` retries idempotent methods only, i.e. not POST. ``secret``
        names form fields holding secrets: an error never shows them, however short. Returns the
        parsed JSON object, or None for 204/empty. Raises a :class:`TwilioError` subclass.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        method = method.upper()
        if retry is None:
            retry = method in _IDEMPOTENT_METHODS
        base = self.base_url(product)
        return self._send(method, base, base + path, params, data, retry, secret)

    def iter_list(
        self,
        product: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[Record]:
        """Yield every record of a list endpoint, following next-page links until there are none.

        Understands the Microvisor/IAM shape (records under ``meta.key``, absolute
        ``meta.next_page_url``) and the v2010 shape (one list-valued key, relative
        ``next_page_uri``). Next-page links are re-based onto our base URL so an endpoint override
        or region keeps applying.
        """
        base = self.base_url(product)
        query: dict[str, Any] | None = dict(params or {})
        if page_size is not None:
            query = {**(query or {}), "PageSize": page_size}
        url = base + path
        seen = {url}
        while True:
            page = self._send("GET", base, url, query, None, True)
            if page is None:
                return
            records, next_ref = _page_parts(page, url)
            yield from records
            if not next_ref:
                return
            try:
                url = rebase(next_ref, base)
            except ValueError:  # urlsplit: "https://[host/..." and the like
                raise TwilioError("list page's next-page link is not a valid URL", path=_path(url)) from None
            query = None  # the next-page link carries the whole query, page token included
            if url in seen:
                raise TwilioError("list paging loops: the next page repeats an earlier one", path=_path(url))
            seen.add(url)

    def _send(
        self,
        method: str,
        base: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        retry: bool,
        secret: Sequence[str] = (),
    ) -> Record | None:
        headers = self._base_headers()  # MissingCredentials before any network traffic
        form = _encode_form(data)
        query = _encode_form(params)
        target = url
        if query:
            target += ("&" if "?" in url else "?") + urlencode(query)
        body: bytes | None = None
        if form:
            body = urlencode(form).encode("ascii")
            chosen = headers["form"]
        else:
            chosen = headers["DELETE" if method == "DELETE" else ""]
        policy = (self._retry_policy if retry else self._once_policy).started()
        manager = self._manager(base)
        response: Any = None
        failure: TwilioError | None = None
        # Every attempt holds a place in the account's limiter while it is out; BudgetRetry gives it
        # back for the sleep before a retry and queues for it again.
        slot = policy.slot = self._limiter.acquire(self._queue_timeout)
        policy.slot_timeout = self._queue_timeout
        policy.read_timeout = self.settings.read_timeout
        content = b""
        in_body = False  # whether a failure came while reading a body (the answer had begun)
        try:
            while True:
                response = manager.urlopen(
                    method,
                    target,
                    body=body,
                    headers=chosen,
                    retries=policy,
                    redirect=False,
                    timeout=self._timeout,
                    preload_content=False,  # read below, bounded in size and time
                )
                if response.status < 200:
                    # An informational answer (103 Early Hints) that http.client took for the final
                    # one: the real answer still follows on this connection and would be read as the
                    # answer to the next request sent on it. The connection goes, never reused.
                    # No final answer was read, so the outcome is as unknown as after a dropped
                    # connection (a create's recovery must look for what it may have made).
                    discard(response)
                    what = (
                        f"{urlsplit(url).netloc} sent an informational HTTP {response.status} where the "
                        "final answer was expected (connection dropped)"
                    )
                    if not retry:
                        what += "; not retried because Twilio may have received it: check before repeating it"
                    failure = NetworkError(what, method=method, path=_path(url))
                    break
                in_body = True
                try:
                    content = read_body(response, self.settings.read_timeout, self.settings.read_timeout)
                    break
                except BodyTooLarge:
                    discard(response)
                    failure = TwilioError(
                        f"HTTP {response.status}: response body larger than {MAX_BODY_BYTES} bytes "
                        "(decoded); refused",
                        status=response.status,
                        method=method,
                        path=_path(url),
                    )
                    break
                except (ReadTimeoutError, ProtocolError) as exc:
                    discard(response)
                    if not retry:
                        raise
                    # The body broke off: the same retry policy (counters, budget) decides again.
                    policy = policy.increment(method, target, error=exc)
                    policy.sleep()
                    in_body = False
                except BaseException:
                    discard(response)  # a body that cannot be decoded: the connection is unusable
                    raise
        except HTTPError as exc:
            failure = self._network_error(exc, method, _path(url), url, sent_once=not retry, in_body=in_body)
        finally:
            slot.release(getattr(response, "status", None), _load(response))
        if failure is not None:
            # Raised outside the except block so neither __cause__ nor __context__ holds the
            # urllib3 exception (its text and attributes carry URLs and the request).
            raise failure
        status = response.status
        response_headers = response.headers
        self._note_server_time(response_headers.get("Date"))
        if 200 <= status < 300:
            return _parse_success(status, content, method, url)
        auth = self.settings.basic_auth()
        # A proxy may echo the request's Authorization header: blank every spelling of it too.
        scrub = [
            *self.settings.secrets(),
            *_auth_spellings(auth),
            *self._proxy_secrets.get(base, ()),
            *(form or {}).values(),
        ]
        # Too short to blank out safely (a 3-character PIN would blank ordinary words): then none of
        # the server's text is shown at all.
        withhold = any(0 < len((form or {}).get(name, "")) < _MIN_SCRUB_LENGTH for name in secret)
        raise _error_from_response(
            status, response.reason, response_headers, content, method, _path(url), scrub, withhold
        )

    # -- Twilio's clock --------------------------------------------------------------------------

    def _note_server_time(self, date_header: str | None) -> None:
        # Per thread: a provider call runs in one thread, so it reads the clock of its own last
        # response and never another thread's.
        if not date_header:
            return
        # Dates have one-second resolution, so most responses repeat the last one: parse it once.
        last = self._last_date
        if last is not None and last[0] == date_header:
            when = last[1]
        else:
            try:
                parsed = email.utils.parsedate_to_datetime(date_header)
            except (TypeError, ValueError, IndexError, OverflowError):
                return
            if parsed.tzinfo is None:
                # asctime dates and "-0000" carry no zone, yet HTTP dates are always GMT: never local.
                parsed = parsed.replace(tzinfo=timezone.utc)
            when = parsed.timestamp()
            self._last_date = (date_header, when)
        self._local.server_time = (when, time.monotonic())

    def server_time(self) -> tuple[float, float] | None:
        """Twilio's clock as of this thread's last response: (epoch seconds from its ``Date`` header,
        ``time.monotonic()`` when that response arrived), or None if no response carried one.

        Twilio's ``date_*`` fields come from the same clock, so comparing them with this needs no
        trust in the local clock (only in local elapsed time, which ``monotonic`` measures).
        """
        found: tuple[float, float] | None = getattr(self._local, "server_time", None)
        return found

    def _network_error(
        self, exc: HTTPError, method: str, path: str, url: str, *, sent_once: bool, in_body: bool = False
    ) -> TwilioError:
        host = urlsplit(url).netloc
        retried = isinstance(exc, MaxRetryError) and self.settings.max_retries > 0
        inner: BaseException = exc
        if isinstance(exc, MaxRetryError) and exc.reason is not None:
            inner = exc.reason
        after_send = False
        cls: type[TwilioError] = NetworkError
        if isinstance(inner, ConnectTimeoutError) and not isinstance(inner, NewConnectionError):
            cls, what = Timeout, f"could not connect to {host} within {self.settings.connect_timeout:g} s"
        elif isinstance(inner, ReadTimeoutError) and in_body:
            cls, what = Timeout, f"response from {host} not complete within {self.settings.read_timeout:g} s"
            after_send = True
        elif isinstance(inner, ReadTimeoutError):
            cls, what = Timeout, f"no response from {host} within {self.settings.read_timeout:g} s"
            after_send = True
        elif isinstance(inner, ProxyError):
            what = f"could not reach {host} through the proxy ({type(inner.original_error).__name__})"
        elif isinstance(inner, NameResolutionError):
            what = f"could not resolve host {host}"
        elif isinstance(inner, NewConnectionError):
            cause = inner.__cause__ or inner.__context__
            detail = getattr(cause, "strerror", None) or type(cause or inner).__name__
            what = f"could not connect to {host} ({detail})"
        elif isinstance(inner, SSLError):
            what = f"TLS handshake with {host} failed"
        elif isinstance(inner, DecodeError):
            what = f"the response from {host} could not be decoded (corrupt or unsupported Content-Encoding)"
        elif isinstance(inner, ProtocolError):
            cause_name = next(
                (type(a).__name__ for a in inner.args if isinstance(a, BaseException)),
                type(inner).__name__,
            )
            what = f"connection to {host} dropped before a full response arrived ({cause_name})"
            after_send = True
        elif isinstance(exc, MaxRetryError):
            what = f"connection to {host} failed ({type(inner).__name__})"
        else:
            cls, what = TwilioError, f"request could not be made ({type(exc).__name__})"
        if retried and not (after_send and sent_once):
            what += "; retries exhausted"
        if after_send and sent_once:
            what += "; not retried because Twilio may have received it: check before repeating it"
        return cls(what, method=method, path=path)


def _path(url: str) -> str:
    """Path of a URL without host or query: what errors show (queries may carry tokens)."""
    return urlsplit(url).path or "/"


def _encode_form(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Twilio's form encoding: drop None, booleans as true/false, dicts and lists as JSON text."""
    if values is None:
        return None
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def _page_parts(page: Record, url: str) -> tuple[list[Record], str | None]:
    """Records and next-page link of one list page, in either of Twilio's two paging shapes."""
    meta = page.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("key"), str):
        # Microvisor / IAM: {"configs": [...], "meta": {"key": "configs", "next_page_url": abs-url}}
        records = page.get(meta["key"]) or []
        next_ref = meta.get("next_page_url")
    else:
        # API v2010: {"keys": [...], "next_page_uri": "/2010-04-01/...", "first_page_uri": ...}
        lists = [k for k, v in page.items() if isinstance(v, list) and not k.endswith(("_uri", "_url"))]
        if len(lists) != 1:
            raise TwilioError(
                f"cannot tell which field holds the records of this list page (list fields: {sorted(lists)})",
                path=_path(url),
            )
        records = page[lists[0]]
        next_ref = page.get("next_page_uri")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TwilioError("list page records are not JSON objects", path=_path(url))
    return records, next_ref if isinstance(next_ref, str) and next_ref else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown Status"


def _parse_success(status: int, content: bytes, method: str, url: str) -> Record | None:
    if status == 204 or not content.strip():
        return None
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: a few kB of "[[[[..." from a hostile server
        body = None
    if not isinstance(body, dict):
        raise TwilioError(
            f"HTTP {status} {_phrase(status)} but the body is not a JSON object",
            status=status,
            method=method,
            path=_path(url),
        )
    return body


def _auth_spellings(auth: tuple[str, str]) -> list[str]:
    """The forms the Basic credentials take on the wire: ``user:password`` and its base64."""
    pair = f"{auth[0]}:{auth[1]}"
    return [pair, base64.b64encode(pair.encode("utf-8")).decode("ascii")]


def _scrub(text: str, secrets: list[str]) -> str:
    # A server may echo the raw form body, so the percent-encoded spellings are blanked as well.
    variants = {
        v for s in secrets if len(s) >= _MIN_SCRUB_LENGTH for v in (s, quote(s, safe=""), quote_plus(s))
    }
    # Longest first, so a secret containing a shorter sent value is blanked whole.
    for secret in sorted(variants, key=len, reverse=True):
        text = text.replace(secret, "***")
    # Whatever credentials a proxy echoes (ours in another spelling, or anyone's): the value of an
    # Authorization header, and any Basic or Bearer credential.
    text = _AUTH_HEADER_RE.sub(r"\1***", text)
    text = _AUTH_SCHEME_RE.sub(r"\1 ***", text)
    text = " ".join(text.split())  # one line, whatever the server sent
    if len(text) > _MAX_MESSAGE_LENGTH:
        text = text[: _MAX_MESSAGE_LENGTH - 3] + "..."
    return text


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's Retry-After hint in seconds; None when absent or malformed (never an exception:
    this runs while an error is being built, and a server controls every byte of it)."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        if value.isdigit():  # also true for characters float() refuses, such as a latin-1 "²"
            return float(value)
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    except (ValueError, OverflowError):  # a year the calendar cannot hold, a digit float cannot read
        return None


def _error_from_response(
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    content: bytes,
    method: str,
    path: str,
    scrub: list[str],
    withhold: bool = False,
) -> TwilioError:
    """Map a non-2xx response to its error class, from Twilio's legacy or RFC 9457 error body.

    ``withhold``: show none of the server's text (it may echo a secret too short to scrub)."""
    cls = _STATUS_ERRORS.get(status) or (ServerError if 500 <= status < 600 else TwilioError)
    try:
        body = json.loads(content) if content.strip() else None
    except (ValueError, RecursionError):
        body = None
    message: str | None = None
    code: int | None = None
    more_info: str | None = None
    if isinstance(body, dict):
        raw_code = body.get("code")
        if isinstance(raw_code, int) and not isinstance(raw_code, bool):
            code = raw_code
        elif isinstance(raw_code, str) and raw_code.isascii() and raw_code.isdigit() and len(raw_code) <= 9:
            code = int(raw_code)  # not "²" (a digit to isdigit, not to int) nor 5000 digits (int refuses)
        texts = [
            t
            for t in (body.get("message"), body.get("title"), body.get("detail"))
            if isinstance(t, str) and t
        ]
        if texts:
            message = texts[0]
            extra = next((t for t in texts[1:] if t not in message), None)
            if extra:
                message = f"{message.rstrip('.')}: {extra}"
        link = body.get("more_info") or body.get("type")
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            more_info = _scrub(link, scrub)
    if message is not None and withhold:
        message = (
            f"HTTP {status} {_phrase(status)} (the server's text is not shown: it may echo the secret sent)"
        )
        more_info = f"https://www.twilio.com/docs/errors/{code}" if code else None
    elif message is not None:
        message = _scrub(message, scrub)
    else:
        kind = "non-JSON response" if content.strip() and body is None else "no error details"
        message = f"HTTP {status} {_phrase(status)} ({kind})"
    if 300 <= status < 400:
        message += " (redirects are not followed)"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "more_info": more_info,
        "method": method,
        "path": path,
    }
    if cls is RateLimited:
        kwargs["retry_after"] = _retry_after(headers)
    return cls(message, **kwargs)

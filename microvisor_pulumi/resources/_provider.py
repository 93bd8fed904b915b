"""The generic dynamic provider: credentials, client, check, diff and error handling for every kind.

A provider instance is pickled by reference into every resource's ``__provider`` (module and class
name only: ``__getstate__`` drops all runtime attributes), unpickled once per process by the provider
host, configured with the stack config and then shared by the host's worker threads. So the
client is built lazily under a lock, credentials are read at run time and never pickled, and nothing
per-call lives on the instance.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    DiffResult,
    ReadResult,
    ResourceProvider,
)
from pulumi.runtime import rpc

from microvisor_pulumi._twilio import (
    CONFIG_KEYS,
    AuthFailed,
    Forbidden,
    RateLimited,
    Settings,
    Timeout,
    TwilioError,
    backoff_delay,
)
from microvisor_pulumi.resources._host_threads import gated, widen_for
from microvisor_pulumi.resources._schema import Prop, Schema, failures, is_unknown, plain, secret, withhold

if TYPE_CHECKING:
    from microvisor_pulumi._twilio import TwilioClient

T = TypeVar("T")


# After a create timed out, wait this long at most for the request to land before looking for it.
_TIMEOUT_SETTLE_MAX = 10.0

# One lock for building clients: contention happens once per provider per process.
_CLIENT_LOCK = threading.Lock()


class MicrovisorPulumiError(Exception):
    """A resource operation failed; the message names the resource and carries Twilio's code."""


class AlreadyExists(MicrovisorPulumiError):
    """create found the key taken and overwrite was not set."""


_AUTH_HINT = (
    " Twilio rejected the credentials: check the stack config twilio:accountSid and "
    "twilio:authToken (or twilio:apiKey and twilio:apiSecret), or the TWILIO_ACCOUNT_SID, "
    "TWILIO_AUTH_TOKEN, TWILIO_API_KEY and TWILIO_API_SECRET environment variables."
)


class SchemaProvider(ResourceProvider):
    """check/diff from the kind's Schema; create/read/update/delete in the subclasses."""

    schema: ClassVar[Schema]
    # With these changed the replacement gets a new remote name, so it can be created before the
    # old one is deleted; with none of them changed the old one must go first (same key).
    new_name_props: ClassVar[tuple[str, ...]] = ()
    # Said after a 403: what the credentials would need for this kind.
    forbidden_hint: ClassVar[str] = (
        " The credentials are valid but not allowed to do this. Twilio documents no restricted-key "
        "permission for Microvisor, so a restricted API key is assumed unable to use it (an assumption, "
        "not documented behaviour); the Account SID and Auth Token, a Main or a Standard key may do it."
    )
    delete_first_on_replace: ClassVar[bool] = False
    # Outputs an update may change (Twilio's date of the change): unknown in a preview of one.
    update_changes: ClassVar[tuple[str, ...]] = ("date_updated",)
    # The Twilio product this kind lives in (its base URL is named in errors).
    product: ClassVar[str] = "microvisor"

    # Operations that talk to Twilio: each waits its turn when twilio:maxConcurrency is below what
    # the host serves at once (see _host_threads.operation).
    _GATED: ClassVar[tuple[str, ...]] = ("create", "read", "update", "delete")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._GATED:
            if name in cls.__dict__:
                setattr(cls, name, gated(cls.__dict__[name]))

    # -- pickling: the class reference only, never a client or a credential --------------------
    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        pass

    # -- configuration and client --------------------------------------------------------------
    def configure(self, req: ConfigureRequest) -> None:
        config = {}
        for key in CONFIG_KEYS:
            value = req.config.get(key)
            if value is not None:
                config[key] = str(value)
        self.use_config(config)
        widen_for(config)  # serve twilio:maxConcurrency calls at once, not the host's stock 4

    def use_config(self, config: Mapping[str, str]) -> None:
        """Take the settings (``twilio:*`` keys to strings) every later call reads; the provider plugin
        calls this directly, with its own namespace already translated."""
        self._stack_config = dict(config)

    def client(self) -> TwilioClient:
        client = getattr(self, "_twilio", None)
        if client is None:
            with _CLIENT_LOCK:
                client = getattr(self, "_twilio", None)
                if client is None:
                    # Imported here: urllib3 is not needed by check and diff (see _twilio/__init__).
                    from microvisor_pulumi._twilio import TwilioClient

                    settings = Settings.resolve(getattr(self, "_stack_config", {}), os.environ)
                    client = TwilioClient(settings)
                    self._twilio = client
        return client

    # -- check and diff: offline, from the schema ----------------------------------------------
    def normalize(self, prop: Prop, value: Any) -> Any:
        """Hook: the stored form of an input (bytes become base64 text, for instance)."""
        return value

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs: dict[str, Any] = {}
        for prop in self.schema.props:
            value = plain(news.get(prop.name))
            if value is None:
                continue
            if not is_unknown(value):
                value = self.normalize(prop, value)
                if prop.secret:
                    value = secret(value)
            inputs[prop.name] = value
        problems = failures(self.schema, inputs, olds)
        # Secret by kind, or made secret by the program (a face that accepts secrets hands the mark
        # over): its rule is told without quoting it.
        hidden = {p.name for p in self.schema.props if p.secret or rpc.is_rpc_secret(news.get(p.name))}
        return CheckResult(
            inputs,
            [
                CheckFailure(name, withhold(reason, inputs.get(name)) if name in hidden else reason)
                for name, reason in problems
            ],
        )

    def same(self, prop: Prop, old: Any, new: Any, olds: Mapping[str, Any]) -> bool:
        """Hook: whether an input's new value means the same as the old output."""
        return bool(old == new)

    def changed_props(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        changed = []
        for prop in self.schema.props:
            new = plain(news.get(prop.name))
            old = plain(olds.get(prop.name))
            if is_unknown(new):
                changed.append(prop.name)
            elif new is None and not prop.required:
                # An optional input left out: defaults and computed values are no change.
                continue
            elif not self.same(prop, old, new, olds):
                changed.append(prop.name)
        return changed

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.detailed_diff(_id, olds, news)[0]

    def detailed_diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> tuple[DiffResult, list[str]]:
        """The diff and the inputs that changed, so a face can name each one (``pulumi preview
        --diff``); computed once, as `same` may ask Twilio about a device."""
        changed = self.changed_props(olds, news)
        by_name = {p.name: p for p in self.schema.props}
        replaces = [name for name in changed if by_name[name].replaces]
        delete_first = None
        if changed:
            # Said for an in-place change too: the engine replaces the resource anyway when the
            # program asks (`replace_on_changes`) and then goes by this answer; created first, that
            # replacement would land on the very key it replaces.
            delete_first = self.delete_first_on_replace and not any(n in changed for n in self.new_name_props)
        result = DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[],
            delete_before_replace=delete_first,
        )
        return result, changed

    def preview_create(self, news: Mapping[str, Any]) -> dict[str, Any]:
        """What `create` will return, as far as it is known with no call (a preview): the inputs, but
        unknown where create returns another value for an input than the one given (a preview that
        states a value `up` then contradicts breaks `pulumi up --plan`, and shows dependents wrong).
        The outputs create adds are left out, which the engine takes as unknown."""
        outs = dict(news)
        for name in self.create_resolves(news):
            outs[name] = rpc.UNKNOWN
        return outs

    def create_resolves(self, news: Mapping[str, Any]) -> list[str]:
        """Hook: the inputs whose output create resolves to another form (a device's name to its SID)."""
        return []

    def preview_update(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """What `update` will return, as far as it is known with no call to Twilio (a preview).

        The state's outputs stay (an API key's `sid` and `secret`, an item's `url`): answering only
        the inputs would make them unknown, and every resource built from them would show a change,
        a replacement even, that `pulumi up` then does not make. Inputs an update sets take their new
        value; an input that replaces never reaches an update, so its output stays as it is; the
        outputs an update changes (`update_changes`) are unknown.
        """
        names = set(self.schema.output_names())
        outs = {name: value for name, value in olds.items() if name in names and value is not None}
        for prop in self.schema.props:
            if prop.replaces:
                continue
            if news.get(prop.name) is not None:
                outs[prop.name] = news[prop.name]
            elif not prop.computed and plain(outs.get(prop.name)):
                del outs[prop.name]  # left out, it is cleared by the update: unknown until then
        for name in self.update_changes:
            if name in names:
                outs[name] = rpc.UNKNOWN
        return outs

    def import_read(self, id_: str) -> tuple[ReadResult, list[str]]:
        """Read for `pulumi import` (only the id is known): the result, whose inputs must pass
        `check`, and warnings for the user.

        A write-only input cannot be read back, so it is left out rather than guessed: `check` then
        reports it missing, and the warning says what to set and what the first `up` will do. A kind
        that cannot be imported honestly raises instead (see ApiKeyProvider).
        """
        result = self.read(id_, {})
        if not result.id:
            return result, []
        outs = dict(result.outs or {})
        inputs = dict(result.inputs or {})
        warnings = []
        for prop in self.schema.props:
            if prop.write_only:
                outs.pop(prop.name, None)
                inputs.pop(prop.name, None)
                then = "replaces it with" if prop.replaces else "sets"
                warnings.append(
                    f"{self.describe(id_)}: imported without '{prop.name}': Twilio never returns it, so "
                    f"it cannot be read back. Set '{prop.name}' in the program; the first `pulumi up` "
                    f"then {then} the declared value."
                )
        return ReadResult(result.id, outs, inputs), warnings

    # -- shared helpers for create/read/update/delete ------------------------------------------
    def describe(self, ident: str) -> str:
        return f"{self.schema.kind} '{ident}'"

    def fail(self, ident: str, err: TwilioError, action: str) -> NoReturn:
        """Re-raise a Twilio error as one clean line; `from None` keeps request details out of tracebacks."""
        hint = ""
        if isinstance(err, AuthFailed):
            hint = _AUTH_HINT
        elif isinstance(err, Forbidden):
            hint = self.forbidden_hint
        raise MicrovisorPulumiError(f"{self.describe(ident)}: {action} failed: {err}{hint}") from None

    def create_resilient(self, make: Callable[[], T], find_ours: Callable[[float], T | None]) -> T:
        """Run a create POST, which the HTTP layer resends only after a 429, and recover from
        ambiguous failures.

        A 429 is not ambiguous: Twilio did not process the request, so it is sent again after the
        back-off, with no look and no clean-up (here too, once the HTTP layer's own resends of it
        are spent). After a 5xx, a timeout or a dropped connection the
        object may or may not exist: before trying again ask `find_ours` (given ``time.monotonic()``
        when the first attempt started) whether one of our attempts took effect. It must answer only
        for what provably came from these attempts, never for a look-alike. After a timeout the
        request may still be on its way: wait as long again (up to a cap) before looking, or the late
        original lands after the retry and becomes a duplicate. When the retries run out after an
        ambiguous failure, look one last time, so the last attempt leaves no orphan either.
        """
        started = time.monotonic()
        unsettled = False  # an attempt may have taken effect and nobody has looked since
        try:
            return make()
        except TwilioError as err:
            if not err.retryable:
                raise
            last = err
        settings = self.client().settings
        deadline = time.monotonic() + settings.retry_max_seconds
        for attempt in range(1, max(settings.max_retries, 1) + 1):
            unsettled = unsettled or not isinstance(last, RateLimited)
            pause = getattr(last, "retry_after", None)
            if pause is None:
                pause = backoff_delay(attempt, settings.retry_base_delay)
            if isinstance(last, Timeout):
                pause = max(pause, min(settings.read_timeout, _TIMEOUT_SETTLE_MAX))
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            try:
                if unsettled:
                    found = find_ours(started)
                    unsettled = False
                    if found is not None:
                        return found
                return make()
            except TwilioError as err:
                if not err.retryable:
                    raise
                last = err
        unsettled = unsettled or not isinstance(last, RateLimited)
        if unsettled:
            # The last attempt may have taken effect (a 429 never does): adopt it or clean it up.
            if isinstance(last, Timeout):
                time.sleep(min(settings.read_timeout, _TIMEOUT_SETTLE_MAX))
            try:
                found = find_ours(started)
            except TwilioError:
                found = None
            if found is not None:
                return found
        raise last

    def confirm_gone(self, ident: str, action: str, probes: Sequence[tuple[str, Callable[[], None]]]) -> None:
        """Return only if Twilio said the item is gone; else raise, and the caller changes nothing.

        A 404 for an item counts as "gone" only when the same credentials and endpoint still get an
        answer from what holds it (a wrong `twilio:endpoint`, a proxy, credentials of another account
        or a retired product may answer 404 for every path). `probes` are (path, call) pairs for the
        collection that holds the item and, for a device's item, the device itself; the first that
        answers proves the item is really gone. Nothing else counts: an answer from a collection that
        does not hold the item proves nothing about it. An answer is kept for the life of the process
        and shared by every thread and kind (a refresh of a thousand items asks once); a 404 is not
        kept, so one stray answer cannot block every later refresh.
        """
        from microvisor_pulumi._twilio import NotFound

        client = self.client()
        for path, probe in probes:

            def ask(probe: Callable[[], None] = probe) -> bool:
                try:
                    probe()
                    return True
                except NotFound:
                    return False
                except TwilioError as err:
                    self.fail(ident, err, f"{action} (confirming that the item is gone)")

            if PROBES.get((client.base_url(self.product), path), ask, keep=bool):
                return
        where = " and ".join(path for path, _ in probes)
        raise MicrovisorPulumiError(
            f"{self.describe(ident)}: {action} stopped: {client.base_url(self.product)} answered 404 Not "
            f"Found for the item and also for {where}, which answer even when empty. Twilio does not "
            "answer that way for an item that is merely gone, so the endpoint or the credentials look "
            "wrong: check twilio:endpoint (TWILIO_ENDPOINT), twilio:region, twilio:edge and the account. "
            "Nothing was changed in the Pulumi state. If the device or account itself was removed, take "
            "the resource out of the stack with `pulumi state delete <urn>`."
        )


class OnceCache:
    """Per-key answers from Twilio, asked at most once at a time per process.

    Callers of the same key while its answer is being fetched wait for that fetch instead of asking
    again (`pulumi refresh` reads resources in parallel). `keep` decides which answers are kept: an
    error is never kept, so the next caller asks again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Any, Any] = {}
        self._inflight: dict[Any, threading.Lock] = {}

    def get(self, key: Any, fetch: Callable[[], T], keep: Callable[[T], bool] = lambda _: True) -> T:
        with self._lock:
            if key in self._values:
                return self._values[key]
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = fetch()
            if keep(value):
                self.put(key, value)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._values[key] = value


# Which collections answered (see confirm_gone), by (base URL, path); shared by every kind.
PROBES = OnceCache()

"""The gRPC face of the provider classes: Pulumi's provider protocol in, provider methods out.

Everything here is translation, never a rule: type tokens to provider classes, the package's config
namespace (``microvisor:*``) to the settings the classes read (``twilio:*``), protobuf Structs to
dicts and back with secrets kept marked, and the protocol's shapes (preview, import, detailed diffs).
What is valid, what replaces, what is secret and how Twilio is called live in the provider classes,
which the dynamic resources run too.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, plugin_pb2, provider_pb2, provider_pb2_grpc

from microvisor_pulumi._twilio import CONFIG_KEYS, Settings
from microvisor_pulumi._version import __version__
from microvisor_pulumi.plugin import PACKAGE
from microvisor_pulumi.plugin.schema import schema_text
from microvisor_pulumi.plugin.tokens import CONFIG_VARIABLES, PROVIDERS
from microvisor_pulumi.resources._host_threads import limit_operations
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources.microvisor import share_holders

R = TypeVar("R")

_TWILIO = "twilio:"
#: The settings this package reads, by their bare name (``accountSid``): the provider classes' keys.
SETTINGS: tuple[str, ...] = tuple(CONFIG_VARIABLES)
#: Keys of the namespace that are not settings of the plugin but have a meaning elsewhere:
#: ``plugin`` chooses this plugin for a Python program (see resources/_resource.py); the engine
#: adds ``version`` and ``pluginDownloadURL`` to an explicit provider's inputs.
OTHER_KEYS = frozenset({"plugin", "version", "pluginDownloadURL"})
# Calls the pool serves beyond twilio:maxConcurrency: Check, Diff, Cancel and the like must not wait
# behind a full house of creates that are themselves waiting for a free HTTP slot.
_SPARE_WORKERS = 4
# The engine runs up to 4 x CPUs steps at once by default (`pulumi up --parallel`, whatever
# maxConcurrency says), and each one beyond the HTTP slots waits in the limiter holding a thread:
# the pool is wider than that, or the engine's next Check (its step generation) and Cancel queue
# behind them. ThreadPoolExecutor starts threads only as calls arrive, so the width costs nothing idle.
_ENGINE_STEPS = max(64, 8 * (os.cpu_count() or 1))

P = provider_pb2
# As the SDK's own servers: a big stack's state (a Read of many properties) exceeds gRPC's 4 MiB.
_GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]
_KIND = P.PropertyDiff.Kind


# -- values on the wire ------------------------------------------------------------------------------
# The same representation pulumi.runtime.rpc uses (a secret is {sig: secret-sig, "value": v}, an unknown
# is rpc.UNKNOWN), without its asyncio round trip per call: every byte of CPU here is per operation.


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        return value.number_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [_from_value(v) for v in value.list_value.values]
    return None


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A request's properties as the provider classes take them: a secret is a whole property.

    An engine that was told acceptSecrets sends a secret nested in a property (one permission of a
    policy made secret) marked where it sits; the provider classes look for the mark on properties
    only, as the dynamic host hands them values. So the property is handed over plain inside and
    secret as a whole, as the engine itself marks an output array with a secret in it.
    """
    return {key: _whole(_from_value(value)) for key, value in struct.fields.items()}


def _whole(value: Any) -> Any:
    if isinstance(_plain(value), (dict, list)) and _holds_secret(value):
        return rpc.wrap_rpc_secret(_deep_plain(value))
    return value


def _holds_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _deep_plain(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dict):
        return {k: _deep_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_plain(v) for v in value]
    return value


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, Mapping):
        fill_struct(target.struct_value, value)
    elif isinstance(value, (list, tuple)):
        items = target.list_value
        items.SetInParent()
        for item in value:
            _set_value(items.values.add(), item)
    else:
        target.string_value = str(value)


def fill_struct(struct: struct_pb2.Struct, props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct.SetInParent()  # an empty nested struct is still a struct, not a null
    for key, value in props.items():
        # As the SDK's serializer: a property that is None is left out, not sent as a null.
        if value is not None:
            _set_value(struct.fields[key], value)
    return struct


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return fill_struct(struct_pb2.Struct(), props)


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


def keep_secrets(outs: Mapping[str, Any], *sources: Mapping[str, Any]) -> dict[str, Any]:
    """`outs` with every property that was secret in one of `sources` still secret.

    The engine marks outputs secret for a provider that does not accept secrets; this one does (so
    that it can tell secret config apart), which makes keeping the marks its job on the wire.
    """
    kept = dict(outs)
    for source in sources:
        for name, value in source.items():
            mine = kept.get(name)
            if mine is not None and rpc.is_rpc_secret(value) and not rpc.is_rpc_secret(mine):
                kept[name] = rpc.wrap_rpc_secret(mine)
    return kept


def type_of(urn: str) -> str:
    """The type token of a URN (``urn:pulumi:stack::project::parent$type::name``)."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def declared_by(urn: str) -> dict[str, str] | None:
    """The resource a URN names, in the shape a Python program sends as ``declared_by`` (see
    resources/microvisor.py, `_declaration`): its kind, its name and its parent's type. The engine
    gives a plugin the URN that a dynamic provider never sees, so the one-owner rule can name both
    resources whatever the program's language."""
    parts = urn.split("::")
    if len(parts) < 4:
        return None
    chain = parts[2].split("$")
    declared = {"type": chain[-1].rpartition(":")[2], "name": "::".join(parts[3:])}
    if len(chain) > 1:
        declared["parent_type"] = chain[-2]
        # The whole chain: children alike in kind, name and parent type under parents of different
        # types are two resources (their URNs differ only there).
        declared["parent_chain"] = "$".join(chain[:-1])
    return declared


# -- the config namespace ----------------------------------------------------------------------------


def ours(text: str) -> str:
    """A message of the provider classes with their setting names in this package's namespace."""
    for key in CONFIG_KEYS:
        text = text.replace(key, f"{PACKAGE}:{key.removeprefix(_TWILIO)}")
    return text


def _setting_text(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bare(key: str) -> str:
    """A setting's name from any form the engine uses: ``accountSid`` (a provider's inputs),
    ``microvisor:config:accountSid`` (Configure's `variables`) or ``microvisor:accountSid``."""
    return key.removeprefix(f"{PACKAGE}:").removeprefix("config:")


def provider_config(values: Mapping[str, Any]) -> dict[str, str]:
    """``{accountSid: ..., microvisor:endpoint: ...}`` as the provider classes read it (``twilio:*``);
    unknown values (a preview of a provider whose config is not known yet) are left out."""
    config = {}
    for key, value in values.items():
        name = bare(key)
        if name in SETTINGS and value is not None and not _is_unknown(value):
            config[_TWILIO + name] = _setting_text(value)
    return config


def _is_unknown(value: Any) -> bool:
    return _plain(value) == rpc.UNKNOWN


def config_failures(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, reason) for every setting that is not one, or whose value breaks its rule."""
    found = []
    for key, value in values.items():
        name = bare(key)
        if name in OTHER_KEYS or name.startswith("__"):
            continue
        if name not in SETTINGS:
            found.append(
                (
                    name,
                    f"{PACKAGE}:{name} is not a setting of this provider; its settings are "
                    + ", ".join(f"{PACKAGE}:{s}" for s in SETTINGS),
                )
            )
            continue
        try:
            Settings.resolve(provider_config({name: value}), {})
        except ValueError as err:
            found.append((name, ours(str(err))))
    return found


# -- the thread pool ---------------------------------------------------------------------------------


class GrowingExecutor(futures.Executor):
    """The gRPC server's executor, which Configure can widen to twilio:maxConcurrency.

    The server takes its executor before the config is known; this one hands work to a
    ThreadPoolExecutor it replaces with a larger one when asked (the old one finishes what it has).
    Only public ThreadPoolExecutor API is used.
    """

    def __init__(self, workers: int) -> None:
        self._lock = threading.Lock()
        self.workers = workers
        self._pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="microvisor")

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> futures.Future[R]:
        # Under the lock: a pool being replaced is shut down, and would refuse the work.
        with self._lock:
            return self._pool.submit(fn, *args, **kwargs)

    def grow(self, workers: int) -> None:
        with self._lock:
            if workers <= self.workers:
                return
            old = self._pool
            self._pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="microvisor")
            self.workers = workers
        old.shutdown(wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def max_concurrency(config: Mapping[str, str], environ: Mapping[str, str]) -> int | None:
    try:
        return Settings.resolve(config, environ).max_concurrency
    except ValueError:
        return None  # reported, naming the key, by the first call that needs the settings


def pool_size(config: Mapping[str, str], environ: Mapping[str, str]) -> int | None:
    operations = max_concurrency(config, environ)
    return None if operations is None else operations + _ENGINE_STEPS + _SPARE_WORKERS


# -- the servicer -----------------------------------------------------------------------------------


def _rpc(fn: Callable[..., R]) -> Callable[..., R]:
    """A provider error becomes the call's error, in one line with this package's setting names."""

    @functools.wraps(fn)
    def wrapper(self: MicrovisorProvider, request: Any, context: grpc.ServicerContext) -> R:
        try:
            return fn(self, request, context)
        except UnknownType as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except Exception as err:  # noqa: BLE001 - every failure must reach the engine as a message
            if type(err).__module__.startswith("microvisor_pulumi") or isinstance(err, ValueError):
                message = ours(str(err))
            else:
                # Not ours: keep the trace on stderr (the engine's log) for a bug report.
                traceback.print_exc(file=sys.stderr)
                message = f"{type(err).__name__}: {ours(str(err))}"
            context.abort(grpc.StatusCode.UNKNOWN, message)
        raise AssertionError("unreachable: abort raises")

    return wrapper


class UnknownType(Exception):
    """A resource type this package does not have."""


class MicrovisorProvider(provider_pb2_grpc.ResourceProviderServicer):
    """Pulumi's ResourceProvider service over the provider classes named in ``schema.PROVIDERS``."""

    def __init__(
        self,
        executor: GrowingExecutor | None = None,
        log: Callable[[int, str, str], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._executor = executor
        self._log = log or (lambda _severity, _message, _urn: None)
        self._environ = os.environ if environ is None else environ
        # One instance per kind for the life of the process: the engine starts one plugin process per
        # provider configuration, and each instance keeps its own client and connection pool.
        self._providers: dict[str, SchemaProvider] = {token: cls() for token, cls in PROVIDERS.items()}

    def provider(self, request: Any) -> SchemaProvider:
        token = getattr(request, "type", "") or type_of(request.urn)
        found = self._providers.get(token)
        if found is None:
            raise UnknownType(
                f"{token!r} is not a resource type of the {PACKAGE} package; its types are "
                + ", ".join(sorted(self._providers))
            )
        return found

    # -- the plugin and its configuration -------------------------------------------------------------
    def GetPluginInfo(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> Any:
        return plugin_pb2.PluginInfo(version=__version__)

    @_rpc
    def GetSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return P.GetSchemaResponse(schema=schema_text())

    @_rpc
    def CheckConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        news = from_struct(request.news)
        failures = [P.CheckFailure(property=k, reason=r) for k, r in config_failures(news)]
        return P.CheckResponse(inputs=request.news, failures=failures)

    @_rpc
    def DiffConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        # New credentials, endpoint or tuning reach the same remote objects: the provider is
        # reconfigured and no resource is replaced, so nothing here ever answers a replacement.
        olds, news = from_struct(request.olds), from_struct(request.news)
        changed = sorted(
            name
            for name in set(olds) | set(news)
            if bare(name) in SETTINGS and _plain(olds.get(name)) != _plain(news.get(name))
        )
        return P.DiffResponse(
            changes=P.DiffResponse.DIFF_SOME if changed else P.DiffResponse.DIFF_NONE,
            diffs=changed,
            detailedDiff={name: P.PropertyDiff(kind=_KIND.UPDATE, inputDiff=True) for name in changed},
            hasDetailedDiff=True,
        )

    @_rpc
    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        # `variables` ("microvisor:config:accountSid" -> text) is what every engine sends; `args`
        # (the provider's inputs, secrets marked) wins where both have a key.
        values: dict[str, Any] = dict(request.variables)
        values.update(from_struct(request.args))
        config = provider_config(values)
        for provider in self._providers.values():
            provider.use_config(config)
        operations = max_concurrency(config, self._environ)
        if operations is not None:
            # twilio:maxConcurrency operations at once (1 means one at a time, as in the dynamic host),
            # on a pool with spare threads so that Check and Diff never wait behind them.
            limit_operations(operations)
            size = pool_size(config, self._environ)
            if self._executor is not None and size is not None:
                self._executor.grow(size)
        return P.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=False)

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> Any:
        # Every call is bounded by the HTTP layer's timeouts and retry budget: nothing to interrupt.
        return empty_pb2.Empty()

    # -- resources ------------------------------------------------------------------------------------
    @_rpc
    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        provider = self.provider(request)
        news = from_struct(request.news)
        if "declared_by" not in news:  # a Python program on the plugin sends its own
            news["declared_by"] = declared_by(request.urn)
        result = provider.check(from_struct(request.olds), news)
        failures = [P.CheckFailure(property=f.property, reason=ours(f.reason)) for f in result.failures or []]
        return P.CheckResponse(inputs=to_struct(keep_secrets(result.inputs or {}, news)), failures=failures)

    @_rpc
    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:
        provider = self.provider(request)
        olds, news = from_struct(request.olds), from_struct(request.news)
        result, changed = provider.detailed_diff(request.id, olds, news)
        replaces = list(result.replaces or [])
        detailed = {}
        for name in changed:
            old, new = _plain(olds.get(name)), _plain(news.get(name))
            if old is None:
                kind = _KIND.ADD_REPLACE if name in replaces else _KIND.ADD
            elif new is None:
                kind = _KIND.DELETE_REPLACE if name in replaces else _KIND.DELETE
            else:
                kind = _KIND.UPDATE_REPLACE if name in replaces else _KIND.UPDATE
            detailed[name] = P.PropertyDiff(kind=kind, inputDiff=True)
        response = P.DiffResponse(
            changes=P.DiffResponse.DIFF_SOME if result.changes else P.DiffResponse.DIFF_NONE,
            replaces=replaces,
            diffs=changed,
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )
        if result.delete_before_replace is not None:
            response.deleteBeforeReplace = result.delete_before_replace
        return response

    @_rpc
    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        provider = self.provider(request)
        news = from_struct(request.properties)
        if request.preview:
            # No call: see SchemaProvider.preview_create.
            return P.CreateResponse(properties=to_struct(keep_secrets(provider.preview_create(news), news)))
        result = provider.create(news)
        outs = keep_secrets(result.outs or {}, news)
        return P.CreateResponse(id=str(result.id), properties=to_struct(outs))

    @_rpc
    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:
        provider = self.provider(request)
        props, inputs = from_struct(request.properties), from_struct(request.inputs)
        if not props and not inputs:
            # Only the id: `pulumi import` (pkg/resource/deploy/step.go, ImportStep), or a `get`.
            result, warnings = provider.import_read(request.id)
            # An import sends no inputs at all; a `get` (ReadStep) sends its (empty) state as inputs,
            # on every run, and is never followed by the `up` the warnings speak of.
            importing = not request.HasField("inputs")
            for warning in warnings if importing else ():
                self._log(engine_pb2.WARNING, warning, request.urn)
        else:
            result = provider.read(request.id, props or inputs)
        if not result.id:
            return P.ReadResponse()  # gone
        response = P.ReadResponse(
            id=str(result.id), properties=to_struct(keep_secrets(result.outs or {}, props))
        )
        if result.inputs is not None:
            response.inputs.CopyFrom(to_struct(keep_secrets(result.inputs, inputs, props)))
        return response

    @_rpc
    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:
        provider = self.provider(request)
        olds, news = from_struct(request.olds), from_struct(request.news)
        if request.preview:
            # Not the engine's stand-in (the new inputs alone): see SchemaProvider.preview_update.
            outs = provider.preview_update(olds, news)
            return P.UpdateResponse(properties=to_struct(keep_secrets(outs, news, olds)))
        result = provider.update(request.id, olds, news)
        return P.UpdateResponse(properties=to_struct(keep_secrets(result.outs or {}, news)))

    @_rpc
    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.provider(request).delete(request.id, from_struct(request.properties))
        return empty_pb2.Empty()


# -- the engine's side channel -------------------------------------------------------------------------


class EngineLog:
    """Messages for the user through the engine's Log service (shown by `pulumi up` and `import`)."""

    def __init__(self, address: str | None) -> None:
        self._stub = None
        if address:
            self._channel = grpc.insecure_channel(address)
            self._stub = engine_pb2_grpc.EngineStub(self._channel)

    def __call__(self, severity: int, message: str, urn: str) -> None:
        if self._stub is None:
            print(message, file=sys.stderr)
            return
        try:
            request = engine_pb2.LogRequest(severity=severity, message=message, urn=urn)  # type: ignore[arg-type]
            self._stub.Log(request, timeout=10)
        except grpc.RpcError:
            print(message, file=sys.stderr)  # the engine's log still gets it


def holders_directory(engine_address: str) -> Path:
    """Where the plugin processes of one deployment record which resource holds each item
    (resources/microvisor.py, _Holders): the engine starts one process per provider and hands each
    its own address, which, with the engine's process id, names this deployment and no other."""
    deployment = hashlib.sha256(f"{os.getppid()} {engine_address}".encode()).hexdigest()[:32]
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container): the directory is 0700 anyway
        user = "anyone"
    return Path(tempfile.gettempdir()) / f"microvisor-pulumi-holders-{user}" / deployment


def serve(engine_address: str | None, environ: Mapping[str, str] | None = None) -> tuple[grpc.Server, int]:
    """Start the server on a free loopback port; (server, port)."""
    environ = os.environ if environ is None else environ
    if engine_address:
        share_holders(holders_directory(engine_address))
    executor = GrowingExecutor(pool_size({}, environ) or _SPARE_WORKERS)
    servicer = MicrovisorProvider(executor, EngineLog(engine_address), environ)
    server = grpc.server(executor, options=_GRPC_OPTIONS)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port

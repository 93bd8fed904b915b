"""Let the dynamic provider host serve more than four operations at once.

Why: the Pulumi engine sends up to ``--parallel`` operations at once, but the Python dynamic provider
host serves them on a fixed pool of four threads. Upstream, ``pulumi/dynamic/__main__.py``, ``main()``
(pulumi 3.216 to 3.272 at least)::

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=_GRPC_CHANNEL_OPTIONS,
    )

That executor is a local of ``main()`` and nothing can be passed in. Every call to Twilio waits
100-300 ms on the network, so four threads cap a deployment at about four operations in flight.
(gRPC itself adds no limit: the server is built without ``maximum_concurrent_rpcs``.)

How: provider code runs in one of that executor's worker threads. CPython's ThreadPoolExecutor
(read in 3.10 and 3.11; the shape dates from 3.8) starts each worker as
``threading.Thread(target=_worker, args=(weakref.ref(executor, ...), work_queue, ...))``, so the
running thread's ``_args[0]()`` is the executor. Raising its ``_max_workers`` makes
``_adjust_thread_count`` start more workers on the next submissions (the pool grows lazily, up to
the new maximum, as the queue fills).

Guarded: it only acts in the real host process (``python -m pulumi.dynamic``), from one of that
executor's own threads, and only when every attribute looks as expected; otherwise it does nothing
and the host keeps its stock four threads. ``tests/test_host_concurrency.py`` drives the real host
and fails when fewer than 32 operations are in flight, so a pulumi upgrade that breaks this shows up
in CI instead of as a silent slowdown.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from microvisor_pulumi._twilio.settings import Settings

#: The SDK's own pool size (``ThreadPoolExecutor(max_workers=4)`` in pulumi/dynamic/__main__.py).
STOCK_WORKERS = 4
HOST_MAIN = "pulumi.dynamic.__main__"

_LOCK = threading.Lock()

# Fewer operations than the stock pool serves: the pool cannot shrink (its threads are already
# there, and the limiter only orders requests, letting another operation in while one waits out a
# Retry-After), so operations queue on this gate instead. Set once, by the first configure in the
# host: every provider of one host has the same stack config.
_GATE: threading.Semaphore | None = None
_GATE_SET = False
_HELD = threading.local()

F = TypeVar("F", bound=Callable[..., Any])


def host_executor() -> ThreadPoolExecutor | None:
    """The provider host's gRPC executor if the calling thread is one of its workers, else None."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if getattr(spec, "name", None) != HOST_MAIN:
        return None  # a user's program, a test process, set_mocks: not the provider host
    thread = threading.current_thread()
    args = getattr(thread, "_args", None)
    if not isinstance(args, tuple) or not args or not isinstance(args[0], weakref.ref):
        return None
    executor = args[0]()
    if not isinstance(executor, ThreadPoolExecutor):
        return None
    # (Not `thread in executor._threads`: a new worker may run its first call before it is added.)
    if not isinstance(getattr(executor, "_max_workers", None), int):
        return None
    if not callable(getattr(executor, "_adjust_thread_count", None)):
        return None
    return executor


def widen(workers: int) -> int | None:
    """Let the host run up to ``workers`` calls at once (never fewer than stock); the new size or None.

    Never raises: anything unexpected leaves the host as it was.
    """
    try:
        executor = host_executor()
        if executor is None:
            return None
        with _LOCK:
            size = max(STOCK_WORKERS, workers, executor._max_workers)
            executor._max_workers = size
            _limit_operations(workers)
        return size
    except Exception:  # noqa: BLE001 - an SDK change must cost speed, never a deployment
        return None


def widen_for(config: Mapping[str, str]) -> int | None:
    """``widen`` to the ``twilio:maxConcurrency`` of this stack config (or the environment)."""
    try:
        workers = Settings.resolve(config, os.environ).max_concurrency
    except ValueError:
        return None  # a bad value is reported, naming the key, when the client is built
    return widen(workers)


def limit_operations(workers: int) -> None:
    """Serve at most ``workers`` provider operations at once in this process, whatever its pool: the
    provider plugin's pool keeps spare threads for Check and Diff beyond twilio:maxConcurrency, so its
    operations always queue on the gate. Set by its Configure; a later call replaces the gate."""
    global _GATE, _GATE_SET
    with _LOCK:
        _GATE_SET = True
        _GATE = threading.Semaphore(max(1, workers))


def _limit_operations(workers: int) -> None:
    global _GATE, _GATE_SET
    if _GATE_SET:
        return
    _GATE_SET = True
    if workers < STOCK_WORKERS:
        _GATE = threading.Semaphore(workers)


@contextlib.contextmanager
def operation() -> Iterator[None]:
    """One provider operation: waits while ``twilio:maxConcurrency`` others (fewer than the host's
    pool) are being served. Re-entrant per thread, so an operation calling another never deadlocks."""
    gate = _GATE
    depth = getattr(_HELD, "depth", 0)
    if gate is None or depth:
        _HELD.depth = depth + 1
        try:
            yield
        finally:
            _HELD.depth = depth
        return
    with gate:
        _HELD.depth = 1
        try:
            yield
        finally:
            _HELD.depth = 0


def gated(method: F) -> F:
    """``method`` run as one `operation`."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        with operation():
            return method(*args, **kwargs)

    return run  # type: ignore[return-value]

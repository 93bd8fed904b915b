"""Let the dynamic provider host serve more than four operations at once, without a new event loop each.

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

Event loops: every Check, Create, Read and Update of the host runs one coroutine (serializing its
answer) on an event loop built for that call and closed after it (``asyncio.new_event_loop()`` ...
``loop.close()`` in each servicer method). Building one costs a socket pair, an epoll instance and
about ten system calls, each of which gives up the GIL: with 64 operations in flight that churn was
the largest cost left in the host that no provider code causes (``python -m benchmarks.fleet`` shows
it). So once the pool is widened the host also gets an event loop policy (the public asyncio API
for choosing how loops are made) whose ``new_event_loop`` hands out an idle loop kept from an
earlier call, and whose loops, when closed with nothing left on them (no callback, timer, task,
executor or async generator, no setting changed, never made a thread's current loop), go back to a
small pool instead of closing; anything else closes as usual, so the next call cannot tell a kept
loop from a fresh one. Only in the real host, only over the stock policy, only on Unix and before
Python 3.14 (which deprecates policies); otherwise the host keeps building a loop per call.
``tests/test_host_loops.py`` holds each case; ``tests/test_host_concurrency.py`` checks in the real
host that one idle loop is kept between calls, so a pulumi upgrade that stops this shows there too.
"""

from __future__ import annotations

import asyncio
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
        reuse_event_loops()
        return size
    except Exception:  # noqa: BLE001 - an SDK change must cost speed, never a deployment
        return None


# Idle loops kept for the next call. Each call uses its loop for well under a millisecond, so a few
# serve any number of operations in flight; the cap bounds the descriptors they hold (3 each).
_IDLE_LOOPS = 16


class _LoopPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[asyncio.AbstractEventLoop] = []

    def take(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def keep(self, loop: asyncio.AbstractEventLoop) -> bool:
        with self._lock:
            if any(idle is loop for idle in self._idle):
                return True  # closed again (close() is idempotent): never kept twice, for two callers
            if len(self._idle) >= _IDLE_LOOPS:
                return False
            self._idle.append(loop)
            return True


_LOOPS = _LoopPool()


def _left_on(loop: Any) -> bool:
    """Whether anything is left on ``loop`` that closing it would drop, or that its last user changed
    and the next would inherit (True when unsure)."""
    try:
        return bool(
            loop.is_running()
            or loop._ready
            or loop._scheduled
            or loop._default_executor is not None
            or getattr(loop, "_signal_handlers", None)
            or asyncio.all_tasks(loop)
            or loop._asyncgens  # an unfinished async generator schedules its aclose() here later
            or loop._stopping  # stop() while not running: the next run would stop after one pass
            or loop._executor_shutdown_called
            or loop._asyncgens_shutdown_called
            or loop._task_factory is not None
            or loop._exception_handler is not None
            or loop.get_debug()
        )
    except Exception:  # noqa: BLE001 - an asyncio change: close it, as the caller asked
        return True


class _KeptLoop(asyncio.SelectorEventLoop):
    """A loop whose ``close`` returns it, idle, to the pool (see the module's docstring)."""

    # Made some thread's current loop (set_event_loop, or get_event_loop creating one): a reference
    # that outlives close() may use it again, so it is never handed to another caller.
    made_current = False
    # Collected without close() (the host skips it when serializing raises): the garbage collector
    # finalizes its self-pipe sockets along with it, so it is closed as the stock host's would be.
    collected = False

    def close(self) -> None:
        if (
            not self.made_current
            and not self.collected
            and not self.is_closed()
            and not _left_on(self)
            and _LOOPS.keep(self)
        ):
            return
        super().close()

    def __del__(self) -> None:
        self.collected = True
        super().__del__()


class _KeepingPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _LOOPS.take() or _KeptLoop()

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if isinstance(loop, _KeptLoop):
            loop.made_current = True
        super().set_event_loop(loop)


def reuse_event_loops() -> bool:
    """Install the loop-keeping policy in the provider host (once); whether it is in place."""
    try:
        policy = asyncio.get_event_loop_policy()
        if isinstance(policy, _KeepingPolicy):
            return True
        if (
            sys.platform == "win32"
            or sys.version_info >= (3, 14)
            or type(policy) is not asyncio.DefaultEventLoopPolicy
            or host_executor() is None
        ):
            return False
        asyncio.set_event_loop_policy(_KeepingPolicy())
        return True
    except Exception:  # noqa: BLE001 - an SDK or asyncio change must cost speed, never a deployment
        return False


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

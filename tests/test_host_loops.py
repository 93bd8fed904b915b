"""The provider host's kept event loops (``_host_threads._KeepingPolicy``): an idle loop is handed to
the next call, and every loop the stock host's next call could tell from a fresh one really closes
(the second half from an adversarial review: cases where a later call paid for a kept loop)."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from microvisor_pulumi.resources import _host_threads


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[_host_threads._LoopPool]:
    fresh = _host_threads._LoopPool()
    monkeypatch.setattr(_host_threads, "_LOOPS", fresh)
    yield fresh
    while (loop := fresh.take()) is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                asyncio.SelectorEventLoop.close(loop)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - a broken loop left by the current code
                pass


async def _answer() -> int:
    return 42


async def _cannot_serialize() -> None:
    raise ValueError("unexpected object of type X")


def test_a_loop_collected_unclosed_is_never_handed_out(pool: _host_threads._LoopPool) -> None:
    """The host closes its loop only when serializing succeeds (``loop.close()`` is not in a finally):
    when it raises, the loop is left in a reference cycle (exception -> traceback -> frame -> task ->
    exception) and the garbage collector finalizes it together with its self-pipe sockets. Its
    ``__del__`` calls ``close()``, which put it back in the pool with both sockets closed: a later
    call then gets a loop that cannot be woken from another thread, and whose real close (when the
    pool is full) raises ValueError in the middle of a Create whose resource already exists."""
    policy = _host_threads._KeepingPolicy()

    def failing_call() -> None:  # Create, as in pulumi/dynamic/__main__.py
        loop = policy.new_event_loop()
        loop.run_until_complete(_cannot_serialize())
        loop.close()

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(ValueError):
            failing_call()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unclosed loop/socket ResourceWarnings, as in stock
            gc.collect()
    finally:
        if was_enabled:
            gc.enable()

    loop = policy.new_event_loop()
    try:
        assert loop._ssock.fileno() != -1 and loop._csock.fileno() != -1  # type: ignore[attr-defined]
        assert loop.run_until_complete(_answer()) == 42
        loop.close()  # must not raise
    finally:
        if not loop.is_closed():
            asyncio.SelectorEventLoop.close(loop)  # type: ignore[arg-type]


def test_closing_a_loop_twice_never_hands_it_to_two_callers(pool: _host_threads._LoopPool) -> None:
    """``close()`` is documented as idempotent; a second one must not put the loop in the pool twice
    (two threads would then run the same loop at once)."""
    policy = _host_threads._KeepingPolicy()
    loop = policy.new_event_loop()
    loop.run_until_complete(_answer())
    loop.close()
    loop.close()
    first, second = policy.new_event_loop(), policy.new_event_loop()
    try:
        assert first is not second
    finally:
        for each in {id(first): first, id(second): second}.values():
            asyncio.SelectorEventLoop.close(each)  # type: ignore[arg-type]


async def _forever() -> None:
    await asyncio.Event().wait()


def _task_left(loop: asyncio.AbstractEventLoop) -> None:
    task = loop.create_task(_forever())
    loop.run_until_complete(asyncio.sleep(0))
    task._log_destroy_pending = False  # type: ignore[attr-defined]  # left pending on purpose


def _timer_left(loop: asyncio.AbstractEventLoop) -> None:
    loop.call_later(3600, lambda: None)


def _callback_left(loop: asyncio.AbstractEventLoop) -> None:
    loop.call_soon(lambda: None)


def _executor_used(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(loop.run_in_executor(None, int))


def _made_current(loop: asyncio.AbstractEventLoop) -> None:
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(_host_threads._KeepingPolicy())
    try:
        asyncio.set_event_loop(loop)  # a thread's current loop may be used again after close()
        asyncio.set_event_loop(None)
    finally:
        asyncio.set_event_loop_policy(policy)


def _stopped(loop: asyncio.AbstractEventLoop) -> None:
    loop.stop()  # not running: the next run_forever stops after one pass


def _executor_shut_down(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(loop.shutdown_default_executor())  # asyncio.run's own clean-up


def _asyncgens_shut_down(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(loop.shutdown_asyncgens())


def _task_factory(loop: asyncio.AbstractEventLoop) -> None:
    def factory(loop: asyncio.AbstractEventLoop, coro: object, **kwargs: object) -> asyncio.Task:
        raise RuntimeError("someone else's task factory")

    loop.set_task_factory(factory)


def _exception_handler(loop: asyncio.AbstractEventLoop) -> None:
    loop.set_exception_handler(lambda loop, context: None)


def _debug(loop: asyncio.AbstractEventLoop) -> None:
    loop.set_debug(True)


@pytest.mark.parametrize(
    "leave",
    [
        _task_left,
        _timer_left,
        _callback_left,
        _executor_used,
        _made_current,  # work left, or a current loop
        _stopped,
        _executor_shut_down,
        _asyncgens_shut_down,
        _task_factory,
        _exception_handler,
        _debug,
    ],
)
def test_a_loop_left_with_work_or_changed_really_closes(
    pool: _host_threads._LoopPool, leave: Callable[[asyncio.AbstractEventLoop], None]
) -> None:
    """The stock host's next call always gets a fresh loop; a kept one must not carry the previous
    owner's work (a task, a timer, a callback, an executor), a reference to it (a thread's current
    loop), or its changes into an unrelated call (a stopped flag makes it fail with "Event loop stopped
    before Future completed", a shut-down executor fails run_in_executor, a task factory runs
    someone else's code...)."""
    policy = _host_threads._KeepingPolicy()
    loop = policy.new_event_loop()
    leave(loop)
    loop.close()
    assert loop.is_closed(), leave.__name__
    assert pool.take() is None, leave.__name__


def test_a_loop_with_a_live_async_generator_really_closes(pool: _host_threads._LoopPool) -> None:
    """An async generator left unfinished on a loop schedules its aclose() on that loop when it is
    collected (call_soon_threadsafe): on a kept loop that runs inside some later, unrelated call."""
    policy = _host_threads._KeepingPolicy()

    async def numbers() -> AsyncIterator[int]:
        yield 1
        yield 2

    gens = [numbers()]

    async def first() -> object:
        return await gens[0].__anext__()  # first iterated on the loop: the loop now tracks it

    loop = policy.new_event_loop()
    loop.run_until_complete(first())
    loop.close()
    try:
        assert loop.is_closed()
        assert pool.take() is None
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gens.clear()
            gc.collect()


def test_a_kept_loop_wakes_for_work_from_other_threads(pool: _host_threads._LoopPool) -> None:
    """Sanity: the loop handed out after a successful call still wakes up from another thread."""
    policy = _host_threads._KeepingPolicy()
    loop = policy.new_event_loop()
    loop.run_until_complete(_answer())
    loop.close()
    again = policy.new_event_loop()
    assert again is loop
    done = threading.Event()

    async def woken() -> None:
        fut = again.create_future()
        threading.Timer(0.05, lambda: again.call_soon_threadsafe(fut.set_result, None)).start()
        await asyncio.wait_for(fut, 5)
        done.set()

    again.run_until_complete(woken())
    again.close()
    assert done.is_set()


def test_an_idle_loop_is_kept_for_the_next_call(pool: _host_threads._LoopPool) -> None:
    policy = _host_threads._KeepingPolicy()
    first = policy.new_event_loop()
    assert first.run_until_complete(_answer()) == 42
    first.close()  # as the host closes it after each call
    again = policy.new_event_loop()
    assert again is first and not again.is_closed()
    assert again.run_until_complete(_answer()) == 42


def test_idle_loops_kept_are_few(pool: _host_threads._LoopPool) -> None:
    policy = _host_threads._KeepingPolicy()
    loops = [policy.new_event_loop() for _ in range(_host_threads._IDLE_LOOPS + 3)]
    for loop in loops:
        loop.close()
    assert sum(loop.is_closed() for loop in loops) == 3  # past the cap they close, holding nothing


def test_loops_are_kept_only_in_the_provider_host() -> None:
    assert _host_threads.reuse_event_loops() is False  # this process is not `python -m pulumi.dynamic`
    assert type(asyncio.get_event_loop_policy()) is asyncio.DefaultEventLoopPolicy

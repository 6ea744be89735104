"""Idle handler workers are woken when rows are written instead of polling for them: the
in-process worker by the sink, worker processes through their pool's wake pipe. They still poll
now and then (claims of dead workers), and an answered row is still marked done soon."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from adapters.base import ReplyTarget
from bot.config import Settings
from bot.handling import HandlerWorker, new_event
from bot.metrics import Metrics
from bot.workers import Backoff, WakePipes, WorkerPool, _unread
from handlers.types import Message, Reply
from storage import inbound
from tests.support.company import make_app, seed
from tests.support.console_runtime import TARGET, RecordingConsole, console_message, console_runtime
from tests.support.wake_worker import NO_PIPE, WOKEN, exit_when_woken, first_dies, hold

HOUR = 3600.0


def _message(number: int, user: str = "E001") -> Message:
    return console_message(f"evt-{number}", user=user)


async def _until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


def test_a_worker_woken_through_its_pipe_answers_and_marks_the_row_done_without_polling(
    engine: Engine,
) -> None:
    seed(engine)
    console = RecordingConsole()
    worker = HandlerWorker(
        make_app(engine),
        {"console": console},
        {},
        name="w1",
        metrics=Metrics(),
        idle_poll=HOUR,
        pace=0,
    )
    read, write = os.pipe()

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(worker.run(stop))
        worker.watch(read)
        await _until(lambda: worker._timer is not None, "the worker's first pass")  # idle now
        assert inbound.admit(engine, new_event(_message(1), TARGET), now=make_app(engine).clock())
        os.write(write, b"\0")  # what `WorkerPool.wake` writes
        await _until(lambda: len(console.replies) == 1, "answered when woken, not in an hour")
        await _until(
            lambda: inbound.counts_by_state(engine).get("done") == 1,
            "the answered row is marked done soon, though the worker would idle for an hour",
        )
        stop.set()
        await running

    try:
        asyncio.run(scenario())
    finally:
        os.close(read)
        os.close(write)
    assert len(console.replies) == 1


def test_rows_written_while_a_worker_paces_are_claimed_in_one_pass(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Woken three times after a pass that found nothing, a worker claims once, not three
    times: one trip to the database for several commands."""
    seed(engine)
    console = RecordingConsole()
    worker = HandlerWorker(
        make_app(engine), {"console": console}, {}, name="w1", metrics=Metrics(), pace=5.0
    )
    claimed: list[int] = []
    real = inbound.claim

    def counting(*args: Any, **kwargs: Any) -> list[inbound.Claimed]:
        rows = real(*args, **kwargs)
        if kwargs.get("limit"):
            claimed.append(len(rows))
        return rows

    monkeypatch.setattr(inbound, "claim", counting)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(worker.run(stop))
        await _until(lambda: claimed == [0], "the worker's first pass")
        for number, user in enumerate(("E001", "E002", "E003")):
            event = new_event(_message(number, user), TARGET)
            assert inbound.admit(engine, event, now=make_app(engine).clock())
            worker.wake.set()  # as the sink does
            await asyncio.sleep(0.05)  # unpaced, the worker would claim each on its own
        await _until(lambda: len(console.replies) == 3, "all three answered")
        stop.set()
        await running

    asyncio.run(scenario())
    assert claimed[:2] == [0, 3]


class GatedConsole(RecordingConsole):
    """Holds each answer until the test opens its gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: list[asyncio.Future[None]] = []

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        gate = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        await gate
        await super().reply(target, reply)


def test_a_full_worker_claims_again_once_half_its_slots_are_free(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At saturation each answer freed one slot and woke a pass that claimed one row: a claim
    (on PostgreSQL a statement reading every open row) per answer. An answer freeing one of
    four slots has its row marked done, claiming nothing; two free, one claim takes two."""
    seed(engine)
    console = GatedConsole()
    worker = HandlerWorker(
        make_app(engine), {"console": console}, {}, name="w1", metrics=Metrics(), slots=4, pace=0
    )
    claims: list[tuple[int, int]] = []
    """(limit, rows taken) of each claim."""
    real = inbound.claim

    def recording(*args: Any, **kwargs: Any) -> list[inbound.Claimed]:
        rows = real(*args, **kwargs)
        claims.append((kwargs["limit"], len(rows)))
        return rows

    monkeypatch.setattr(inbound, "claim", recording)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(worker.run(stop))
        for number in range(8):
            event = new_event(_message(number, f"E{number:03}"), TARGET)
            assert inbound.admit(engine, event, now=make_app(engine).clock())
        worker.wake.set()  # as the sink does
        await _until(lambda: len(console.gates) == 4, "four rows claimed, one per slot")
        full = len(claims)
        console.gates[0].set_result(None)
        await _until(lambda: inbound.counts_by_state(engine).get("done") == 1, "marked done")
        assert all(limit == 0 for limit, _ in claims[full:]), claims
        console.gates[1].set_result(None)
        await _until(lambda: len(console.gates) == 6, "two more claimed")
        assert claims[-1] == (2, 2), claims
        while len(console.replies) < 8:
            for gate in console.gates:
                if not gate.done():
                    gate.set_result(None)
            await asyncio.sleep(0.01)
        stop.set()
        await running

    asyncio.run(scenario())
    assert inbound.counts_by_state(engine).get("done") == 8


class ThreadHeldConsole(RecordingConsole):
    """Answers from the handler thread (`BlockingReplier`), each held there until `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = 0
        self.release = threading.Event()

    def reply_blocking(self, target: ReplyTarget, reply: Reply) -> bool:
        self.entered += 1
        self.release.wait(60)
        self.replies.append(reply)
        return True


def test_a_full_worker_leaves_its_wake_ups_unread(engine: Engine) -> None:
    """A full worker passes every 0.1 s while answers are on its handler threads, claiming
    nothing; it must not read its wake pipe then, or the pool, seeing the byte gone, wakes it
    again for the next row instead of a worker that can take it (`WakePipes`)."""
    seed(engine)
    console = ThreadHeldConsole()
    app = make_app(engine)
    worker = HandlerWorker(
        app, {"console": console}, {}, name="w1", metrics=Metrics(), slots=2, idle_poll=HOUR, pace=0
    )
    passes = 0
    renew = worker._renew

    async def counting() -> None:  # once per pass
        nonlocal passes
        passes += 1
        await renew()

    worker._renew = counting  # type: ignore[method-assign]
    read, write = os.pipe()

    def row(number: int) -> None:
        event = new_event(_message(number, f"E{number:03}"), TARGET)
        assert inbound.admit(engine, event, now=app.clock())
        os.write(write, b"\0")  # what `WorkerPool.wake` writes

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(worker.run(stop))
        worker.watch(read)
        await _until(lambda: worker._timer is not None, "the worker's first pass")
        row(1)
        row(2)
        await _until(lambda: console.entered == 2, "both answers held on the handler threads")
        row(3)
        seen = passes
        await _until(lambda: passes >= seen + 3, "passes of the full worker")
        assert _unread(write) == 1, "the full worker left the third row's wake-up unread"
        console.release.set()
        await _until(lambda: len(console.replies) == 3, "the third answered once slots free")
        stop.set()
        await running

    try:
        asyncio.run(scenario())
    finally:
        os.close(read)
        os.close(write)
    worker.threads.shutdown()


def _run_one(pool: WorkerPool) -> int | None:
    """Start the pool's one process (no supervisor: it is not restarted), wake it, and return
    its exit code."""
    try:
        pool.check()
        pool.wake()
        deadline = time.monotonic() + 90
        while any(
            p.name.startswith("coverwatch-worker-") for p in multiprocessing.active_children()
        ):
            assert time.monotonic() < deadline, "the worker did not exit"
            time.sleep(0.02)
        process = pool._slots[0].process
        assert process is not None
        return process.exitcode
    finally:
        pool.stop()


def test_the_pool_of_run_wakes_its_worker_processes() -> None:
    pool = WorkerPool(Settings.model_validate({}), 1, target=exit_when_woken, woken=True)
    assert _run_one(pool) == WOKEN


def test_the_pool_of_coverwatch_worker_gives_no_pipe_and_its_workers_poll() -> None:
    pool = WorkerPool(Settings.model_validate({}), 1, target=exit_when_woken)
    assert _run_one(pool) == NO_PIPE


def _take(pool: WorkerPool, index: int) -> int:
    """Read place `index`'s wake pipe empty, as its worker does before a claim; how many
    bytes it held."""
    reader, _ = pool._pipes[index]
    taken = 0
    while reader.poll(0):
        taken += len(os.read(reader.fileno(), 4096))
    return taken


def test_the_pool_wakes_one_worker_per_write_the_first_that_read_its_last_wake_up() -> None:
    """Two workers woken for the rows of one pacing window both claimed, each a few (issue
    18): each write wakes one, the first in the pool's order whose pipe holds no unread byte.
    One that has not read its last wake-up (full, claiming, dead) is passed over, and one
    byte waiting is enough for it."""
    pool = WorkerPool(Settings.model_validate({}), 2, target=hold, woken=True)
    try:
        pool.check()
        pool.wake()
        assert [_take(pool, 0), _take(pool, 1)] == [1, 0]
        pool.wake()  # worker 0 read the last: woken again, its batches stay whole
        assert [_take(pool, 0), _take(pool, 1)] == [1, 0]
        pool.wake()
        pool.wake()  # worker 0 has not read the last: passed over
        pool.wake()  # neither has: nothing written
        assert [_take(pool, 0), _take(pool, 1)] == [1, 1]
    finally:
        pool.stop()


def test_a_dead_worker_is_not_woken() -> None:
    pool = WorkerPool(
        Settings.model_validate({}),
        2,
        target=first_dies,
        woken=True,
        backoff=lambda: Backoff(first=HOUR),  # not restarted during the test
    )
    try:
        pool.check()
        deadline = time.monotonic() + 60
        while pool._slots[0].process is not None:  # the supervisor's pass sees it dead
            assert time.monotonic() < deadline, "worker 0 did not exit"
            time.sleep(0.02)
            pool.check()
        pool.wake()
        pool.wake()  # worker 1 has not read the first: nothing more to write
        assert [_take(pool, 0), _take(pool, 1)] == [0, 1]
    finally:
        pool.stop()


def test_rows_woken_at_a_full_worker_are_answered_by_the_next_woken(engine: Engine) -> None:
    """Worker A (first in the pool's order) is full, its two answers held, so it does not
    read its pipe; B never polls (an hour). A row whose wake-up went to A is not stranded: the
    next row's wake-up passes A over (its byte unread) and B claims both; so does every
    wake-up while A stays full."""
    seed(engine)
    held, told = GatedConsole(), RecordingConsole()
    app = make_app(engine)
    workers = [
        HandlerWorker(
            app, {"console": console}, {}, name=name, metrics=Metrics(), **options, pace=0
        )
        for name, console, options in (
            ("a", held, {"slots": 2, "idle_poll": HOUR}),
            ("b", told, {"idle_poll": HOUR}),
        )
    ]
    pipes = [os.pipe(), os.pipe()]
    wakes = WakePipes()
    wakes.live([write for _, write in pipes])

    def row(*numbers: int) -> None:
        for number in numbers:
            event = new_event(_message(number, f"E{number:03}"), TARGET)  # one row per user
            assert inbound.admit(engine, event, now=app.clock())
        wakes.wake()  # as the sink does, through `WorkerPool.wake`

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        running = [loop.create_task(worker.run(stop)) for worker in workers]
        for worker, (read, write) in zip(workers, pipes, strict=True):
            os.set_blocking(write, False)
            worker.watch(read)
        await _until(lambda: all(w._timer is not None for w in workers), "both idle")
        row(1, 2)  # to A, which takes both and is full
        await _until(lambda: len(held.gates) == 2, "A holds two answers")
        row(3)  # A read its pipe before that claim: woken, but full
        row(4)  # A's byte unread: B, which claims the third too
        await _until(lambda: len(told.replies) == 2, "B answers the third and fourth")
        done = lambda: inbound.counts_by_state(engine).get("done")  # noqa: E731
        await _until(lambda: done() == 2, "B marks them done (its last claim), then idles")
        row(5)  # A still full: passed over
        await _until(lambda: len(told.replies) == 3, "B answers the fifth")
        for gate in held.gates:
            gate.set_result(None)
        await _until(lambda: len(held.replies) == 2, "A answers its two")
        stop.set()
        await asyncio.gather(*running)

    try:
        asyncio.run(scenario())
    finally:
        for read, write in pipes:
            os.close(read)
            os.close(write)
    assert inbound.counts_by_state(engine).get("done") == 5


def test_a_pacing_worker_reads_its_pipe_and_is_woken_again_not_another(engine: Engine) -> None:
    """While a worker paces, the rows written are claimed by its next pass: it empties its pipe
    meanwhile (the pass still waits for the pace), so the pool wakes it again rather than a
    second worker, which would claim a few rows on its own."""
    seed(engine)
    console = RecordingConsole()
    app = make_app(engine)
    worker = HandlerWorker(
        app, {"console": console}, {}, name="a", metrics=Metrics(), idle_poll=HOUR, pace=2.0
    )
    pipes = [os.pipe(), os.pipe()]  # the second worker's is never read: it must get nothing
    wakes = WakePipes()
    wakes.live([write for _, write in pipes])

    def row(number: int) -> None:
        event = new_event(_message(number, f"E{number:03}"), TARGET)
        assert inbound.admit(engine, event, now=app.clock())
        wakes.wake()

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop().create_task(worker.run(stop))
        worker.watch(pipes[0][0])
        await _until(lambda: worker._timer is not None, "the worker's first pass")
        row(1)
        await _until(lambda: len(console.replies) == 1, "answered; the worker paces now")
        row(2)
        await _until(lambda: _unread(pipes[0][1]) == 0, "the wake-up read")
        assert inbound.counts_by_state(engine).get("pending") == 1, "read while pacing"
        row(3)
        assert _unread(pipes[1][1]) == 0, "the second worker was not woken"
        await _until(lambda: len(console.replies) == 3, "both answered after the pace")
        stop.set()
        await running

    try:
        asyncio.run(scenario())
    finally:
        for read, write in pipes:
            os.close(read)
            os.close(write)
    worker.threads.shutdown()


def test_the_sink_wakes_the_worker_processes_for_each_new_row(tmp_path: Path) -> None:
    wakes: list[int] = []
    _, runtime, _ = console_runtime(
        tmp_path / "coverwatch.db", handle_inline=False, wake_workers=lambda: wakes.append(1)
    )

    async def scenario() -> None:
        for number in (1, 2, 2):  # the second 2 is a platform's retry: a duplicate
            assert (await runtime.sink(_message(number), TARGET, platform_retries=True)).taken

    asyncio.run(scenario())
    runtime.inbound_writes.shutdown()
    assert len(wakes) == 2

"""Idle handler workers are woken when rows are written instead of polling for them: the
in-process worker by the sink, worker processes through their pool's wake pipe. They still poll
now and then (claims of dead workers), and an answered row is still marked done soon."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
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
from bot.workers import WorkerPool
from handlers.types import Message, Reply
from storage import inbound
from tests.support.company import make_app, seed
from tests.support.console_runtime import TARGET, RecordingConsole, console_message, console_runtime
from tests.support.wake_worker import NO_PIPE, WOKEN, exit_when_woken

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

"""The sink writes an event on the event loop when it can do so at once, and otherwise on the
writer thread (on PostgreSQL in groups, on the loop); a user's events keep their order either
way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from adapters.base import TAKEN, Admission
from bot.spool import Spool
from storage.models import InboundEvent
from tests.storage.test_inbound_groups import REFUSE_BOOM
from tests.support.console_runtime import (
    TARGET,
    console_message,
    console_runtime,
    console_runtime_at,
)


def test_an_event_written_while_an_earlier_one_waits_for_the_writer_thread_comes_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "coverwatch.db"
    engine, runtime, _ = console_runtime(path, handle_inline=False)
    held = threading.Event()

    async def scenario() -> None:
        await runtime._backlog_full()  # counted: the next events' sinks count nothing first
        runtime.inbound_writes.submit(held.wait, 30)  # the writer thread is busy meanwhile
        with closing(sqlite3.connect(str(path), isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # SQLite's write lock is taken: `first` waits
            first = asyncio.create_task(
                runtime.sink(console_message("first"), TARGET, platform_retries=True)
            )
            await asyncio.sleep(0.05)  # `first` tried the loop and queued for the thread
            other.execute("ROLLBACK")
        # The lock is free now, but `first` still waits: `second` must not pass it.
        second = asyncio.create_task(
            runtime.sink(console_message("second"), TARGET, platform_retries=True)
        )
        await asyncio.sleep(0.05)
        held.set()
        assert (await first).taken and (await second).taken

    asyncio.run(scenario())
    runtime.inbound_writes.shutdown()
    with engine.connect() as connection:
        order = connection.execute(select(InboundEvent.event_id).order_by(InboundEvent.id))
        assert list(order.scalars()) == ["first", "second"]


def test_an_event_is_written_on_the_loop_when_the_database_is_free(tmp_path: Path) -> None:
    _, runtime, _ = console_runtime(tmp_path / "coverwatch.db", handle_inline=False)
    held = threading.Event()

    async def scenario() -> None:
        await runtime._backlog_full()  # counted: the next event's sink counts nothing first
        runtime.inbound_writes.submit(held.wait, 30)  # the writer thread cannot write it
        admission = await asyncio.wait_for(
            runtime.sink(console_message("now"), TARGET, platform_retries=True), 20
        )
        assert admission.taken

    try:
        asyncio.run(scenario())
    finally:
        held.set()
        runtime.inbound_writes.shutdown()


def test_on_postgres_a_failed_group_sends_each_event_its_own_way_and_loses_none(
    pg_url: str, tmp_path: Path
) -> None:
    """Events that came while a statement was in flight are written together; when the
    database refuses that statement, each of them is refused (a platform that retries gets
    503) or kept in the spool, in the order they came, and none is written twice once back."""
    spool = Spool(tmp_path / "spool.jsonl", 64 * 1024)
    engine, runtime, _ = console_runtime_at(pg_url, handle_inline=False, spool=spool)
    with engine.begin() as connection:
        connection.exec_driver_sql(REFUSE_BOOM)
    sent = [("first", True), ("e1", True), ("boom", False), ("e2", False), ("e3", True)]

    async def sink(event_id: str, retries: bool) -> Admission:
        return await runtime.sink(console_message(event_id), TARGET, platform_retries=retries)

    async def scenario() -> list[Admission]:
        await runtime._backlog_full()  # counted: the sinks go straight to their write
        lock = engine.connect()
        lock.exec_driver_sql("LOCK TABLE inbound IN EXCLUSIVE MODE")  # holds `first` in flight
        tasks = [asyncio.create_task(sink(event_id, retries)) for event_id, retries in sent]
        await asyncio.sleep(0)  # each ran to its first wait: the others wait for `first`
        lock.commit()
        lock.close()
        return list(await asyncio.gather(*tasks))

    admissions = asyncio.run(scenario())
    refused = Admission(taken=False, retry_after=5)  # 503: Slack's Events API sends it again
    assert admissions == [TAKEN, refused, TAKEN, TAKEN, refused]  # acked: `boom`, e2 spooled
    assert event_ids(engine) == ["first"]
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_boom ON inbound")

    async def back() -> list[Admission]:
        assert spool.replay(runtime._admit_spooled) == 2
        again = [await sink(event_id, True) for event_id in ("e1", "e3")]  # the retries
        again.append(await sink("e2", True))  # a retry of what was acked: a duplicate
        assert runtime.admits is not None
        await runtime.admits.close()
        return again

    assert asyncio.run(back()) == [TAKEN, TAKEN, TAKEN]
    assert event_ids(engine) == ["first", "boom", "e2", "e1", "e3"], "each once, spool in order"
    runtime.inbound_writes.shutdown()
    engine.dispose()


def event_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        order = connection.execute(select(InboundEvent.event_id).order_by(InboundEvent.id))
        return list(order.scalars())

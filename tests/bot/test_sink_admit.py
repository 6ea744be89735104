"""The sink writes an event on the event loop when it can do so at once, and otherwise on the
writer thread; a user's events keep their order either way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from sqlalchemy import select

from storage.models import InboundEvent
from tests.support.console_runtime import TARGET, console_message, console_runtime


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

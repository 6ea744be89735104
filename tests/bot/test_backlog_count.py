"""The sink counts the open rows it compares with `[chat] max_backlog` seldom while far under
it, and every half second once near it; rows another server wrote are seen at the next
count (`bot.runtime.Runtime._backlog_stale`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot.runtime
from storage import inbound
from tests.support.console_runtime import TARGET, console_message, console_runtime

MAX_BACKLOG = 10


def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each count of the open rows: what it found."""
    counts: list[int] = []
    backlog = inbound.backlog

    def count(engine: object) -> int:
        counts.append(backlog(engine))  # type: ignore[arg-type]
        return counts[-1]

    monkeypatch.setattr(inbound, "backlog", count)
    return counts


def test_far_under_the_limit_the_rows_are_counted_seldom_and_near_it_each_half_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = counted(monkeypatch)
    _, runtime, _ = console_runtime(
        tmp_path / "coverwatch.db", handle_inline=False, max_backlog=MAX_BACKLOG
    )

    async def taken(event_id: str) -> bool:
        admission = await runtime.sink(console_message(event_id), TARGET, platform_retries=True)
        return admission.taken

    async def scenario() -> list[int]:
        assert await taken("far0")  # the first counts (none open yet)
        seen = [len(counts)]
        await asyncio.sleep(bot.runtime.BACKLOG_READ_SECONDS + 0.1)
        for number in range(1, 4):  # far under the limit: not counted, half a second on
            assert await taken(f"far{number}")
            seen.append(len(counts))
        assert await taken("near0")  # 4 so far before it: far, no count; 5 after it: near
        seen.append(len(counts))
        await asyncio.sleep(bot.runtime.BACKLOG_READ_SECONDS + 0.1)
        assert await taken("near1")  # near and stale: counted
        seen.append(len(counts))
        return seen

    try:
        assert asyncio.run(scenario()) == [1, 1, 1, 1, 1, 2]
    finally:
        runtime.inbound_writes.shutdown()
    assert counts == [0, 5]


def test_rows_another_server_wrote_are_seen_at_the_next_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several servers on one PostgreSQL: this one's count so far knows only its own events,
    so the others' fill the backlog unseen until the count goes stale."""
    monkeypatch.setattr(bot.runtime, "BACKLOG_FAR_READ_SECONDS", 0.3)
    counts = counted(monkeypatch)
    engine, runtime, _ = console_runtime(
        tmp_path / "coverwatch.db", handle_inline=False, max_backlog=MAX_BACKLOG
    )

    async def scenario() -> tuple[bool, bool]:
        first = await runtime.sink(console_message("mine"), TARGET, platform_retries=True)
        for number in range(MAX_BACKLOG):  # another server's events
            item = inbound.NewEvent(
                platform="console", event_id=f"theirs{number}", user_key="console:E2", payload=""
            )
            assert inbound.admit(engine, item, now=datetime.now(UTC))
        unseen = await runtime.sink(console_message("before"), TARGET, platform_retries=True)
        await asyncio.sleep(0.4)
        seen = await runtime.sink(console_message("after"), TARGET, platform_retries=True)
        return first.taken and unseen.taken, seen.taken

    try:
        assert asyncio.run(scenario()) == (True, False)
    finally:
        runtime.inbound_writes.shutdown()
    assert counts == [0, MAX_BACKLOG + 2]

"""An inbound event that meets a database outage: refused when its platform retries, kept in
the local spool when it does not (it was acked), and answered once either way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.runtime import Runtime
from bot.spool import Spool
from handlers.types import Message
from storage import inbound
from tests.support.console_runtime import (
    TARGET,
    RecordingConsole,
    console_message,
    console_runtime,
)

MESSAGE = console_message("evt-outage")


def _runtime(tmp_path: Path, **options: object) -> tuple[Runtime, RecordingConsole, Spool]:
    """A runtime over a seeded SQLite company, answering on a recording console, with a spool."""
    spool = Spool(tmp_path / "spool.jsonl", 64 * 1024)
    _, runtime, console = console_runtime(tmp_path / "coverwatch.db", spool=spool, **options)
    return runtime, console, spool


def _database_down(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Writing an inbound event fails while the returned switch's "yes" is true (on the
    writer thread, `admit`, and on the event loop, `admit_if_free`)."""
    down = {"yes": True}

    def flaky(real: Callable[..., bool | None]) -> Callable[..., bool | None]:
        def write(*args: object, **kwargs: object) -> bool | None:
            if down["yes"]:
                raise OperationalError("INSERT", {}, Exception("database is gone"))
            return real(*args, **kwargs)

        return write

    monkeypatch.setattr(inbound, "admit", flaky(inbound.admit))
    monkeypatch.setattr(inbound, "admit_if_free", flaky(inbound.admit_if_free))
    return down


def test_events_during_an_outage_are_refused_or_spooled_and_answered_once_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, console, spool = _runtime(tmp_path)
    assert runtime.worker is not None
    down = _database_down(monkeypatch)

    async def scenario() -> None:
        assert runtime.worker is not None
        refused = await runtime.sink(MESSAGE, TARGET, platform_retries=True)
        assert (refused.taken, refused.retry_after) == (False, 5)  # 503: the platform retries
        kept = await runtime.sink(MESSAGE, TARGET, platform_retries=False)
        assert kept.taken and spool.pending()  # acked: in the spool, not lost
        down["yes"] = False
        assert spool.replay(runtime._admit_spooled) == 1
        assert not spool.pending()
        again = await runtime.sink(MESSAGE, TARGET, platform_retries=True)  # the retry
        assert again.taken
        assert await runtime.worker.drain() == 1

    asyncio.run(scenario())
    runtime.worker.threads.shutdown()
    assert len(console.replies) == 1, "answered once: not lost, not doubled"
    assert "我的医保" in console.replies[0].text


def test_past_max_backlog_a_retrying_platform_gets_503_and_the_others_a_busy_answer(
    tmp_path: Path,
) -> None:
    runtime, console, _ = _runtime(tmp_path, max_backlog=1)

    def numbered(number: int) -> Message:
        return console_message(f"evt-{number}", "help", locale="en")

    async def scenario() -> None:
        assert runtime.worker is not None
        assert (await runtime.sink(numbered(1), TARGET, platform_retries=True)).taken
        refused = await runtime.sink(numbered(2), TARGET, platform_retries=True)
        assert (refused.taken, refused.retry_after) == (False, 60)  # 503 + Retry-After: 60
        busy = await runtime.sink(numbered(3), TARGET, platform_retries=False)
        assert busy.taken and busy.answer is None  # acked, and told to come back
        await asyncio.gather(*runtime.tasks)
        said = "I am busy answering many questions right now. Please try again in a minute."
        assert [reply.text for reply in console.replies] == [said]
        # An adapter whose ack can carry the answer (a Slack slash command) is given it
        # instead: nothing more is sent.
        in_ack = await runtime.sink(numbered(5), TARGET, platform_retries=False, answer_in_ack=True)
        assert in_ack.taken and in_ack.answer is not None and in_ack.answer.text == said
        assert not runtime.tasks
        assert len(console.replies) == 1
        assert await runtime.worker.drain() == 1  # only the first was written
        runtime._backlog_read_at = float("-inf")  # the next count sees the drained queue
        assert (await runtime.sink(numbered(4), TARGET, platform_retries=True)).taken

    asyncio.run(scenario())
    assert runtime.worker is not None
    runtime.worker.threads.shutdown()


def test_after_an_outage_the_spooled_events_are_written_before_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One user's order holds across an outage: an event arriving once the database is back
    is written after what waited in the spool, not before the replay gets to it."""
    runtime, console, _ = _runtime(tmp_path)
    down = _database_down(monkeypatch)
    texts = ["help", "我的医保", "help"]

    async def scenario() -> None:
        assert runtime.worker is not None
        for number, text in enumerate(texts):
            if number == 2:
                down["yes"] = False  # back, and the replay task has not run yet
            event = console_message(f"evt-{number}", text)
            assert (await runtime.sink(event, TARGET, platform_retries=False)).taken
        assert await runtime.worker.drain() == 3

    asyncio.run(scenario())
    assert runtime.worker is not None
    runtime.worker.threads.shutdown()
    cover = [reply.text.startswith("我的医保\n") for reply in console.replies]
    assert cover == [False, True, False], "answered in the order they were sent"

"""An inbound message that meets a database outage is kept and answered once it is back.

The platform was answered before the handler ran (Slack's 3 s, WeCom's 5 s), so it will not
retry: the runtime itself must hold the event until the database answers again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import bot.runtime
from adapters.base import ReplyTarget
from bot.runtime import Runtime
from handlers.types import Message, Recipient, Reply
from storage.db import make_engine, upgrade
from tests.support.company import make_app, seed


class RecordingConsole:
    name = "console"
    rate_limits = ()

    def __init__(self) -> None:
        self.replies: list[Reply] = []

    async def start(self, sink: object) -> None: ...

    async def stop(self) -> None: ...

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        self.replies.append(reply)

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        raise AssertionError("no proactive message expected")


def test_a_message_during_an_outage_is_answered_once_the_database_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    upgrade(engine)
    seed(engine)
    console = RecordingConsole()
    runtime = Runtime(
        make_app(engine),
        {"console": console},  # type: ignore[dict-item]
        host="127.0.0.1",
        port=0,
        poll_seconds=1,
        jobs={},
    )
    real = bot.runtime.first_sighting
    outage = {"left": 3}

    def flaky(*args: object, **kwargs: object) -> bool:
        if outage["left"]:
            outage["left"] -= 1
            raise OperationalError("SELECT 1", {}, Exception("database is gone"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.runtime, "first_sighting", flaky)
    monkeypatch.setattr(bot.runtime, "INBOUND_RETRY_FIRST_SECONDS", 0.01)
    message = Message(
        platform="console",
        user_id="E001",
        conversation_id="E001",
        is_direct=True,
        text="我的医保",
        event_id="evt-outage",
    )
    target = ReplyTarget(platform="console", conversation_id="E001", user_id="E001", is_direct=True)

    async def scenario() -> None:
        runtime.sink(message, target)
        await asyncio.gather(*runtime.tasks)
        runtime.sink(message, target)  # the platform's own retry, after the outage
        await asyncio.gather(*runtime.tasks)

    asyncio.run(scenario())
    runtime.handlers.shutdown()
    assert outage["left"] == 0
    assert len(console.replies) == 1, "answered once: not lost, not doubled"
    assert "我的医保" in console.replies[0].text

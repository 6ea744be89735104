"""A seeded SQLite company and a `Runtime` answering on a console that records its replies:
the sink and worker tests drive the runtime without a chat platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from adapters.base import ReplyTarget
from bot.runtime import Runtime
from handlers.types import Message, Recipient, Reply
from storage.db import make_engine, upgrade
from tests.support.company import make_app, seed


class RecordingConsole:
    """A console adapter that keeps what it was asked to answer."""

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


def console_runtime(path: Path, **options: Any) -> tuple[Engine, Runtime, RecordingConsole]:
    """The company in a SQLite file at `path` and a runtime on a recording console;
    `options` go to `Runtime` (`handle_inline`, `spool`, `wake_workers`, …)."""
    return console_runtime_at(f"sqlite:///{path}", **options)


def console_runtime_at(url: str, **options: Any) -> tuple[Engine, Runtime, RecordingConsole]:
    """`console_runtime` on the database at `url` (a new PostgreSQL database, `pg_url`)."""
    engine = make_engine(url)
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
        **options,
    )
    return engine, runtime, console


TARGET = ReplyTarget(platform="console", conversation_id="E001", user_id="E001", is_direct=True)
"""Where a console message of E001 is answered: their DM."""


def console_message(
    event_id: str, text: str = "我的医保", *, user: str = "E001", locale: str | None = None
) -> Message:
    """`user`'s console message in their DM with the bot."""
    return Message(
        platform="console",
        user_id=user,
        conversation_id=user,
        is_direct=True,
        text=text,
        event_id=event_id,
        locale=locale,
    )

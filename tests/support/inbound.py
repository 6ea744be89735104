"""What adapter tests share on the inbound side: the runtime's stand-in sink, a bounded poll,
and an adapter's routes served on loopback exactly as `coverwatch run` mounts them."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from starlette.types import ASGIApp

from adapters.base import TAKEN, Admission, HttpRoute, ReplyTarget
from bot.platform_routes import platform_app
from handlers.types import Action, Message
from tests.fakes.loopback import LoopbackServer

Forward = Callable[..., Awaitable[Admission]]


class RecordingSink:
    """Records what the adapter hands over and takes it, as the runtime's sink does;
    `forward` passes each event on (to a real runtime's sink) after recording it, and
    `admission` is what it answers otherwise (a refusal, to see the adapter's 503)."""

    def __init__(self) -> None:
        self.events: list[tuple[Message | Action, ReplyTarget]] = []
        self.retries: list[bool] = []
        """Per event: did the adapter say its platform sends it again when refused."""
        self.answers_in_ack: list[bool] = []
        """Per event: did the adapter say its ack can carry the answer."""
        self.forward: Forward | None = None
        self.admission = TAKEN

    async def __call__(
        self,
        event: Message | Action,
        reply_to: ReplyTarget,
        *,
        platform_retries: bool,
        answer_in_ack: bool = False,
    ) -> Admission:
        self.events.append((event, reply_to))
        self.retries.append(platform_retries)
        self.answers_in_ack.append(answer_in_ack)
        if self.forward is not None:
            return await self.forward(
                event, reply_to, platform_retries=platform_retries, answer_in_ack=answer_in_ack
            )
        return self.admission

    async def wait_for(self, count: int = 1, timeout: float = 10.0) -> None:
        await eventually(lambda: len(self.events) >= count, timeout)


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition another task or a fake's thread will make true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def served(routes: Sequence[HttpRoute]) -> AsyncIterator[str]:
    """The routes under uvicorn on this event loop (the adapter's loop); yields the base URL."""
    async with served_app(platform_app(routes)) as base:
        yield base


@asynccontextmanager
async def served_app(app: ASGIApp) -> AsyncIterator[str]:
    """An ASGI app under uvicorn on this event loop; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = LoopbackServer(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or task.done())
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.stop()
        await task
        sock.close()

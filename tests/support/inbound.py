"""What adapter tests share on the inbound side: the runtime's stand-in sink, a bounded poll,
and an adapter's routes served on loopback exactly as `coverwatch run` mounts them."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette

from adapters.base import HttpRoute, ReplyTarget
from bot.runtime import asgi_route
from handlers.types import Action, Message


class RecordingSink:
    """Records what the adapter hands over and returns at once, as the runtime's sink does;
    `forward` passes each event on (to a real runtime's sink) after recording it."""

    def __init__(self) -> None:
        self.events: list[tuple[Message | Action, ReplyTarget]] = []
        self.forward: Callable[[Message | Action, ReplyTarget], None] | None = None

    def __call__(self, event: Message | Action, reply_to: ReplyTarget) -> None:
        self.events.append((event, reply_to))
        if self.forward is not None:
            self.forward(event, reply_to)

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
    app = Starlette(routes=[asgi_route(route) for route in routes])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or task.done())
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()

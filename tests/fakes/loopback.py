"""Loopback servers run in a thread or a task: the start-up wait and the prompt stop every fake
and live runtime needs."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer(uvicorn.Server):
    """uvicorn for a loopback fake or a live runtime under test: it stops the moment `stop()` is
    called. uvicorn's own loop looks at `should_exit` every 0.1 s and its shutdown sleeps 0.1 s
    more before polling connections in 0.1-s steps: 0.2–0.3 s of idle wall time per test that
    starts a fake, most of the fast lane's waiting. In-flight requests still finish (up to
    `timeout_graceful_shutdown`); idle keep-alive connections are closed at once."""

    def __init__(self, app: Any, **config: Any) -> None:
        super().__init__(uvicorn.Config(app, log_level="warning", lifespan="off", **config))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask the server to stop; callable from any thread (`join` its thread afterwards)."""
        self.should_exit = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)

    async def main_loop(self) -> None:
        # `stop` sets should_exit before it reads _loop, this sets _loop before it reads
        # should_exit: whichever runs second sees the other, so no stop is missed.
        self._loop = asyncio.get_running_loop()
        if not self.should_exit:
            await self._stopping.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # closes idle connections; a busy one closes after its answer
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 5.0)
        state = self.server_state
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        for task in state.tasks:
            task.cancel()
        for server in self.servers:
            await server.wait_closed()


def wait_started(
    server: uvicorn.Server, thread: threading.Thread, what: str, timeout: float = 10.0
) -> None:
    """Block until uvicorn listens; fail fast when its thread died or it took too long."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.002)

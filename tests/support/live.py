"""A `Runtime` serving real HTTP on loopback, with its dispatcher, in a background thread.

`Runtime.serve` installs signal handlers, which only the main thread may do, so the tests run
the same parts it runs (the ASGI app under uvicorn, adapters started with the runtime's sink,
the outbox dispatcher, the in-process handler worker) in a thread with its own event loop,
and stop them at the end.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Mapping
from types import TracebackType

import httpx

from adapters.base import Adapter
from bot.runtime import Runtime
from handlers.context import AppContext
from tests.fakes.loopback import LoopbackServer, wait_started

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveRuntime:
    """`with LiveRuntime(app, adapters) as live:` then `live.url`, `live.runtime`."""

    def __init__(
        self, app: AppContext, adapters: Mapping[str, Adapter], *, poll_seconds: float = 0.05
    ) -> None:
        self.port = free_port()
        self.runtime = Runtime(
            app, adapters, host="127.0.0.1", port=self.port, poll_seconds=poll_seconds, jobs={}
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = LoopbackServer(
            self.runtime.asgi(), host="127.0.0.1", port=self.port, timeout_graceful_shutdown=1
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.runtime.start_receivers()
        dispatch = asyncio.create_task(
            self.runtime.dispatcher.run(self.runtime.stop_event, self.runtime.poll_seconds)
        )
        assert self.runtime.worker is not None
        worker = asyncio.create_task(self.runtime.worker.run(self.runtime.stop_event))
        await self._server.serve()
        self.runtime.stop_event.set()
        await asyncio.gather(dispatch, worker)
        if self.runtime.tasks:
            await asyncio.wait(self.runtime.tasks, timeout=5)
        await self.runtime.stop_adapters()

    def get(self, path: str, timeout: float = 5.0) -> httpx.Response:
        return httpx.get(self.url + path, timeout=timeout)

    def __enter__(self) -> LiveRuntime:
        self._thread.start()
        wait_started(self._server, self._thread, "the runtime", START_TIMEOUT)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._thread.join(30)

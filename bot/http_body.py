"""Request bodies read with a ceiling: `[http] max_body_bytes` (ARCHITECTURE.md §3, "a body
over max_body_bytes is 413 before any parsing"), for the platforms' routes and the API alike."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from starlette.requests import Request
from starlette.types import Receive

log = logging.getLogger(__name__)

BODY_READ_SECONDS = 10.0
"""A body not complete within this is refused (408): a slowloris client trickling bytes holds a
connection no longer (issue 15 finding 7). Slack and WeCom send a few KB at once."""
SWEEP_SECONDS = 1.0
"""How often the bodies being read are checked against their deadline: one is cut off between
`timeout` and `timeout` + this."""


class BodyNotRead(Exception):
    """The client went away mid-body, or took longer than `BODY_READ_SECONDS`: nothing to
    verify, nothing to answer (408 when someone may still listen)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes ([http] max_body_bytes)")
        self.limit = limit


class _Reads:
    """The bodies one event loop is reading, each with its deadline, and one timer for all of
    them that fires every `SWEEP_SECONDS` while any is being read. A timer per request
    (`asyncio.timeout`: a handle armed and cancelled) was ~60 % of an adapter route's CPU on
    uvloop, where nearly every body is whole before its first read."""

    def __init__(self) -> None:
        self.due: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.sweeping = False

    def begin(self, timeout: float) -> asyncio.Task[Any]:
        """The calling task, due within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None  # an ASGI app runs in a task
        self.due[task] = loop.time() + timeout
        if not self.sweeping:
            self.sweeping = True
            loop.call_later(SWEEP_SECONDS, self._sweep)
        return task

    def end(self, task: asyncio.Task[Any]) -> None:
        del self.due[task]
        self.expired.discard(task)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, due in self.due.items():
            if due <= now and task not in self.expired:
                self.expired.add(task)
                task.cancel()  # `read_body` turns it into BodyNotRead
        self.sweeping = bool(self.due)
        if self.sweeping:
            loop.call_later(SWEEP_SECONDS, self._sweep)


_READS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reads] = weakref.WeakKeyDictionary()
"""Per event loop: a sweep cancels only its own loop's tasks (tests run servers in threads)."""


async def read_capped(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """The body of a Starlette request (`read_body`)."""
    declared = request.headers.get("content-length", "")
    return await read_body(request.receive, declared, limit, request.url.path, timeout)


async def read_body(
    receive: Receive, declared: str, limit: int, path: str, timeout: float | None = None
) -> bytes:
    """The body from ASGI `receive`; `BodyTooLarge` as soon as it is known to exceed `limit`
    bytes: from Content-Length (`declared`) before anything is read, else while it streams in
    (chunked bodies), so a stranger's 100 MB upload is never held in memory; `BodyNotRead` when
    it never arrives whole (`timeout`: `BODY_READ_SECONDS`)."""
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    timeout = BODY_READ_SECONDS if timeout is None else timeout
    loop = asyncio.get_running_loop()
    reads = _READS.get(loop)
    if reads is None:
        reads = _READS[loop] = _Reads()
    task = reads.begin(timeout)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                # Ordinary on the internet (a dropped phone, a scanner): one DEBUG line,
                # no traceback.
                log.debug("client went away mid-body on %s after %d bytes", path, size)
                raise BodyNotRead("client disconnected mid-body", 400)
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if task not in reads.expired:
            raise  # not ours: the server is stopping
        task.uncancel()
        raise BodyNotRead(f"body not complete within {timeout:g} s", 408) from None
    finally:
        reads.end(task)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)

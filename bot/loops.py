"""The event loop every long-running process of `coverwatch run` and `coverwatch worker` runs
on: the serving process and the handler worker processes alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (libuv, in C) where installed (not on Windows), else asyncio's:
    the loop's own work (wake-ups, timers, socket reads) was a fifth of the server's CPU per
    chat command (docs/PERFORMANCE.md, chat_http). uvicorn picks its loop only in `uvicorn.run`,
    not for a server started on a running loop, as here."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on `event_loop_factory()`'s loop."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)

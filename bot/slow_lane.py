"""The slow lane of `coverwatch run`: charts are drawn in a process pool of their own.

`[chat] slow_workers` processes (default 1; 0 draws charts on the handler threads, as before)
take the work handlers submit through `handlers.slow_work.SlowWork`. The runtime then waits for
a reply's pending attachments on the event loop, holding no handler thread, so a burst of `kpi`
queues here while `help` and `coverage` are answered (issue 18 item 4, docs/PERFORMANCE.md
`kpi_burst`). Processes, not threads: a chart is CPU in Python and matplotlib, and on threads
it would hold the GIL the handlers need. They are started with `spawn` (a fork of a process
running threads and an event loop may inherit a held lock) and warmed up at start, so the
first `kpi` does not pay for importing matplotlib and finding the fonts.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from handlers.kpi_chart import find_cjk_font
from handlers.types import Attachment, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")
LANE_NICENESS = 19
"""`nice` of the lane's processes: they run when the handlers leave a core idle."""
ORPHAN_CHECK_SECONDS = 1.0
"""How often a lane process looks whether the process that started it is still there."""
CLOSE_GRACE_SECONDS = 1.0
"""How long `close` lets the lane's processes leave on their own before it ends them."""


def _start_process(owner: int) -> None:
    """Runs once in each new process: at the lowest CPU priority, so that on a machine with
    few cores a chart takes only the CPU the handlers leave (a chart is ~0.3 s of CPU: 40 of
    them at normal priority take a core from the answers for 12 s); matplotlib imported and
    the CJK font looked up. Ctrl-C reaches the whole process group; the runtime ends the lane,
    so the processes ignore it (no traceback from each)."""
    os.nice(LANE_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The owner's pid as it made the lane, not `getppid()` here: an owner gone before this
    # process got this far (a server stopped as a chart process starts) left it a child of
    # init, and watching init it waited for ever.
    _exit_when_orphaned(owner)
    find_cjk_font()


def _exit_when_orphaned(parent: int) -> None:
    """End this process when its parent is gone, however it went: a worker process killed
    (kill -9, or `WorkerPool.stop` after its grace) cannot close its pool, and a lane process
    left behind would hold the server's stderr open and a core for charts nobody waits for.
    A watch thread, not prctl's PR_SET_PDEATHSIG: that one fires when the *thread* that
    started the process ends, and the pool may start processes from a short-lived thread."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _started() -> None:
    """Submitted at start only so that the pool starts its processes."""


class SlowLane:
    """A `SlowWork` on `workers` processes; `close` ends them."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def start(self) -> None:
        """Start the processes now rather than on the first chart."""
        for _ in range(self.workers):
            self._pool.submit(_started)

    def close(self) -> None:
        """End the processes now, a chart still being drawn with them: its answer was given up
        (its row handed back) before the lane is closed. Left running, a worker process hung
        at exit: multiprocessing's exit joins the children after its finalizers closed the
        pool's call queue, so the pool's stop sentinel, sent once the chart was done, never
        reached the chart process, which waited on that queue while its orphan watch waited for
        the worker to die: a circular wait (CPython issue 83386; the chat_http bench hung)."""
        started = self._pool._processes  # no public handle on them; `shutdown` drops this one
        self._pool.shutdown(wait=False, cancel_futures=True)
        processes = list(started.values())
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        for process in processes:  # idle ones leave at once, on the pool's sentinel
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(CLOSE_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


async def completed(reply: Reply) -> Reply:
    """The reply with its pending attachments made, waited for on the event loop. An
    attachment that failed is left out (logged): the text is the complete answer anyway."""
    if not reply.pending:
        return reply
    made: list[Attachment] = []
    for pending in reply.pending:
        try:
            made.append(pending.ready(await asyncio.wrap_future(pending.content)))
        except Exception as exc:
            log.warning("attachment %s not made: %s", pending.filename, type(exc).__name__)
    return replace(reply, attachments=(*reply.attachments, *made), pending=())

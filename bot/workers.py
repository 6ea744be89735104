"""Handler worker processes: `coverwatch run` starts `[chat] workers` of them beside the HTTP
server, and `coverwatch worker` runs them alone (another machine, beside one PostgreSQL).

One interpreter answers a few hundred commands a second (docs/PERFORMANCE.md, chat_http); more
answers take more processes, not threads. Each process builds the adapters from the same
settings but starts none of them receiving (the server does that): it only answers, through
`Receiver.reply` and `Sender.update`. Processes are spawned (not forked: the parent has threads
and open connections), die with their parent (Linux `PR_SET_PDEATHSIG`), and a pool restarts a
process that exits, backing off while one keeps dying; its claims are taken over after their
lease. Each process has a wake pipe from the pool (`WorkerPool.wake`): the server writes a
byte to one of them when it wrote rows, so an idle worker answers at once and idles without
polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import multiprocessing
import os
import signal
import socket
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from zoneinfo import ZoneInfo

from adapters.base import Adapter, Receiver, Sender
from bot import loops
from bot.app import open_app, shifted_clock
from bot.config import Settings
from bot.handling import (
    IDLE_POLL_SECONDS,
    PACE_SECONDS,
    WOKEN_POLL_SECONDS,
    HandlerWorker,
    OnLoop,
)
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.slow_lane import SlowLane
from bot.wiring import build_adapters
from handlers.context import utc_now
from storage.db import is_postgres

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
STOP_SECONDS = 15.0
"""How long a stopping pool waits for its processes (they finish what they hold first)."""
SUPERVISE_SECONDS = 1.0
RESTART_FIRST_SECONDS = 1.0
RESTART_CAP_SECONDS = 60.0
HEALTHY_SECONDS = 60.0
"""A worker that lived this long was healthy: its next restart starts the backoff over."""


async def work(
    settings: Settings, name: str, today: date | None = None, wake: Connection | None = None
) -> None:
    """Answer inbound events until SIGTERM/SIGINT (`today`: the hidden `--today` of `run`;
    `wake`: the reading end of the pool's wake pipe, under `run`)."""
    zone = ZoneInfo(settings.bot.timezone)
    app = open_app(settings, clock=shifted_clock(today, zone, utc_now) if today else None)
    lane = SlowLane(settings.chat.slow_workers) if settings.chat.slow_workers else None
    if lane is not None:  # each worker its own chart processes: a kpi burst never holds help
        app = replace(app, slow_work=lane)
        lane.start()
    adapters: dict[str, Adapter] = {}
    try:  # from here on the lane is closed however this ends
        adapters = build_adapters(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = HandlerWorker(
            app,
            {key: a for key, a in adapters.items() if isinstance(a, Receiver)},
            {key: a for key, a in adapters.items() if isinstance(a, Sender)},
            name=name,
            metrics=Metrics(),
            lease=timedelta(seconds=settings.chat.claim_lease_seconds),
            # Woken, a worker paces its passes; polling, the poll gathers rows already.
            idle_poll=IDLE_POLL_SECONDS if wake is None else WOKEN_POLL_SECONDS,
            pace=0.0 if wake is None else PACE_SECONDS,
            # Handlers on this loop, which only answers: less CPU per answer. On PostgreSQL
            # only while caught up: each query's round trip holds the rows behind it
            # (docs/PERFORMANCE.md, sessions 8 and 9).
            on_loop=OnLoop.CAUGHT_UP if is_postgres(app.engine) else OnLoop.QUICK,
        )
        if wake is not None:
            worker.watch(wake.fileno())
        log.info("handler worker %s answering", name)
        await worker.run(stop)
    finally:
        if lane is not None:  # first: a lane left open hangs this process at exit (close)
            lane.close()
        for adapter in adapters.values():
            await adapter.stop()


def _process_main(
    settings: Settings, index: int, today: date | None, wake: Connection | None = None
) -> None:
    """A spawned worker process: ends when its parent ends, however that ends."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            return
    configure_logging(settings.log, settings.bot.timezone)
    loops.run(work(settings, f"{socket.gethostname()}-{os.getpid()}-w{index}", today, wake))


@dataclass
class Backoff:
    """How long to wait before restarting a worker: doubling from `first` up to `cap` while
    workers keep dying young (a worker that crashes at start-up, e.g. on a bad setting, would
    otherwise be respawned every second for ever), back to `first` after one lived `healthy`."""

    first: float = RESTART_FIRST_SECONDS
    cap: float = RESTART_CAP_SECONDS
    healthy: float = HEALTHY_SECONDS
    failures: int = 0

    def delay(self, lived: float) -> float:
        """The wait before restarting a worker that exited after `lived` seconds."""
        if lived >= self.healthy:
            self.failures = 0
        wait = min(self.cap, self.first * 2.0**self.failures)
        self.failures += 1
        return wait


@dataclass
class _Slot:
    """One of the pool's places: its process (None until started or while backing off)."""

    backoff: Backoff
    process: BaseProcess | None = None
    started: float = 0.0
    due: float = field(default=float("-inf"))
    """When the next process may start."""


Target = Callable[[Settings, int, date | None, Connection | None], None]


class WakePipes:
    """The writing ends of the live workers' wake pipes; `wake` writes to one of them.

    One byte per write of rows, to the first worker (in the pool's order) whose pipe holds no
    unread byte, not one to every worker: two workers woken for the rows of one pacing window
    both claimed, each a few (PostgreSQL, 50/s: 2.34 ms per answer with 2 workers, 2.02 with
    1; issue 18). An idle worker reads its pipe at once, and a pacing one while it paces
    (`HandlerWorker._pace`): both take the rows written now, so while the first keeps up it
    gets them all, claimed in batches as one worker's are. A byte left unread says its worker
    cannot take more now: full (deaf to its pipe, `HandlerWorker.run`), in a claim, or dead;
    the next worker is woken instead, and when every pipe holds one, nothing is written (each
    claims what is open at its next pass). No row is stranded by a woken worker that cannot
    take it: a full worker claims once half its slots are free, a dead one leaves the live set
    at the supervisor's next pass (its successor claims when it starts), the next row wakes
    another, and every idle worker still polls (`WOKEN_POLL_SECONDS`)."""

    def __init__(self) -> None:
        self._fds: tuple[int, ...] = ()

    def live(self, fds: Sequence[int]) -> None:
        """The pipes of the workers alive now (the supervisor, on its thread: one assignment)."""
        self._fds = tuple(fds)

    def wake(self) -> None:
        """Write one byte to the first live worker's pipe that holds none; never blocks."""
        for fd in self._fds:
            if not _unread(fd):
                with contextlib.suppress(OSError):  # the pool stopping
                    os.write(fd, b"\0")
                return


def _unread(fd: int) -> int:
    """Bytes in the pipe not yet read (`FIONREAD`, which Linux answers on either end)."""
    try:
        answer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", answer)[0])


class WorkerPool:
    """`count` worker processes, restarted with backoff when one exits, stopped with SIGTERM."""

    def __init__(
        self,
        settings: Settings,
        count: int,
        today: date | None = None,
        *,
        target: Target = _process_main,
        clock: Callable[[], float] = time.monotonic,
        backoff: Callable[[], Backoff] = Backoff,
        woken: bool = False,
    ) -> None:
        """`woken`: the server will call `wake` when it wrote rows (under `run`)."""
        self.settings = settings
        self.count = count
        self.today = today
        self._target = target
        self._clock = clock
        self._context = multiprocessing.get_context("spawn")
        self._slots = [_Slot(backoff=backoff()) for _ in range(count)]
        self._pipes = [self._context.Pipe(duplex=False) for _ in range(count if woken else 0)]
        """Each place's wake pipe, kept for the pool's life (a restarted process reads the
        one its predecessor read): (reading end, for the process; writing end, for `wake`).
        None when nothing calls `wake` (`coverwatch worker`): those workers poll."""
        for _, writer in self._pipes:
            os.set_blocking(writer.fileno(), False)
        self.wakes = WakePipes()
        """The live processes' pipes (`check`), which `wake` writes to."""
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self.check()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-pool", daemon=True)
        self._supervisor.start()

    def _spawn(self, index: int) -> BaseProcess:
        process = self._context.Process(
            target=self._target,
            args=(self.settings, index, self.today, self._pipes[index][0] if self._pipes else None),
            name=f"coverwatch-worker-{index}",
        )
        process.start()
        return process

    def wake(self) -> None:
        """Tell a worker process that rows were written (the server's sink, on its event loop):
        one byte to one live worker (`WakePipes`), never blocking."""
        self.wakes.wake()

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_SECONDS):
            self.check()

    def check(self) -> None:
        """One supervision pass: start each place whose wait is over, and put each process
        that exited on its backoff."""
        for index, slot in enumerate(self._slots):
            now = self._clock()
            process = slot.process
            if process is not None and not process.is_alive():
                lived = now - slot.started
                wait = slot.backoff.delay(lived)
                log.warning(
                    "handler worker %d exited (code %s) after %.0f s; restarting in %.0f s",
                    index,
                    process.exitcode,
                    lived,
                    wait,
                )
                slot.process, slot.due = None, now + wait
            if slot.process is None and now >= slot.due and not self._stopping.is_set():
                slot.process, slot.started = self._spawn(index), now
        if self._pipes:
            self.wakes.live(
                [
                    writer.fileno()
                    for slot, (_, writer) in zip(self._slots, self._pipes, strict=True)
                    if slot.process is not None
                ]
            )

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join()
        processes = [slot.process for slot in self._slots if slot.process is not None]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        self.wakes.live(())  # before the pipes close: no write to a closed descriptor
        for reader, writer in self._pipes:
            reader.close()
            writer.close()

    def wait(self) -> None:
        """Until SIGTERM/SIGINT (`coverwatch worker` with several processes)."""
        stopped = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopped.set())
        stopped.wait()
        self.stop()


def run_workers(settings: Settings, processes: int, today: date | None = None) -> None:
    """`coverwatch worker`: one worker in this process, or a pool of `processes`."""
    configure_logging(settings.log, settings.bot.timezone)
    if processes <= 1:
        loops.run(work(settings, f"{socket.gethostname()}-{os.getpid()}", today))
        return
    pool = WorkerPool(settings, processes, today)
    pool.start()
    pool.wait()

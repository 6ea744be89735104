"""A worker process whose chart process is still drawing when the worker stops: the target
`tests/bot/test_slow_lane.py` spawns. Its own module, so a spawned child imports only this."""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection

from bot.slow_lane import SlowLane

DRAWING_SECONDS = 600.0
"""A chart that outlasts any test: only ending the lane's process ends it."""


def stop_while_drawing(on_sigterm: bool, report: Connection) -> None:
    """Start a lane, have its process draw, report that process's pid, then stop as
    `bot.workers.work` does: on SIGTERM (`WorkerPool.stop`) or on its own (the drain path,
    a chart given up after the grace) by closing the lane and returning."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lane = SlowLane(1)
    lane.start()
    lane_pid = lane.submit(os.getpid).result(timeout=60)
    lane.submit(time.sleep, DRAWING_SECONDS)
    report.send(lane_pid)
    if on_sigterm:
        stop.wait()
    lane.close()

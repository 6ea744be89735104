"""Loopback servers run in a thread: the one start-up wait every fake and live runtime needs."""

from __future__ import annotations

import threading
import time

import uvicorn


def wait_started(
    server: uvicorn.Server, thread: threading.Thread, what: str, timeout: float = 10.0
) -> None:
    """Block until uvicorn listens; fail fast when its thread died or it took too long."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.01)

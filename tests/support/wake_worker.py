"""Handler workers that report what their pool gave them: the targets `bot.workers.WorkerPool`
tests spawn. Their own module, so a spawned child imports only this."""

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Any

WOKEN, NOT_WOKEN, NO_PIPE = 0, 5, 6


def exit_when_woken(settings: Any, index: int, today: date | None, wake: Any) -> None:
    """Exit 0 once the pool's wake pipe has a byte to read (5 if none came within a minute)."""
    if wake is None:
        sys.exit(NO_PIPE)
    sys.exit(WOKEN if wake.poll(60) else NOT_WOKEN)


def hold(settings: Any, index: int, today: date | None, wake: Any) -> None:
    """Live without reading the wake pipe (a worker busy answering) until the pool stops it."""
    time.sleep(120)


def first_dies(settings: Any, index: int, today: date | None, wake: Any) -> None:
    """Place 0 exits at once (a worker that died); the others `hold`."""
    if index:
        hold(settings, index, today, wake)

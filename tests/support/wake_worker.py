"""Handler workers that report what their pool gave them: the targets `bot.workers.WorkerPool`
tests spawn. Their own module, so a spawned child imports only this."""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

WOKEN, NOT_WOKEN, NO_PIPE = 0, 5, 6


def exit_when_woken(settings: Any, index: int, today: date | None, wake: Any) -> None:
    """Exit 0 once the pool's wake pipe has a byte to read (5 if none came within a minute)."""
    if wake is None:
        sys.exit(NO_PIPE)
    sys.exit(WOKEN if wake.poll(60) else NOT_WOKEN)

"""A handler worker that crashes at start-up, as on a setting it cannot use: the target a
`bot.workers.WorkerPool` test spawns. Its own module, so a spawned child imports only this."""

from __future__ import annotations

import sys
from datetime import date
from typing import Any


def exit_at_once(settings: Any, index: int, today: date | None, wake: Any) -> None:
    sys.exit(3)

"""The seam for slow work (a KPI chart): handlers hand it over, the wiring decides where it runs.

A chart takes a few hundred milliseconds of CPU; drawn on a handler thread, a burst of `kpi`
holds every thread and every `help` waits behind it (issue 18). So a handler that makes an
attachment submits the drawing to `AppContext.slow_work` and returns at once with the
attachment pending; `coverwatch run` gives it a process pool of its own (`bot.slow_lane`,
`[chat] slow_workers`) and waits for the attachment without holding a handler thread. Without
a lane (the CLI's `ask`, the console, the digest's renderer, tests) attachments are drawn
where they are asked for, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class SlowWork(Protocol):
    """Where slow work runs. `submit` returns at once; the function and its arguments must
    pickle (they may cross to another process), and the future raises what the function
    raised."""

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]: ...

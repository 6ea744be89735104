"""Sliding windows that keep the dispatcher under each platform's documented sending limits.

The limits are counted per window, and the excess is dropped or throttled: WeCom "每应用对同一个
成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃不下发" (doc 90454), DingTalk robots 20
messages/min per chat. A token bucket (burst of 30, then one every 2 s) would let 31 messages into
one minute, so each limit is a log of send times: at most `count` in any `seconds`-long span.
A send is logged when it is decided and moved to when the platform answered, because the
platform counts it on arrival, which may be up to the request's timeout later.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field

from adapters.base import RateLimit


@dataclass
class SlidingWindow:
    count: int
    seconds: float
    sent_at: list[float] = field(default_factory=list)
    """Send times in this window's scope, ascending; older ones are dropped as time passes."""

    def wait(self, now: float) -> float:
        """Seconds until one more send fits (0.0: it fits now)."""
        expired = bisect_right(self.sent_at, now - self.seconds)
        del self.sent_at[:expired]
        if len(self.sent_at) < self.count:
            return 0.0
        return self.sent_at[-self.count] + self.seconds - now

    def add(self, at: float) -> None:
        insort(self.sent_at, at)

    def move(self, old: float, new: float) -> None:
        index = bisect_left(self.sent_at, old)
        if index < len(self.sent_at) and self.sent_at[index] == old:
            del self.sent_at[index]
        insort(self.sent_at, new)


class Limiter:
    """All windows of one dispatcher: per app, per recipient, and pauses from Retry-After."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str, int, float, str], SlidingWindow] = {}
        self._paused_until: dict[str, float] = {}

    def pause(self, platform: str, until: float) -> None:
        self._paused_until[platform] = max(until, self._paused_until.get(platform, 0.0))

    def _windows_of(
        self, platform: str, address: str, limits: tuple[RateLimit, ...]
    ) -> list[SlidingWindow]:
        windows = []
        for limit in limits:
            scope_key = address if limit.scope == "recipient" else "*"
            key = (platform, limit.scope, limit.count, limit.seconds, scope_key)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = SlidingWindow(limit.count, limit.seconds)
            windows.append(window)
        return windows

    def wait_for(
        self, platform: str, address: str, limits: tuple[RateLimit, ...], now: float
    ) -> float:
        """Seconds to wait before sending to `address`; 0.0 means send now (the send is logged
        at `now`: call `settle` once the platform has answered)."""
        paused = self._paused_until.get(platform, 0.0) - now
        if paused > 0:
            return paused
        windows = self._windows_of(platform, address, limits)
        wait = max((window.wait(now) for window in windows), default=0.0)
        if wait > 0:
            return wait
        for window in windows:
            window.add(now)
        return 0.0

    def settle(
        self,
        platform: str,
        address: str,
        limits: tuple[RateLimit, ...],
        *,
        decided: float,
        answered: float,
    ) -> None:
        """Move a send logged at `decided` to `answered`: the platform saw it by then."""
        for window in self._windows_of(platform, address, limits):
            window.move(decided, answered)

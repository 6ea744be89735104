"""Token buckets that keep the dispatcher under each platform's documented sending limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import RateLimit


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float = field(init=False)
    updated: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        self.tokens = min(
            self.capacity, self.tokens + (now - self.updated) * self.refill_per_second
        )
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_second


class Limiter:
    """All buckets of one dispatcher: per app, per recipient, and pauses from Retry-After."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._paused_until: dict[str, float] = {}

    def pause(self, platform: str, until: float) -> None:
        self._paused_until[platform] = max(until, self._paused_until.get(platform, 0.0))

    def wait_for(
        self, platform: str, address: str, limits: tuple[RateLimit, ...], now: float
    ) -> float:
        """Seconds to wait before sending to `address`; 0.0 means send now (tokens taken)."""
        paused = self._paused_until.get(platform, 0.0) - now
        if paused > 0:
            return paused
        buckets = []
        for limit in limits:
            scope_key = address if limit.scope == "recipient" else "*"
            key = (platform, f"{limit.scope}:{limit.count}/{limit.seconds}", scope_key)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(limit.count, limit.count / limit.seconds)
                bucket.updated = now
                self._buckets[key] = bucket
            buckets.append(bucket)
        waits = [bucket.take(now) for bucket in buckets]
        if any(waits):
            # Give back what was taken so a refused send costs nothing.
            for bucket, wait in zip(buckets, waits, strict=True):
                if wait == 0.0:
                    bucket.tokens += 1
            return max(waits)
        return 0.0

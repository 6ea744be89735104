"""In-process counters and send latency, exposed at `/metrics` in Prometheus text format."""

from __future__ import annotations

import threading
from collections import defaultdict

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, str], int] = defaultdict(int)
        self._latency: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = defaultdict(float)
        self._latency_count: dict[str, int] = defaultdict(int)

    def count(self, name: str, platform: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[(name, platform)] += amount

    def observe_send(self, platform: str, seconds: float) -> None:
        with self._lock:
            buckets = self._latency.setdefault(platform, [0] * len(_LATENCY_BUCKETS))
            for index, bound in enumerate(_LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._latency_sum[platform] += seconds
            self._latency_count[platform] += 1

    def render(self, gauges: dict[str, dict[str, int]]) -> str:
        """Prometheus exposition text; `gauges` are read from the database by the caller."""
        lines: list[str] = []
        with self._lock:
            names = sorted({name for name, _ in self._counters})
            for name in names:
                lines.append(f"# TYPE coverwatch_{name} counter")
                for (counter, platform), value in sorted(self._counters.items()):
                    if counter == name:
                        lines.append(f'coverwatch_{name}{{platform="{platform}"}} {value}')
            if self._latency:
                lines.append("# TYPE coverwatch_send_latency_seconds histogram")
            for platform, buckets in sorted(self._latency.items()):
                for bound, value in zip(_LATENCY_BUCKETS, buckets, strict=True):
                    lines.append(
                        f'coverwatch_send_latency_seconds_bucket{{platform="{platform}",'
                        f'le="{bound}"}} {value}'
                    )
                total = self._latency_count[platform]
                label = f'platform="{platform}",le="+Inf"'
                lines.append(f"coverwatch_send_latency_seconds_bucket{{{label}}} {total}")
                lines.append(
                    f'coverwatch_send_latency_seconds_sum{{platform="{platform}"}} '
                    f"{self._latency_sum[platform]:.6f}"
                )
                lines.append(
                    f'coverwatch_send_latency_seconds_count{{platform="{platform}"}} {total}'
                )
        for gauge, values in sorted(gauges.items()):
            lines.append(f"# TYPE coverwatch_{gauge} gauge")
            for label, value in sorted(values.items()):
                lines.append(f'coverwatch_{gauge}{{state="{label}"}} {value}')
        return "\n".join(lines) + "\n"

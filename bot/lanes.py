"""Which claimed sends may be in flight at the same time.

The dispatcher sends to different recipients concurrently, but never two messages to one
recipient at once: per-recipient limits (Slack's 1 message per second per channel, WeCom's
30 per minute per member) are counted per recipient, and people read their messages in the
order the outbox claimed them. A lane is a run of sends that share recipients, in claim
order; lanes share none, so each lane can go at its own pace.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.models import Delivery

Unit = Sequence[Delivery]
"""One send: a single delivery, or a batch of one message to several people (bot/batching.py)."""


def lanes(units: Sequence[Unit]) -> list[list[Unit]]:
    """Units sharing a (platform, address), directly or through another unit, in one lane."""
    lane_of: dict[tuple[str, str], int] = {}
    members: dict[int, list[int]] = {}
    for index, unit in enumerate(units):
        recipients = {(delivery.platform, delivery.address) for delivery in unit}
        joined = sorted({lane_of[key] for key in recipients if key in lane_of})
        lane = joined[0] if joined else index
        members.setdefault(lane, [])
        for other in joined[1:]:  # this unit links lanes that were apart so far
            members[lane] += members.pop(other)
        members[lane].append(index)
        for key, owner in lane_of.items():
            if owner in joined:
                lane_of[key] = lane
        for key in recipients:
            lane_of[key] = lane
    return [[units[index] for index in sorted(indexes)] for indexes in members.values()]

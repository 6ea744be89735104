"""Which claimed deliveries the dispatcher sends together, and how a batch's outcome splits.

DingTalk's robot API sends one message to up to 20 people per call
(https://open.dingtalk.com/document/orgapp/chatbots-send-one-on-one-chat-messages-in-batches):
an alert to HR and finance is one call instead of one per person, which keeps the app under
its 20 calls/s limit. Deliveries go together when they carry the same message: same platform
and same payload (alert, stage, escalation level and locale), to people rather than groups,
on an adapter that offers `send_many`. Employees' cover notices go together the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from adapters.base import BatchSender, Sender
from storage.models import Delivery
from storage.outbox import CoverNoticePayload, decode_payload


def group(claimed: Iterable[Delivery], adapters: Mapping[str, Sender]) -> list[list[Delivery]]:
    """Claimed deliveries in claim order, those sharing one message in one list."""
    groups: dict[object, list[Delivery]] = {}
    for delivery in claimed:
        together = (
            not delivery.is_group
            and _alike(delivery)
            and isinstance(adapters.get(delivery.platform), BatchSender)
        )
        key: object = (delivery.platform, delivery.payload) if together else delivery.id
        groups.setdefault(key, []).append(delivery)
    return list(groups.values())


def _alike(delivery: Delivery) -> bool:
    """The same words for everyone it goes to: an alert's notice, or an employee's cover notice
    (thousands at once: [alerts] notify_employees). A KPI digest may carry a chart: one by one."""
    if delivery.alert_id is not None:
        return True
    try:
        return isinstance(decode_payload(delivery.payload), CoverNoticePayload)
    except ValueError:  # the renderer reports a malformed payload when it is sent alone
        return False


def batch_key(delivery: Delivery) -> str:
    """The same for every delivery of one message, and on every retry of it: adapters derive
    per-person ids from it (a DingTalk card's outTrackId), so a retry reuses them."""
    digest = hashlib.sha256(delivery.payload.encode()).hexdigest()[:24]
    return f"batch:{delivery.platform}:{delivery.alert_id}:{digest}"


@dataclass
class Outcome:
    """What happened to each delivery of a batch."""

    sent: list[tuple[Delivery, str]] = field(default_factory=list)
    retry: list[Delivery] = field(default_factory=list)
    refused: list[Delivery] = field(default_factory=list)
    """Neither delivered nor worth retrying (DingTalk's `invalidStaffIdList`)."""


def split(
    members: Sequence[Delivery], delivered: Mapping[str, str], remaining: Iterable[str]
) -> Outcome:
    """Each delivery's own ref, or its place in the retry or refused list."""
    again = set(remaining)
    outcome = Outcome()
    for delivery in members:
        if delivery.address in delivered:
            outcome.sent.append((delivery, delivered[delivery.address]))
        elif delivery.address in again:
            outcome.retry.append(delivery)
        else:
            outcome.refused.append(delivery)
    return outcome

"""The outbox dispatcher: claims due deliveries, sends them through the adapters, records.

Retries use exponential backoff with jitter and never go before a platform's Retry-After
(HTTP 429, WeCom 45009, DingTalk 90002 all arrive as `DeliveryError.retry_after`). Database
work runs in a thread so the event loop keeps answering platforms within their deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from adapters.base import ChatAdapter, DeliveryError
from bot.metrics import Metrics
from bot.ratelimit import Limiter
from core.alerts import AlertEventType
from handlers.types import Recipient, Reply
from storage import outbox
from storage.alerts import record
from storage.db import session_scope
from storage.models import Alert, Delivery

log = logging.getLogger(__name__)

Renderer = Callable[[Session, Delivery], Reply | None]
"""Turns a delivery's payload into the reply to send (None: nothing to send any more)."""

MAX_ATTEMPTS = 25
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def backoff(attempts: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter in its upper half: 1-2 s, 2-4 s, … capped at 5 min."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return ceiling * (0.5 + rng.random() / 2)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        adapters: Mapping[str, ChatAdapter],
        render: Renderer,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        batch: int = 50,
    ) -> None:
        self.engine = engine
        self.adapters = adapters
        self.render = render
        self.worker = worker
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self.batch = batch
        self.limiter = Limiter()

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Drain continuously until `stop` is set; claimed but unsent rows are handed back."""
        try:
            while not stop.is_set():
                sent = await self.drain_once()
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
        finally:
            await asyncio.to_thread(self._release_own)

    def _release_own(self) -> None:
        with session_scope(self.engine) as session:
            outbox.release_own_claims(session, worker=self.worker)

    def _claim(self) -> list[Delivery]:
        now = self.clock()
        with session_scope(self.engine) as session:
            outbox.release_stale_claims(session, now=now)
            return outbox.claim_due(session, now=now, worker=self.worker, limit=self.batch)

    async def drain_once(self) -> int:
        """One pass over the due deliveries; returns how many were handled."""
        claimed = await asyncio.to_thread(self._claim)
        for delivery in claimed:
            await self._deliver(delivery)
        return len(claimed)

    def _prepare(self, delivery: Delivery) -> Reply | None:
        with session_scope(self.engine) as session:
            return self.render(session, delivery)

    async def _deliver(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        adapter = self.adapters.get(delivery.platform)
        if adapter is None:
            await asyncio.to_thread(
                self._finish, delivery, error=f"platform {delivery.platform} is not enabled"
            )
            return
        now = self.clock()
        wait = self.limiter.wait_for(
            delivery.platform, delivery.address, adapter.rate_limits, now.timestamp()
        )
        if wait > 0:
            await asyncio.to_thread(self._later, delivery, wait, None, count_attempt=False)
            return
        reply = await asyncio.to_thread(self._prepare, delivery)
        if reply is None:
            await asyncio.to_thread(self._finish, delivery, error="nothing to send any more")
            return
        payload = json.loads(delivery.payload)
        recipient = Recipient(
            platform=delivery.platform,
            address=delivery.address,
            is_group=delivery.is_group,
            employee_id=delivery.employee_id,
            locale=payload.get("locale", "zh-CN"),
        )
        started = self.clock()
        try:
            ref = await adapter.send(recipient, reply, key=delivery.idempotency_key)
        except DeliveryError as exc:
            if exc.retry_after is not None:
                self.limiter.pause(delivery.platform, now.timestamp() + exc.retry_after)
            if exc.permanent:
                await asyncio.to_thread(self._finish, delivery, error=str(exc))
            else:
                await asyncio.to_thread(self._later, delivery, exc.retry_after, str(exc))
            return
        except Exception as exc:  # an adapter bug or a network error nobody mapped
            log.warning("delivery %s failed: %s", delivery.id, type(exc).__name__)
            await asyncio.to_thread(self._later, delivery, None, f"{type(exc).__name__}: {exc}")
            return
        self.metrics.observe_send(delivery.platform, (self.clock() - started).total_seconds())
        await asyncio.to_thread(self._sent, delivery, ref)

    def _sent(self, delivery: Delivery, ref: str) -> None:
        assert delivery.id is not None
        now = self.clock()
        with session_scope(self.engine) as session:
            outbox.mark_sent(session, delivery.id, message_ref=ref, now=now)
            alert = session.get(Alert, delivery.alert_id) if delivery.alert_id else None
            if alert is not None:
                record(
                    session,
                    alert,
                    AlertEventType.DELIVERED,
                    at=now,
                    platform=delivery.platform,
                    actor=delivery.employee_id,
                    detail=delivery.address if delivery.is_group else "",
                )
        self.metrics.count("deliveries_sent_total", delivery.platform)

    def _later(
        self,
        delivery: Delivery,
        retry_after: float | None,
        error: str | None,
        *,
        count_attempt: bool = True,
    ) -> None:
        assert delivery.id is not None
        attempts = delivery.attempts + (1 if count_attempt else 0)
        if attempts >= MAX_ATTEMPTS:
            self._finish(delivery, error=error or "too many attempts", attempts=attempts)
            return
        delay = retry_after if retry_after is not None else backoff(attempts, self.rng)
        if retry_after is not None and count_attempt:
            delay = max(retry_after, 0.0)
        with session_scope(self.engine) as session:
            outbox.mark_retry(
                session,
                delivery.id,
                error=error or "rate limited locally",
                next_attempt_at=self.clock() + timedelta(seconds=delay),
                attempts=attempts,
            )
        if count_attempt:
            self.metrics.count("deliveries_retried_total", delivery.platform)

    def _finish(self, delivery: Delivery, *, error: str, attempts: int | None = None) -> None:
        assert delivery.id is not None
        with session_scope(self.engine) as session:
            outbox.mark_failed(
                session, delivery.id, error=error, attempts=attempts or delivery.attempts + 1
            )
        self.metrics.count("deliveries_failed_total", delivery.platform)

"""The outbox dispatcher: claims due deliveries, sends them through the adapters, records.

Retries use exponential backoff with jitter and never go before a platform's Retry-After
(HTTP 429, WeCom 45009, DingTalk 90002 all arrive as `DeliveryError.retry_after`). Database
work runs in a thread so the event loop keeps answering platforms within their deadlines.
A claim's sends to different recipients go concurrently, a bounded number at a time, and
never two to one recipient (bot/lanes.py): one at a time, a send's round trip and its three
transactions cap a dispatcher below what Slack allows (docs/PERFORMANCE.md, fanout_10k).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from adapters.base import BatchDeliveryError, BatchSender, DeliveryError, Sender
from bot import batching
from bot.lanes import Unit, lanes
from bot.metrics import Metrics
from bot.ratelimit import Limiter
from handlers.types import Recipient, Reply
from storage import outbox
from storage.alerts import Delivered, record_delivered
from storage.db import session_scope
from storage.models import Delivery

log = logging.getLogger(__name__)

Renderer = Callable[[Session, Delivery], Reply | None]
"""Turns a delivery's payload into the reply to send (None: nothing to send any more)."""

MAX_ATTEMPTS = 25
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
SEND_CONCURRENCY = 8
"""Sends in flight at once, each to other recipients."""
HOLD_SECONDS = 1.0
"""A recipient whose window frees within this is waited for in the lane; a longer wait (or a
Retry-After pause) hands the delivery back to the outbox for later."""
HOLD_SLACK_SECONDS = 0.005


def backoff(attempts: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter in its upper half: 1-2 s, 2-4 s, … capped at 5 min."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(attempts - 1, 0))
    return ceiling * (0.5 + rng.random() / 2)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        adapters: Mapping[str, Sender],
        render: Renderer,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        batch: int = 50,
        claim_lease: timedelta = outbox.CLAIM_LEASE,
    ) -> None:
        self.engine = engine
        self.adapters = adapters
        self.render = render
        self.worker = worker
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self.batch = batch
        self.claim_lease = claim_lease
        self._stopping: asyncio.Event | None = None
        self.limiter = Limiter()
        self.concurrency = SEND_CONCURRENCY

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Drain continuously until `stop` is set; claimed but unsent rows are handed back
        (also when the task is cancelled mid-send at shutdown: the resend keeps its key)."""
        self._stopping = stop
        try:
            while not stop.is_set():
                try:
                    sent = await self.drain_once()
                except SQLAlchemyError as exc:  # the database is away: retry, /healthz says 503
                    log.warning("outbox pass failed: %s", type(exc).__name__)
                    sent = 0
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
        finally:
            try:
                await asyncio.to_thread(self._release_own)
            except SQLAlchemyError as exc:  # stopped during an outage: the lease gives them back
                log.warning("outbox claims left to their lease: %s", type(exc).__name__)

    def _release_own(self) -> None:
        with session_scope(self.engine) as session:
            outbox.release_own_claims(session, worker=self.worker)

    def _claim(self) -> list[Delivery]:
        now = self.clock()
        with session_scope(self.engine) as session:
            outbox.release_stale_claims(session, now=now, lease=self.claim_lease)
            return outbox.claim_due(session, now=now, worker=self.worker, limit=self.batch)

    async def drain_once(self) -> int:
        """One pass over the due deliveries; returns how many were handled."""
        claimed = await asyncio.to_thread(self._claim)
        # Per pass, not per dispatcher: a test may drive each pass on a new event loop.
        slots = asyncio.Semaphore(self.concurrency)
        pending = lanes(batching.group(claimed, self.adapters))
        # Each platform's first send of the pass goes alone: a platform that is throttling says
        # so (Retry-After) before the rest of the claim is on the wire, and the rest then waits.
        probes: dict[str, list[Unit]] = {}
        for lane in pending:
            probes.setdefault(lane[0][0].platform, lane)
        await asyncio.gather(*(self._run_lane(lane[:1], slots) for lane in probes.values()))
        probed = {id(lane) for lane in probes.values()}
        rest = [lane[1:] if id(lane) in probed else lane for lane in pending]
        await asyncio.gather(*(self._run_lane(lane, slots) for lane in rest))
        return len(claimed)

    async def _run_lane(self, lane: list[Unit], slots: asyncio.Semaphore) -> None:
        for members in lane:
            if self._stopping is not None and self._stopping.is_set():
                return  # shutting down: `run` hands the rest of the claim back
            if len(members) > 1:
                await self._deliver_many(list(members), slots)
            else:
                await self._deliver(members[0], slots)

    def _prepare(self, delivery: Delivery) -> Reply | None:
        with session_scope(self.engine) as session:
            return self.render(session, delivery)

    async def _deliver(self, delivery: Delivery, slots: asyncio.Semaphore) -> None:
        assert delivery.id is not None
        adapter = self.adapters.get(delivery.platform)
        if adapter is None:
            await asyncio.to_thread(
                self._finish, delivery, error=f"platform {delivery.platform} is not enabled"
            )
            return
        loop = asyncio.get_running_loop()
        prepared: Reply | None = None
        ref: str | None = None
        for held in (False, True):
            async with slots:
                now = self.clock()
                wait = self.limiter.wait_for(
                    delivery.platform, delivery.address, adapter.rate_limits, now.timestamp()
                )
                if wait <= 0:
                    ref = await self._send(delivery, adapter, now, prepared)
                    break
                if held or not self._may_hold(delivery.platform, wait, now):
                    await asyncio.to_thread(self._later, delivery, wait, None, count_attempt=False)
                    return
            # Rendered while the window is shut, so that when it opens only the send is left:
            # a render's thread hop in that gap, once per message to a recipient, stretched
            # every recipient's second (docs/PERFORMANCE.md, fanout_10k).
            opens = loop.time() + wait
            prepared = await asyncio.to_thread(self._prepare, delivery)
            if prepared is None:
                await asyncio.to_thread(self._finish, delivery, error="nothing to send any more")
                return
            # The slot is free for other recipients meanwhile. asyncio may wake a timer up to
            # its clock resolution early, and `clock` is not the loop's clock: a little slack
            # keeps the second look from finding the window a hair short of open.
            await asyncio.sleep(max(0.0, opens - loop.time()) + HOLD_SLACK_SECONDS)
        if ref is not None:  # recorded once its slot is free: the send is no longer in flight
            await asyncio.to_thread(self._sent, delivery, ref)

    def _may_hold(self, platform: str, wait: float, now: datetime) -> bool:
        """A short wait for a recipient's window, not a platform's Retry-After pause."""
        return wait <= HOLD_SECONDS and self._paused(platform, now) == 0

    def _paused(self, platform: str, now: datetime) -> float:
        """Seconds left of the platform's Retry-After pause (with no limits to check,
        `wait_for` answers only the pause)."""
        return self.limiter.wait_for(platform, "*", (), now.timestamp())

    async def _send(
        self, delivery: Delivery, adapter: Sender, now: datetime, prepared: Reply | None = None
    ) -> str | None:
        """Render (unless `prepared`) and send one delivery the limiter has just let through at
        `now`; its message ref when sent (the caller records it), else None (a failure is
        recorded here)."""
        reply = prepared or await asyncio.to_thread(self._prepare, delivery)
        if reply is None:
            await asyncio.to_thread(self._finish, delivery, error="nothing to send any more")
            return None
        paused = self._paused(delivery.platform, self.clock())
        if paused > 0:  # another send's Retry-After came in while this one was rendered
            await asyncio.to_thread(self._later, delivery, paused, None, count_attempt=False)
            return None
        recipient = Recipient(
            platform=delivery.platform,
            address=delivery.address,
            is_group=delivery.is_group,
            employee_id=delivery.employee_id,
            locale=outbox.decode_payload(delivery.payload).locale,
        )
        started = self.clock()
        try:
            try:
                ref = await adapter.send(recipient, reply, key=delivery.idempotency_key)
            finally:
                # The platform counts the send when it arrives, at the latest when it answered
                # (bot/ratelimit.py): settled before anything is written, so that the time a
                # busy machine takes to record a send does not stretch the recipient's window
                # (docs/PERFORMANCE.md, fanout_10k).
                self.limiter.settle(
                    delivery.platform,
                    delivery.address,
                    adapter.rate_limits,
                    decided=now.timestamp(),
                    answered=self.clock().timestamp(),
                )
        except DeliveryError as exc:
            if exc.retry_after is not None:
                # Retry-After counts from the answer, not from when this send was prepared.
                self.limiter.pause(delivery.platform, self.clock().timestamp() + exc.retry_after)
            if exc.permanent:
                await asyncio.to_thread(self._finish, delivery, error=str(exc))
            else:
                await asyncio.to_thread(self._later, delivery, exc.retry_after, str(exc))
        except Exception as exc:  # an adapter bug or a network error nobody mapped
            log.warning("delivery %s failed: %s", delivery.id, type(exc).__name__)
            await asyncio.to_thread(self._later, delivery, None, f"{type(exc).__name__}: {exc}")
        else:
            self.metrics.observe_send(delivery.platform, (self.clock() - started).total_seconds())
            return ref
        return None

    async def _deliver_many(self, members: list[Delivery], slots: asyncio.Semaphore) -> None:
        """One message to several people through `send_many` (see `bot.batching`); each
        delivery keeps its own ref, and after a partial failure only the rest is retried."""
        first = members[0]
        adapter = self.adapters[first.platform]
        assert isinstance(adapter, BatchSender)
        reply = await asyncio.to_thread(self._prepare, first)
        if reply is None or reply.attachments:  # a batch carries no attachments
            for delivery in members:
                await self._deliver(delivery, slots)
            return
        async with slots:
            await self._send_many(members, reply)

    async def _send_many(self, members: list[Delivery], reply: Reply) -> None:
        first = members[0]
        adapter = self.adapters[first.platform]
        assert isinstance(adapter, BatchSender)
        # App-wide limits count calls (one batch), per-recipient limits count messages.
        now = self.clock()
        per_person = tuple(limit for limit in adapter.rate_limits if limit.scope == "recipient")
        per_call = tuple(limit for limit in adapter.rate_limits if limit.scope != "recipient")
        call_wait = self.limiter.wait_for(first.platform, "*", per_call, now.timestamp())
        ready = []
        for delivery in members:
            wait = call_wait or self.limiter.wait_for(
                first.platform, delivery.address, per_person, now.timestamp()
            )
            if wait > 0:
                await asyncio.to_thread(
                    self._later, delivery, wait, None, count_attempt=False, now=now
                )
            else:
                ready.append(delivery)
        if not ready:
            return
        users = list(dict.fromkeys(delivery.address for delivery in ready))
        locale = outbox.decode_payload(first.payload).locale
        started = self.clock()
        failure: DeliveryError | None = None
        try:
            refs = await adapter.send_many(
                users, reply, key=batching.batch_key(first), locale=locale
            )
            remaining: tuple[str, ...] = ()
        except BatchDeliveryError as exc:
            failure, refs, remaining = exc, exc.delivered, exc.remaining
        except DeliveryError as exc:
            failure, refs, remaining = exc, {}, tuple(users)
        except Exception as exc:  # an adapter bug or a network error nobody mapped
            log.warning("batch of %d failed: %s", len(ready), type(exc).__name__)
            failure = DeliveryError(f"{type(exc).__name__}: {exc}")
            refs, remaining = {}, tuple(users)
        if failure is not None and failure.retry_after is not None:
            self.limiter.pause(first.platform, now.timestamp() + failure.retry_after)
        if refs:
            self.metrics.observe_send(first.platform, (self.clock() - started).total_seconds())
        outcome = batching.split(ready, refs, remaining)
        await asyncio.to_thread(self._settle, outcome, failure)
        # As in `_deliver`: the platform counted the call and each message when it answered.
        decided, answered = now.timestamp(), self.clock().timestamp()
        self.limiter.settle(first.platform, "*", per_call, decided=decided, answered=answered)
        for delivery in ready:
            self.limiter.settle(
                first.platform, delivery.address, per_person, decided=decided, answered=answered
            )

    def _settle(self, outcome: batching.Outcome, failure: DeliveryError | None) -> None:
        self._sent_all(outcome.sent)
        for delivery in outcome.refused:
            self._finish(delivery, error=f"{delivery.platform} refused the recipient")
        if not outcome.retry:
            return
        assert failure is not None
        if failure.permanent:
            for delivery in outcome.retry:
                self._finish(delivery, error=str(failure))
            return
        # One delay and one instant for all: the rest comes due, and is retried, together.
        attempts = max(delivery.attempts for delivery in outcome.retry) + 1
        delay = failure.retry_after
        if delay is None:
            delay = backoff(attempts, self.rng)
        now = self.clock()
        for delivery in outcome.retry:
            self._later(delivery, delay, str(failure), now=now)

    def _sent(self, delivery: Delivery, ref: str) -> None:
        self._sent_all([(delivery, ref)])

    def _sent_all(self, sent: list[tuple[Delivery, str]]) -> None:
        """Mark sent and audit, in one transaction however many were in the batch."""
        now = self.clock()
        marks = []
        for delivery, ref in sent:
            assert delivery.id is not None
            marks.append((delivery.id, ref))
        delivered = [
            Delivered(
                alert_id=delivery.alert_id,
                platform=delivery.platform,
                actor=delivery.employee_id,
                detail=delivery.address if delivery.is_group else "",
            )
            for delivery, _ in sent
            if delivery.alert_id
        ]
        with session_scope(self.engine) as session:
            outbox.mark_all_sent(session, marks, now=now)
            record_delivered(session, delivered, at=now)
        for delivery, _ref in sent:
            self.metrics.count("deliveries_sent_total", delivery.platform)

    def _later(
        self,
        delivery: Delivery,
        retry_after: float | None,
        error: str | None,
        *,
        count_attempt: bool = True,
        now: datetime | None = None,
    ) -> None:
        """`now`: a batch's common instant, so its members come due together again."""
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
                next_attempt_at=(now or self.clock()) + timedelta(seconds=delay),
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

"""The outbox dispatcher: claims due deliveries, sends them through the adapters, records.

Retries use exponential backoff with jitter and never go before a platform's Retry-After
(HTTP 429, WeCom 45009, DingTalk 90002 all arrive as `DeliveryError.retry_after`). Database
work runs in a thread so the event loop keeps answering platforms within their deadlines.
A claim's sends to different recipients go concurrently, a bounded number at a time, and
never two to one recipient (bot/lanes.py): one at a time, a send's round trip and its three
transactions cap a dispatcher below what Slack allows (docs/PERFORMANCE.md, fanout_10k).
So the thread hops and transactions stay off each send's path: a claim is rendered when it
is claimed, the next claim is taken while the one before waits for its recipients' windows,
and sends are recorded together, however many came back while the last record was written.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
PIPELINE = 2
"""Claims in flight at once: the next is read and rendered while one waits on windows."""
RECORD_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class _Claim:
    deliveries: list[Delivery]
    replies: dict[int, Reply | None]
    """Each delivery's message by id, rendered at claim time (None: nothing to send any more)."""
    count: int
    """Claimed, including those that could not be rendered (recorded as failed)."""


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        """Per recipient, the last lane sending to it: the next claim's lane waits for it."""
        self._unrecorded: list[tuple[Delivery, str, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self.limiter = Limiter()
        self.concurrency = SEND_CONCURRENCY

    def wake(self) -> None:
        """Claim now rather than at the next poll: deliveries were just committed in this
        process (`run` asks `storage.outbox.on_enqueued`; callable from any thread, a scan
        commits in a worker thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Drain continuously until `stop` is set; claimed but unsent rows are handed back
        (also when the task is cancelled mid-send at shutdown: the resend keeps its key).

        Up to `PIPELINE` claims are sent at once: the next claim is read (and rendered) while
        the sends of the one before still wait for their recipients' windows, so the senders
        never idle between claims (docs/PERFORMANCE.md, fanout_10k)."""
        self._stopping = stop
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        slots = asyncio.Semaphore(self.concurrency)
        claims: set[asyncio.Task[None]] = set()
        cancelled = False
        stop_waking = outbox.on_enqueued(self.engine, self.wake)
        try:
            while not stop.is_set():
                idle = False
                if len(claims) < PIPELINE:
                    claimed = await self._claim_or_none()
                    if claimed is not None and claimed.count:
                        if claimed.deliveries:
                            claims.add(asyncio.create_task(self._dispatch(claimed, slots)))
                        continue
                    idle = True
                # Nothing due (then until the next poll, or a wake), or enough in flight.
                await self._until_next(stop, claims, poll_seconds if idle else None)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            stop_waking()
            await self._wind_down(claims, cancel=cancelled)

    async def _claim_or_none(self) -> _Claim | None:
        """The next claim; None when the database is away (retry, /healthz says 503)."""
        try:
            return await asyncio.to_thread(self._claim)
        except SQLAlchemyError as exc:
            log.warning("outbox pass failed: %s", type(exc).__name__)
            return None

    async def _until_next(
        self, stop: asyncio.Event, claims: set[asyncio.Task[None]], timeout: float | None
    ) -> None:
        """Wait for a claim in flight to finish, a wake, `stop`, or `timeout` seconds."""
        assert self._wake is not None
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())}
        try:
            done, _ = await asyncio.wait(
                waits | claims, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in waits:
                task.cancel()
        for claim in claims & done:
            if not claim.cancelled() and (error := claim.exception()) is not None:
                log.error("outbox claim failed", exc_info=error)
        claims -= done
        self._wake.clear()

    async def _wind_down(self, claims: set[asyncio.Task[None]], *, cancel: bool) -> None:
        """Let the claims in flight end (each lane stops after its current send; cancelled
        when `run` was), record what was sent, then hand the rest back."""
        if cancel:
            for task in claims:
                task.cancel()
        try:
            await asyncio.gather(*claims, return_exceptions=True)
        except asyncio.CancelledError:  # the shutdown's grace ran out while they finished
            for task in claims:
                task.cancel()
            await asyncio.gather(*claims, return_exceptions=True)
        try:
            await self._recorded()
            await asyncio.to_thread(self._release_own)
        except SQLAlchemyError as exc:  # stopped during an outage: the lease gives them back
            log.warning("outbox claims left to their lease: %s", type(exc).__name__)

    def _release_own(self) -> None:
        with session_scope(self.engine) as session:
            outbox.release_own_claims(session, worker=self.worker)

    def _claim(self) -> _Claim:
        """Claim due deliveries, then render them all in one session: a send then waits for
        nothing but its recipient's window (a render's thread hop and transaction per message
        stretched every recipient's second; docs/PERFORMANCE.md, fanout_10k)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            outbox.release_stale_claims(session, now=now, lease=self.claim_lease)
            claimed = outbox.claim_due(session, now=now, worker=self.worker, limit=self.batch)
        replies: dict[int, Reply | None] = {}
        broken: list[tuple[Delivery, str]] = []
        if claimed:
            with session_scope(self.engine) as session:
                for delivery in claimed:
                    assert delivery.id is not None
                    try:
                        replies[delivery.id] = self.render(session, delivery)
                    except SQLAlchemyError:
                        raise
                    except Exception as exc:  # a malformed payload, a renderer's bug
                        broken.append((delivery, f"not rendered: {type(exc).__name__}: {exc}"))
        for delivery, error in broken:
            log.warning("delivery %s %s", delivery.id, error)
            self._finish(delivery, error=error)
        return _Claim([d for d in claimed if d.id in replies], replies, len(claimed))

    async def drain_once(self) -> int:
        """One claim, sent (or handed back) before this returns; returns how many were handled.
        `run` overlaps claims; tests drive one at a time, each on a new event loop maybe."""
        claimed = await asyncio.to_thread(self._claim)
        await self._dispatch(claimed, asyncio.Semaphore(self.concurrency))
        await self._recorded()
        return claimed.count

    async def _dispatch(self, claim: _Claim, slots: asyncio.Semaphore) -> None:
        """Send one claim, its lanes concurrently; a lane starts after the lanes of earlier
        claims that share a recipient with it (one recipient's messages go one at a time, in
        claim order). A platform with nothing in flight is probed: its first send of the
        claim goes alone, so a platform that is throttling says so (Retry-After) before the
        rest is on the wire, and the rest then waits."""
        loop = asyncio.get_running_loop()
        busy = {platform for (platform, _), task in self._tails.items() if not task.done()}
        probes: dict[str, asyncio.Future[None]] = {}
        tasks = []
        for lane in lanes(batching.group(claim.deliveries, self.adapters)):
            platform = lane[0][0].platform
            keys = {(delivery.platform, delivery.address) for unit in lane for delivery in unit}
            after = {self._tails[key] for key in keys if key in self._tails}
            probe = gate = None
            if platform not in busy:
                gate = probes.get(platform)
                if gate is None:
                    probe = probes[platform] = loop.create_future()
            task = asyncio.create_task(
                self._run_lane(lane, claim.replies, slots, after=after, probe=probe, gate=gate)
            )
            for key in keys:
                self._tails[key] = task
            task.add_done_callback(functools.partial(self._forget, keys=keys))
            tasks.append(task)
        await asyncio.gather(*tasks)

    def _forget(self, lane: asyncio.Task[None], keys: set[tuple[str, str]]) -> None:
        for key in keys:
            if self._tails.get(key) is lane:
                del self._tails[key]

    async def _run_lane(
        self,
        lane: list[Unit],
        replies: Mapping[int, Reply | None],
        slots: asyncio.Semaphore,
        *,
        after: set[asyncio.Task[None]],
        probe: asyncio.Future[None] | None,
        gate: asyncio.Future[None] | None,
    ) -> None:
        """`probe`: set once this lane's first send is done; `gate`: the probe to wait for."""
        try:
            if after:
                await asyncio.wait(after)
            if gate is not None:
                await asyncio.shield(gate)
            recorded: asyncio.Future[None] | None = None
            for members in lane:
                if self._stopping is not None and self._stopping.is_set():
                    return  # shutting down: `run` hands the rest of the claim back
                if recorded is not None:
                    # At most one unrecorded send per recipient, as when each send was recorded
                    # before the next: a crash now doubles no more than the one in flight.
                    await asyncio.shield(recorded)
                first = members[0]
                assert first.id is not None
                if len(members) > 1:  # recorded before `_deliver_many` returns
                    await self._deliver_many(list(members), replies[first.id], slots)
                    recorded = None
                else:
                    recorded = await self._deliver(first, replies[first.id], slots)
                if probe is not None and not probe.done():
                    if recorded is not None:
                        await asyncio.shield(recorded)
                    probe.set_result(None)
        except (SQLAlchemyError, OSError) as exc:  # the rows stay claimed: the lease frees them
            log.warning("outbox lane failed: %s", type(exc).__name__)
        finally:
            if probe is not None and not probe.done():
                probe.set_result(None)

    async def _deliver(
        self, delivery: Delivery, reply: Reply | None, slots: asyncio.Semaphore
    ) -> asyncio.Future[None] | None:
        """Send one delivery when its recipient's window opens, or hand it back; the future
        of its record when it was sent."""
        assert delivery.id is not None
        adapter = self.adapters.get(delivery.platform)
        if adapter is None:
            await asyncio.to_thread(
                self._finish, delivery, error=f"platform {delivery.platform} is not enabled"
            )
            return None
        if reply is None:
            await asyncio.to_thread(self._finish, delivery, error="nothing to send any more")
            return None
        loop = asyncio.get_running_loop()
        first_look = loop.time()
        while True:
            async with slots:
                now = self.clock()
                wait = self.limiter.wait_for(
                    delivery.platform, delivery.address, adapter.rate_limits, now.timestamp()
                )
                if wait <= 0:
                    ref = await self._send(delivery, adapter, now, reply)
                    break
                held = loop.time() - first_look
                if held + wait > 2 * HOLD_SECONDS or not self._may_hold(
                    delivery.platform, wait, now
                ):
                    await asyncio.to_thread(self._later, delivery, wait, None, count_attempt=False)
                    return None
            # Waits in its lane, the slot free for other recipients meanwhile, and looks again
            # when the window opens: asyncio may wake a timer up to its clock resolution
            # early, and `clock` is not the loop's clock, so a look a hair short waits again.
            await asyncio.sleep(wait)
        if ref is None:
            return None
        return self._record(delivery, ref)  # once its slot is free: no longer in flight

    def _may_hold(self, platform: str, wait: float, now: datetime) -> bool:
        """A short wait for a recipient's window, not a platform's Retry-After pause."""
        return wait <= HOLD_SECONDS and self._paused(platform, now) == 0

    def _paused(self, platform: str, now: datetime) -> float:
        """Seconds left of the platform's Retry-After pause (with no limits to check,
        `wait_for` answers only the pause)."""
        return self.limiter.wait_for(platform, "*", (), now.timestamp())

    async def _send(
        self, delivery: Delivery, adapter: Sender, now: datetime, reply: Reply
    ) -> str | None:
        """Send one delivery the limiter has just let through at `now`; its message ref when
        sent (the caller records it), else None (a failure is recorded here)."""
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

    async def _deliver_many(
        self, members: list[Delivery], reply: Reply | None, slots: asyncio.Semaphore
    ) -> None:
        """One message to several people through `send_many` (see `bot.batching`); each
        delivery keeps its own ref, and after a partial failure only the rest is retried."""
        first = members[0]
        adapter = self.adapters[first.platform]
        assert isinstance(adapter, BatchSender)
        if reply is None or reply.attachments:  # a batch carries no attachments
            for delivery in members:
                if (recorded := await self._deliver(delivery, reply, slots)) is not None:
                    await asyncio.shield(recorded)
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

    def _record(self, delivery: Delivery, ref: str) -> asyncio.Future[None]:
        """Mark a send as sent, with the others that came back while a transaction was
        under way (one thread hop and one transaction for all of them, not one per send);
        the future is done once it is recorded (failed while the database is away)."""
        recorded = asyncio.get_running_loop().create_future()
        self._unrecorded.append((delivery, ref, recorded))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_pending())
        return recorded

    async def _record_pending(self) -> None:
        while self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            try:
                await asyncio.to_thread(self._sent_all, [(d, ref) for d, ref, _ in batch])
            except SQLAlchemyError as exc:  # kept, and tried again: a resend would double it
                log.warning("sent deliveries not recorded yet: %s", type(exc).__name__)
                for _, _, recorded in batch:
                    if not recorded.done():
                        recorded.set_exception(exc)
                        recorded.exception()  # retrieved: a lane that ended awaits it no more
                loop = asyncio.get_running_loop()
                again = [(d, ref, loop.create_future()) for d, ref, _ in batch]
                self._unrecorded[:0] = again
                if self._stopping is not None and self._stopping.is_set():
                    return  # `run` tries once more before it hands claims back
                await asyncio.sleep(RECORD_RETRY_SECONDS)
            else:
                for _, _, recorded in batch:
                    if not recorded.done():
                        recorded.set_result(None)

    async def _recorded(self) -> None:
        """Every send so far recorded (raises SQLAlchemyError while the database is away)."""
        if self._recorder is not None and not self._recorder.done():
            await self._recorder
        if self._unrecorded:
            batch, self._unrecorded = self._unrecorded, []
            await asyncio.to_thread(self._sent_all, [(d, ref) for d, ref, _ in batch])

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

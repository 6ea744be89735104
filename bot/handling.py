"""Handler workers: claim inbound rows, run the pipeline, send the answer, mark the row done.

The receiving side (`bot.runtime.Runtime.sink`) writes each verified event into the inbound
table before its platform's ack; a `HandlerWorker` — inside `coverwatch run` (`[chat]
workers = 0`), in the worker processes `run` starts, or in `coverwatch worker` on another
machine — claims rows as the outbox dispatcher claims deliveries (`storage/inbound.py`),
answers through the adapters' `Receiver.reply` (or, from a worker process's loop or a handler
thread, the cheaper `LoopReplier` / `BlockingReplier` paths), then rewrites the cards the answer
names (`Reply.updates`, through `Sender.update`). A row is marked done only after its answer went
out, so a worker killed in between leaves a claim that another takes over after its lease:
nothing acked is lost. Answers are not queued for retry: a platform refusing one is logged,
as before the queue existed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from enum import Enum
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from adapters.base import (
    BlockingReplier,
    LoopReplier,
    MessageNotEditable,
    Receiver,
    ReplyTarget,
    Sender,
)
from bot.metrics import Metrics
from bot.slow_lane import completed
from handlers.context import AppContext
from handlers.i18n import normalize_locale, translate
from handlers.pipeline import Traits, handle, traits
from handlers.types import Action, CardUpdate, Message, Reply
from storage import inbound
from storage.db import ReadSessions

log = logging.getLogger(__name__)

Event = Message | Action


class OnLoop(Enum):
    """Which rows a worker answers on its event loop rather than on its handler threads."""

    NONE = "none"
    READS = "reads"
    """Quick commands that only read (`Command.reads_only`): the serving process on SQLite
    (`[chat] workers = 0`), whose loop also acks. A read there never waits for SQLite's write
    lock (WAL), so the acks are held ~0.3 ms at most; what writes stays on the threads, as do
    the claims (they queue for the lock behind the acks' writes, `Runtime.inbound_writes`)."""
    QUICK = "quick"
    """Every quick command, and the claims: a worker process on SQLite, whose loop only
    answers."""
    CAUGHT_UP = "caught-up"
    """Quick commands of a pass that took every row there was, and the claim after such a pass
    while no row is on the handler threads: a worker process on PostgreSQL. There each query
    holds the loop for its round trip, so with a backlog the rows go to the threads, which
    overlap their waits (every row on the loop, flat out answered 15-20 % fewer); caught up,
    the rows on the loop save the hop to a thread and back (docs/PERFORMANCE.md, session 9)."""

    def handles(self, wants: Traits, *, caught_up: bool) -> bool:
        """Whether a row asking for what `wants` says is handled on the loop; `caught_up`: the
        pass that took it took every row there was. Slow commands never are."""
        if wants.slow:
            return False
        return (
            self is OnLoop.QUICK
            or (self is OnLoop.READS and wants.reads_only)
            or (self is OnLoop.CAUGHT_UP and caught_up)
        )

    def claims(self, *, caught_up: bool, threads_idle: bool) -> bool:
        """Whether the claim runs on the loop rather than on the writer thread."""
        return self is OnLoop.QUICK or (self is OnLoop.CAUGHT_UP and caught_up and threads_idle)


HANDLER_THREADS = 2
"""In the serving process, handlers run on threads of their own, off the loop that acks (a worker
process handles quick commands on its loop: `on_loop`): more than two only fight over the GIL
(docs/PERFORMANCE.md, chat_http); more answers at once take more processes (`[chat] workers`)."""
SLOW_HANDLER_THREADS = 1
"""Slow commands (`Command.slow`, the KPI figures at ~10 ms each) run on a thread apart: 40
`kpi` on the two handler threads held every `help` behind them (bench `kpi_burst`)."""
SLOW_SLOTS = 8
"""Slow commands waiting for their thread without holding a slot (`_start`): beyond these
they hold one, so what a worker has claimed stays bounded."""
SLOTS = 32
"""Rows one worker holds at once: handlers on the threads, answers on their way out. A worker
claims again once half of them are free (`HandlerWorker.refill`): at saturation each answer
freed a slot and woke a pass that claimed that one row, on PostgreSQL a statement reading
every open row per answer (0.37-0.46 claims per answer, issue 18). With a backlog each pass
claims `slots / 2` rows, and PostgreSQL's claim reads every open row (~2.2 ms at 2,000) while
SQLite's holds the write lock the acks wait for. Flat out, slots 8 -> 16 -> 32: PostgreSQL
(workers 2) answered ~595 -> ~725 -> ~880/s, its backends' CPU per answer 1.0 -> 0.62 -> 0.44
ms; SQLite (workers 1) ~956 -> ~1,230 -> ~1,350/s (docs/PERFORMANCE.md, session 9)."""
IDLE_POLL_SECONDS = 0.1
"""How often an idle worker that nothing wakes asks for new rows (`coverwatch worker`), and
the longest an answered row waits to be marked done."""
PACE_SECONDS = 0.1
"""After a pass that took every row there was, the next waits this long, also when woken: the
rows written meanwhile are claimed together, one pass (and one trip to the writer thread) for
several commands instead of one each (docs/PERFORMANCE.md, chat_http: CPU per command at 50/s).
A pass that filled every free slot is followed at once (a backlog is not slowed), and an answer
waits this much at most."""
WOKEN_POLL_SECONDS = 2.0
"""How often an idle worker that is woken when a row is written still asks: for claims whose
worker died (leases run 60 s). In `run` the sink wakes its own process's worker, and the
worker processes through their wake pipe (`bot.workers`): idle, they cost next to no CPU."""
OUTAGE_POLL_SECONDS = 2.0


def encode(event: Event, reply_to: ReplyTarget) -> str:
    """The payload column's JSON: the neutral event and where its answer goes."""
    target = {
        "platform": reply_to.platform,
        "conversation_id": reply_to.conversation_id,
        "user_id": reply_to.user_id,
        "is_direct": reply_to.is_direct,
        "thread": reply_to.thread,
        "extra": dict(reply_to.extra),
    }
    body: dict[str, Any] = {"target": target, "platform": event.platform}
    common = {
        "user_id": event.user_id,
        "conversation_id": event.conversation_id,
        "event_id": event.event_id,
    }
    if isinstance(event, Message):
        body["message"] = {
            **common,
            "is_direct": event.is_direct,
            "text": event.text,
            "locale": event.locale,
        }
    else:
        body["action"] = {
            **common,
            "action_id": event.action_id,
            "value": event.value,
            "message_ref": event.message_ref,
        }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(payload: str) -> tuple[Event, ReplyTarget]:
    """What `encode` wrote; raises ValueError naming what is wrong."""
    try:
        body = json.loads(payload)
        target = ReplyTarget(**body["target"])
        event: Event
        if "message" in body:
            event = Message(platform=body["platform"], **body["message"])
        else:
            event = Action(platform=body["platform"], **body["action"])
        return event, target
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"inbound payload: {type(exc).__name__}") from None


def new_event(event: Event, reply_to: ReplyTarget) -> inbound.NewEvent:
    return inbound.NewEvent(
        platform=event.platform,
        event_id=event.event_id,
        user_key=f"{event.platform}:{event.user_id}",
        payload=encode(event, reply_to),
    )


class HandlerWorker:
    """Claims and answers inbound rows until stopped; several may run on one database."""

    def __init__(
        self,
        app: AppContext,
        receivers: Mapping[str, Receiver],
        senders: Mapping[str, Sender],
        *,
        name: str,
        metrics: Metrics,
        lease: timedelta = inbound.LEASE,
        slots: int = SLOTS,
        writes: Executor | None = None,
        idle_poll: float = IDLE_POLL_SECONDS,
        pace: float = PACE_SECONDS,
        on_loop: OnLoop = OnLoop.NONE,
    ) -> None:
        """`on_loop`: which rows are handled on the event loop, their answers sent from it
        without waiting (`_answer_on_loop`): no handoff to a thread and back, no GIL fought
        over (docs/PERFORMANCE.md, session 8)."""
        self.app = app
        self.receivers = dict(receivers)
        self.blocking = {
            key: receiver
            for key, receiver in receivers.items()
            if isinstance(receiver, BlockingReplier)
        }
        """Receivers that send answers from the handler thread (`_handle_and_reply`)."""
        self.on_loop = on_loop
        self.loop_reads = ReadSessions(app.engine)
        """The connection the rows handled on the loop read on, kept between them."""
        self.loop_repliers = {
            key: receiver
            for key, receiver in receivers.items()
            if isinstance(receiver, LoopReplier)
        }
        """Receivers that start answers on the loop (`_answer_on_loop`)."""
        self.senders = dict(senders)
        self.name = name
        self.metrics = metrics
        self.lease = lease
        self.slots = slots
        self.idle_poll = idle_poll
        """`WOKEN_POLL_SECONDS` when whoever writes rows sets `wake` (or `watch` reads it)."""
        self.pace = pace
        self.wake = asyncio.Event()
        """Set when there is something to do: a sink in the same process wrote a row, or a slot
        freed while every slot was taken."""
        self._timer: asyncio.TimerHandle | None = None
        """Ends the current `_wait`."""
        self._wake_fd: int | None = None
        """The wake pipe `watch` reads."""
        self.threads = ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="handler")
        self.slow_threads = ThreadPoolExecutor(
            SLOW_HANDLER_THREADS, thread_name_prefix="slow-handler"
        )
        self._own_writes = writes is None
        self.writes = writes or ThreadPoolExecutor(1, thread_name_prefix="inbound")
        """The one thread the claims run on; `Runtime` shares its own, which writes the rows its
        sink takes (`inbound_writes`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop `run` or `drain` runs on: where the handler threads hand back what they
        cannot finish alone."""
        self._busy: set[int] = set()
        """Rows holding a slot: queued or handled (on a thread, or on the loop), or their answer on
        its way out. A handler thread takes its row out when it sent the answer itself
        (`_on_thread`), the loop when an answer it started came back (`_answered_on_loop`)."""
        self._handling: dict[int, Future[None]] = {}
        """Rows on a handler thread, until answered there or handed back to the loop."""
        self._sending: set[asyncio.Task[None]] = set()
        """Answers sent from the loop (`_send`), charts waiting for the slow lane among them."""
        self._queued: deque[tuple[int, Event, ReplyTarget]] = deque()
        """Rows to handle on the loop, one an iteration (`_handle_queued`)."""
        self._posting: set[int] = set()
        """Rows whose answer the loop started (`LoopReplier.reply_soon`), until it came back."""
        self._posted: asyncio.Future[None] | None = None
        """What `_settle` waits for while answers started on the loop are out."""
        self._slow: set[int] = set()
        """Slow commands waiting for or running on the slow thread, holding no slot."""
        self._slot_wanted = False
        """The loop waits for a slot: a row leaving `_busy` wakes it (`_free_slot`)."""
        self._answered: deque[int] = deque()
        """Rows answered and not yet marked done: marked with the next claim, in one write.
        Handler threads append to it (a deque: appends and pops need no lock)."""
        self._caught_up = False
        """The last pass took every row there was (`OnLoop.CAUGHT_UP`); not after a claim that
        failed, so the next one, which may wait for a connection, is off the loop."""
        self._held: dict[int, float] = {}
        """Claimed rows not marked done yet, and the loop time their lease was last set: a pass
        renews a lease half gone (`_renew`)."""

    @property
    def refill(self) -> int:
        """Free slots a pass needs to claim: with fewer it waits for answers to free more, deaf
        to the wake pipe (the rows wait for it or another worker), and marks the answered rows
        done within `IDLE_POLL_SECONDS` without claiming. Follows `slots`, which a caller may
        change after construction."""
        return max(1, self.slots // 2)

    async def run(self, stop: asyncio.Event, grace_seconds: float = 10.0) -> None:
        """Claim, answer, repeat; on `stop`, finish what is in flight (up to `grace_seconds`)
        and hand back the rest."""
        loop = self._loop = asyncio.get_running_loop()
        stopping = loop.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self.wake.set())
        outage = False
        while not stop.is_set():
            self.wake.clear()  # before the claim: a row written meanwhile wakes the next pass
            free = self.slots - len(self._busy)
            take = free if free >= self.refill else 0
            if take > 0:  # a full worker leaves its wake-ups unread: the pool wakes another
                self._read_wakes()
            claimed: list[inbound.Claimed] = []
            try:
                await self._renew()
                if take > 0 or self._answered:
                    claimed = await self._claim(take)
                self._caught_up = len(claimed) < take
                if outage:
                    log.info("database reachable again; answering inbound events")
                outage = False
            except SQLAlchemyError as exc:
                if not outage:
                    log.warning("database unreachable (%s); inbound waits", type(exc).__name__)
                outage = True
                self._caught_up = False  # the next claim off the loop: a connect may hang
            for row in claimed:
                self._start(row)
            self._slot_wanted = True  # before looking: a slot freed from now on wakes the loop
            if len(self._busy) > self.slots - self.refill:  # answers freeing slots wake it
                marking = self._answered or self._answering
                await self._wait(IDLE_POLL_SECONDS if marking else None, pipe=False)
            elif len(claimed) < free:  # nothing more to take now: rows gather, then poll
                self._slot_wanted = False
                if self.pace > 0:
                    await self._pace()
                # Rows still on a handler thread are marked done by a pass that comes soon.
                poll = IDLE_POLL_SECONDS if self._answered or self._answering else self.idle_poll
                await self._wait(OUTAGE_POLL_SECONDS if outage else poll)
            # else a full batch came (more may wait), or slots freed while answered rows were
            # marked: the next pass at once
            self._slot_wanted = False
        stopping.cancel()
        await self._settle(loop.time() + grace_seconds)
        self.loop_reads.close()
        for task in self._sending:
            task.cancel()
        try:
            await self._claim(0)  # what was answered is marked done, not handed back
        except SQLAlchemyError:
            log.warning("%d answered inbound rows not marked done", len(self._answered))
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.writes, partial(inbound.release_own, self.app.engine, worker=self.name)
            )
        except SQLAlchemyError:
            log.warning("claims of %s left to their lease (database unreachable)", self.name)
        self.threads.shutdown(wait=False)
        self.slow_threads.shutdown(wait=False)
        if self._own_writes:
            self.writes.shutdown(wait=False)

    @property
    def _answering(self) -> bool:
        """Rows are being answered, to be marked done soon."""
        return bool(self._handling or self._queued or self._posting)

    async def drain(self) -> int:
        """Answer every row that can be claimed now, batch after batch; returns how many
        (for tests: the runtime's path without a running loop)."""
        self._loop = asyncio.get_running_loop()
        answered = 0
        while claimed := await self._claim(self.slots):
            for row in claimed:
                self._start(row)
            await self._settle(None)
            answered += len(claimed)
        self.loop_reads.close()
        await self._claim(0)
        return answered

    async def _settle(self, deadline: float | None) -> None:
        """Until every claimed row is answered (or failed to be), or the loop's `deadline`. A
        row holds its place (`_busy`, `_slow`) until then, or until its answer is a task in
        `_sending`: an answer a handler thread hands back is scheduled before that thread's
        future is done, so nothing falls between."""
        loop = asyncio.get_running_loop()
        while self._busy or self._slow or self._sending:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return
            waits: list[asyncio.Future[Any]] = [
                asyncio.wrap_future(done) for done in list(self._handling.values())
            ]
            waits.extend(self._sending)
            if self._posting:
                self._posted = loop.create_future()
                waits.append(self._posted)
            if waits:
                await asyncio.wait(waits, timeout=timeout)
            else:  # an answer handed back, about to become a task, or a row queued on the loop
                await asyncio.sleep(0)

    async def _claim(self, limit: int) -> list[inbound.Claimed]:
        """Mark the answered rows done and claim up to `limit` more, in one transaction; on
        a database error the answered rows wait for the next pass (raises SQLAlchemyError)."""
        answered = [self._answered.popleft() for _ in range(len(self._answered))]
        for row_id in answered:
            self._held.pop(row_id, None)
        loop = asyncio.get_running_loop()
        leased_at = loop.time()  # no later than the lease the claim sets
        claim = partial(
            inbound.claim,
            self.app.engine,
            worker=self.name,
            now=self.app.clock(),
            limit=limit,
            lease=self.lease,
            answered=answered,
        )
        try:
            # On the loop when handlers run there: the hop to the writer thread cost more than
            # the claim (docs/PERFORMANCE.md, session 8).
            if self.on_loop.claims(caught_up=self._caught_up, threads_idle=not self._handling):
                claimed = claim()
            else:
                claimed = await loop.run_in_executor(self.writes, claim)
        except SQLAlchemyError:
            self._answered.extendleft(reversed(answered))
            raise
        for row in claimed:
            self._held[row.id] = leased_at
        return claimed

    async def _renew(self) -> None:
        """Extend the leases half gone of the rows this worker still answers: a live worker
        whose answer outlasts its lease (a platform slow to take it, every handler thread
        busy) would otherwise see the row taken over, by another worker or by itself, and
        answered again. A claim found lost is logged; its answer may go out twice."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        half_gone = started - self.lease.total_seconds() / 2
        due = [row_id for row_id, leased_at in self._held.items() if leased_at <= half_gone]
        if not due:
            return
        kept = await loop.run_in_executor(
            self.writes,
            partial(
                inbound.renew,
                self.app.engine,
                due,
                worker=self.name,
                now=self.app.clock(),
                lease=self.lease,
            ),
        )
        for row_id in due:
            if row_id not in self._held:  # answered meanwhile
                continue
            if row_id in kept:
                self._held[row_id] = started
            else:
                del self._held[row_id]
                log.warning(
                    "inbound row %s: claim lost to another worker before its answer", row_id
                )

    def _renew_in(self, timeout: float | None) -> float | None:
        """`timeout`, cut to when the oldest held lease is half gone: the loop must pass by
        then to renew it (`_renew`)."""
        if not self._held:
            return timeout
        renew_at = min(self._held.values()) + self.lease.total_seconds() / 2
        renew_in = max(0.0, renew_at - asyncio.get_running_loop().time())
        return renew_in if timeout is None else min(timeout, renew_in)

    def _start(self, row: inbound.Claimed) -> None:
        """Queue the row to be handled on the loop (`on_loop`: `_handle_queued`), or hand it to
        a handler thread, which answers it there when its receiver can (`_on_thread`): no task
        and no hop back to the loop per answer (docs/PERFORMANCE.md, chat_http: CPU per
        command). A slow command (the KPI figures, on the slow thread)
        holds no slot while it waits for that thread, as a chart waiting for the lane holds
        none: with every slot queued behind the one slow thread, a burst of `kpi` kept `help`
        unclaimed."""
        try:
            event, reply_to = decode(row.payload)
        except ValueError as exc:
            log.error("inbound row %s unreadable (%s); dropped", row.id, exc)
            self._mark_done(row.id)
            return
        wants = traits(self.app, event)
        slow = wants.slow
        if self.on_loop.handles(wants, caught_up=self._caught_up):
            self._busy.add(row.id)
            self._queued.append((row.id, event, reply_to))
            if len(self._queued) == 1:
                self._loop_of_run().call_soon(self._handle_queued)
            return
        if slow and len(self._slow) < SLOW_SLOTS:
            self._slow.add(row.id)
        else:
            self._busy.add(row.id)
        threads = self.slow_threads if slow else self.threads
        handled = self._handling[row.id] = threads.submit(self._on_thread, row.id, event, reply_to)
        # Run at once when it is done already, else on the handler thread: never left behind.
        handled.add_done_callback(lambda _: self._handling.pop(row.id, None))

    def _on_thread(self, row_id: int, event: Event, reply_to: ReplyTarget) -> None:
        """On a handler thread: answer, queue the row to be marked done and free its slot; an
        answer that must go out from the loop (`_handle_and_reply`) is handed back to it."""
        try:
            reply = self._handle_and_reply(event, reply_to)
        except Exception as exc:  # `handle` never raises: a bug must not hold a slot for ever
            self._loop_of_run().call_soon_threadsafe(self._left_to_lease, row_id, exc)
        else:
            if reply is not None:
                self._loop_of_run().call_soon_threadsafe(
                    self._send_from_loop, row_id, event, reply_to, reply
                )
                return
            self._answered.append(row_id)
        self._free_slot(row_id)

    def _left_to_lease(self, row_id: int, error: Exception) -> None:
        """On the loop, a row whose answering failed with `error`: logged with its stack, and
        not renewed from now on, so its lease lapses and the row is taken over."""
        log.error("inbound row %s: answering failed; left to its lease", row_id, exc_info=error)
        self._held.pop(row_id, None)

    def _handle_queued(self) -> None:
        """Answer the first queued row; the next waits for the loop's next iteration, so the
        answers' responses and the wake pipe are read between rows."""
        row_id, event, reply_to = self._queued.popleft()
        if self._queued:
            self._loop_of_run().call_soon(self._handle_queued)
        self._answer_on_loop(row_id, event, reply_to)

    def _answer_on_loop(self, row_id: int, event: Event, reply_to: ReplyTarget) -> None:
        """Handle the row on the loop and start its answer (`LoopReplier`), or send it as a task
        (`_send`) when its adapter cannot so, or it has a chart or cards to rewrite. The loop
        goes on with the next row meanwhile: no handoff to a thread and back, no GIL fought
        over (docs/PERFORMANCE.md, session 8)."""
        try:
            reply = handle(self.app, event, self.loop_reads)
        except Exception as exc:  # `handle` never raises: a bug must not hold a slot for ever
            self._left_to_lease(row_id, exc)
            self._free_slot(row_id, on_loop=True)
            return
        receiver = self.loop_repliers.get(event.platform)
        if receiver is not None and not reply.pending and not reply.updates:
            answered = partial(self._answered_on_loop, row_id, event.platform)
            try:
                started = receiver.reply_soon(reply_to, reply, answered)
            except Exception as exc:
                answered(exc)
                return
            if started:
                self._posting.add(row_id)
                return
        self._send_from_loop(row_id, event, reply_to, reply)

    def _answered_on_loop(self, row_id: int, platform: str, error: Exception | None) -> None:
        """An answer `_answer_on_loop` started went out, or failed to (logged, not retried)."""
        if error is not None:
            log.warning("answer on %s failed: %s", platform, type(error).__name__)
        self.metrics.count("inbound_answered_total", platform)
        self._posting.discard(row_id)
        self._mark_done(row_id)
        self._free_slot(row_id, on_loop=True)
        posted = self._posted
        if posted is not None and not posted.done():
            posted.set_result(None)

    def _loop_of_run(self) -> asyncio.AbstractEventLoop:
        """The loop `run` or `drain` runs on, for a handler thread to hand work back to."""
        assert self._loop is not None
        return self._loop

    def _send_from_loop(
        self, row_id: int, event: Event, reply_to: ReplyTarget, reply: Reply
    ) -> None:
        """Send what a handler thread could not. Waiting for the slow lane (a chart) holds no
        slot (issue 18 item 4); the row stays claimed, so the user's next message still waits
        for this answer."""
        task = asyncio.get_running_loop().create_task(self._send(row_id, event, reply_to, reply))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        if reply.pending:
            self._free_slot(row_id)
        else:
            task.add_done_callback(lambda _: self._free_slot(row_id))

    def _free_slot(self, row_id: int, *, on_loop: bool = False) -> None:
        """From a handler thread or the loop (`on_loop`); wakes the loop when it waits for
        slots and `refill` are free."""
        self._slow.discard(row_id)
        self._busy.discard(row_id)
        wanted = self._slot_wanted and len(self._busy) <= self.slots - self.refill
        if wanted and self._loop is not None:
            self._slot_wanted = False
            if on_loop:
                self.wake.set()
            else:
                self._loop.call_soon_threadsafe(self.wake.set)

    async def _wait(self, timeout: float | None, *, pipe: bool = True) -> None:
        """Until `wake` (a row written, an answer sent, `stop`), `timeout`, or a held lease to
        renew: one timer, no task per wait (this runs once per pass, several times per
        message). `pipe`: the wake pipe (`watch`) wakes it too."""
        if self.wake.is_set():
            return
        timeout = self._renew_in(timeout)
        loop = asyncio.get_running_loop()
        fd = self._wake_fd if pipe else None
        if fd is not None:
            loop.add_reader(fd, self.wake.set)
        if timeout is not None:
            self._timer = loop.call_later(timeout, self.wake.set)
        try:
            await self.wake.wait()
        finally:
            if fd is not None:
                loop.remove_reader(fd)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    async def _pace(self) -> None:
        """Wait `pace` reading the wake pipe (`watch`) meanwhile, without ending the wait: the
        rows those bytes announce are claimed by the pass after it, so an empty pipe tells the
        pool (`bot.workers.WakePipes`) that this worker takes what is written now, and it is
        woken again rather than another, which would claim a few rows on its own."""
        fd = self._wake_fd
        loop = asyncio.get_running_loop()
        if fd is not None:
            loop.add_reader(fd, self._woken_while_pacing)
        try:
            await asyncio.sleep(self.pace)
        finally:
            if fd is not None:
                loop.remove_reader(fd)

    def _woken_while_pacing(self) -> None:
        self._read_wakes()
        self.wake.set()  # the wait after the pace returns at once

    def _mark_done(self, row_id: int) -> None:
        """Queue an answered row to be marked done by the next pass, which comes within
        `IDLE_POLL_SECONDS`: a worker killed before it answers that row again after the lease
        (answered twice rather than never), so the window stays as short as it was before
        idle workers waited longer (`WOKEN_POLL_SECONDS`)."""
        self._answered.append(row_id)
        self._held.pop(row_id, None)
        timer = self._timer
        loop = asyncio.get_running_loop()
        if timer is not None and timer.when() - loop.time() > IDLE_POLL_SECONDS:
            timer.cancel()
            self._timer = loop.call_later(IDLE_POLL_SECONDS, self.wake.set)

    def watch(self, fd: int) -> None:
        """Wake on a byte written to `fd` (a pipe's reading end): how the `run` process tells
        its worker processes that it wrote rows. The pipe is read while the worker waits
        (`_wait`) or paces (`_pace`), and emptied before each claim of a worker with free
        slots; a full worker leaves it unread, so the pool wakes another
        (`bot.workers.WakePipes`). End of file (the writer gone) ends the watch; the worker
        keeps polling."""
        os.set_blocking(fd, False)
        self._wake_fd = fd

    def _read_wakes(self) -> None:
        """Empty the wake pipe (before a claim: the rows those bytes announced are claimed
        now); at its end, the writer gone, stop watching it."""
        fd = self._wake_fd
        try:
            while fd is not None:
                data = os.read(fd, 4096)
                if not data:
                    self._wake_fd = None
                if len(data) < 4096:
                    return
        except BlockingIOError:
            return
        except OSError:
            self._wake_fd = None

    def _handle_and_reply(self, event: Event, reply_to: ReplyTarget) -> Reply | None:
        """On a handler thread: the reply, or None when it went out from here already — no
        hop back to the loop for that answer, and no trip through aiohttp
        (`adapters.blocking_http`). What its adapter cannot send so, a chart still
        drawn or cards to rewrite go back to the loop (`_send`)."""
        reply = handle(self.app, event)
        receiver = self.blocking.get(event.platform)
        if receiver is None or reply.pending or reply.updates:
            return reply
        try:
            if not receiver.reply_blocking(reply_to, reply):
                return reply
        except Exception as exc:
            log.warning("answer on %s failed: %s", event.platform, type(exc).__name__)
        self.metrics.count("inbound_answered_total", event.platform)
        return None

    async def _send(self, row_id: int, event: Event, reply_to: ReplyTarget, reply: Reply) -> None:
        """Answer (its chart drawn first), then queue the row to be marked done with the
        worker's next claim (a worker killed before that leaves a claim another takes over
        after its lease: answered twice rather than never)."""
        reply = await completed(reply)
        self.metrics.count("inbound_answered_total", event.platform)
        receiver = self.receivers.get(event.platform)
        if receiver is None:
            log.error(
                "inbound %s event: that platform is not enabled here; dropped", event.platform
            )
        else:
            try:
                await receiver.reply(reply_to, reply)
            except Exception as exc:
                log.warning("answer on %s failed: %s", event.platform, type(exc).__name__)
            else:
                for update in reply.updates:
                    await self._update(update)
        self._mark_done(row_id)

    async def _update(self, update: CardUpdate) -> None:
        """Rewrite one sent card; a failure is logged and the other cards still change."""
        sender = self.senders.get(update.platform)
        if sender is None:  # sent while a platform now disabled was enabled
            return
        try:
            await sender.update(update.message_ref, update.reply)
        except MessageNotEditable:
            log.info(
                "%s message %s cannot be edited; left as sent", update.platform, update.message_ref
            )
        except Exception as exc:
            log.warning("card update on %s failed: %s", update.platform, type(exc).__name__)


def busy_reply(app: AppContext, event: Event) -> Reply:
    """The short answer past `[chat] max_backlog`, in the message's language if it has one."""
    locale = (isinstance(event, Message) and normalize_locale(event.locale)) or app.default_locale
    return Reply(text=translate(locale, "error.busy"), ephemeral=True)

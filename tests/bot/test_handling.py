"""A handler worker sends an answer from the handler thread when its receiver can
(`BlockingReplier`), and through `reply` on the event loop when it cannot; either way the row is
marked done after the answer went out, or failed to (answers are not retried)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from adapters.base import BlockingReplier, DeliveryError, ReplyTarget
from bot.handling import HandlerWorker, new_event
from bot.metrics import Metrics
from handlers.types import Message, Recipient, Reply
from storage import inbound
from tests.support.company import make_app, seed

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class ThreadReceiver:
    """Sends from the calling thread when `blocking` says so; records where each answer went."""

    name = "slack"
    rate_limits = ()

    def __init__(self, blocking: bool | DeliveryError) -> None:
        self.blocking = blocking
        self.answers: list[tuple[str, str, str]] = []
        """(how, thread name, text) per answer."""

    async def start(self, sink: object) -> None: ...

    async def stop(self) -> None: ...

    async def reply(self, target: ReplyTarget, reply: Reply) -> None:
        self.answers.append(("reply", threading.current_thread().name, reply.text))

    def reply_blocking(self, target: ReplyTarget, reply: Reply) -> bool:
        if isinstance(self.blocking, DeliveryError):
            raise self.blocking
        if self.blocking:
            self.answers.append(("blocking", threading.current_thread().name, reply.text))
        return self.blocking

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        raise AssertionError("no proactive message expected")


def write(
    engine: Engine,
    *messages: tuple[str, str],
    response_url: Callable[[str], str] | None = None,
) -> None:
    """Write each (user id, text) as that user's message in their DM with the bot; with
    `response_url`, as a slash command in channel C1 whose answer goes to
    `response_url("r<n>")`."""
    conversation, direct = ("D1", True) if response_url is None else ("C1", False)
    for number, (user, text) in enumerate(messages):
        event = Message(
            platform="slack",
            user_id=user,
            conversation_id=conversation,
            is_direct=direct,
            text=text,
            event_id=f"e{number}",
        )
        target = ReplyTarget(
            platform="slack",
            conversation_id=conversation,
            user_id=user,
            is_direct=direct,
            extra={} if response_url is None else {"response_url": response_url(f"r{number}")},
        )
        assert inbound.admit(engine, new_event(event, target), now=NOW)


def ask(engine: Engine, receiver: ThreadReceiver, *texts: str) -> int:
    """Write `texts` as U001's messages, let a worker drain them; returns how many it answered."""
    write(engine, *(("U001", text) for text in texts))
    worker = HandlerWorker(make_app(engine), {"slack": receiver}, {}, name="w1", metrics=Metrics())
    return asyncio.run(worker.drain())


def test_an_answer_goes_out_from_the_handler_thread_when_the_receiver_can(engine: Engine) -> None:
    seed(engine)
    receiver = ThreadReceiver(blocking=True)
    assert isinstance(receiver, BlockingReplier)
    assert ask(engine, receiver, "help", "coverage") == 2
    assert [(how, thread.startswith("handler")) for how, thread, _ in receiver.answers] == [
        ("blocking", True),
        ("blocking", True),
    ]
    assert inbound.counts_by_state(engine) == {inbound.DONE: 2}


def test_an_answer_the_receiver_cannot_send_so_goes_through_reply(engine: Engine) -> None:
    seed(engine)
    receiver = ThreadReceiver(blocking=False)
    assert ask(engine, receiver, "help") == 1
    [(how, _, text)] = receiver.answers
    assert how == "reply" and text
    assert inbound.counts_by_state(engine) == {inbound.DONE: 1}


def test_a_failed_blocking_answer_is_not_sent_again(engine: Engine) -> None:
    seed(engine)
    receiver = ThreadReceiver(blocking=DeliveryError("slack response_url: 404 expired_url"))
    assert ask(engine, receiver, "help") == 1
    assert receiver.answers == []
    assert inbound.counts_by_state(engine) == {inbound.DONE: 1}


def test_a_slow_command_is_answered_on_its_own_thread(engine: Engine) -> None:
    """`kpi` (`Command.slow`) runs on the slow-handler thread, `help` on the handler threads: a
    burst of KPI figures never holds the threads quick commands wait for (bench kpi_burst)."""
    seed(engine)
    receiver = ThreadReceiver(blocking=True)
    assert ask(engine, receiver, "kpi", "help") == 2
    threads = [thread.split("_")[0] for _, thread, _ in receiver.answers]
    assert threads == ["slow-handler", "handler"]


def test_an_answer_sent_from_a_handler_thread_does_not_call_back_into_the_loop(
    engine: Engine,
) -> None:
    """A handler thread that sent its answer queues the row itself: no task, future and wake-up
    of the event loop per answer (docs/PERFORMANCE.md, chat_http: CPU per command)."""
    seed(engine)
    write(engine, *((f"U00{number}", "help") for number in range(1, 5)))
    receiver = ThreadReceiver(blocking=True)
    worker = HandlerWorker(make_app(engine), {"slack": receiver}, {}, name="w1", metrics=Metrics())
    callers: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def recorded(*args: Any, **kwargs: Any) -> asyncio.Handle:
            callers.append(threading.current_thread().name)
            return threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = recorded  # type: ignore[method-assign,assignment]
        await _answer(worker, receiver, 4)

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert inbound.counts_by_state(engine) == {inbound.DONE: 4}
    assert callers and not [name for name in callers if name.startswith("handler")]


def test_a_worker_whose_slots_are_all_taken_goes_on_when_one_frees(engine: Engine) -> None:
    """With one slot, each answer sent from a handler thread wakes the waiting loop for the
    next claim (a missed wake-up would leave it waiting for its lease renewal, 30 s)."""
    seed(engine)
    write(engine, *((f"U00{number}", "help") for number in range(1, 4)))
    receiver = ThreadReceiver(blocking=True)
    worker = HandlerWorker(
        make_app(engine), {"slack": receiver}, {}, name="w1", metrics=Metrics(), slots=1
    )

    asyncio.run(asyncio.wait_for(_answer(worker, receiver, 3), 20))
    assert inbound.counts_by_state(engine) == {inbound.DONE: 3}


async def _answer(worker: HandlerWorker, receiver: ThreadReceiver, count: int) -> None:
    """Run the worker until `receiver` holds `count` answers, then stop it."""
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while len(receiver.answers) < count:
        await asyncio.sleep(0.01)
    stop.set()
    await running


def test_a_row_whose_answering_failed_is_no_longer_renewed(engine: Engine) -> None:
    """An unexpected failure on the handler thread leaves the row to its lease, as logged:
    renewed by the live worker, it would never be taken over and never answered."""
    seed(engine)
    write(engine, ("U001", "help"))
    worker = HandlerWorker(
        make_app(engine), {"slack": ThreadReceiver(blocking=True)}, {}, name="w1", metrics=Metrics()
    )

    failed = threading.Event()

    def failing(*_: object) -> None:
        failed.set()
        raise RuntimeError("a bug past `handle`")

    worker._handle_and_reply = failing  # type: ignore[method-assign,assignment]

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        while not failed.is_set():  # claimed (and held), then failed
            await asyncio.sleep(0.01)
        while worker._held:  # given up: no longer renewed
            await asyncio.sleep(0.01)
        stop.set()
        await running

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert inbound.counts_by_state(engine) != {inbound.DONE: 1}

"""A worker process's handler worker (`on_loop`) handles quick commands on its event loop and
sends their answers from there, through the Slack adapter's loop client to a loopback Slack:
several out at once, one user's in order, on PostgreSQL only what a caught-up pass took, a
refused answer logged and its row done, a handler that fails leaving its row to its lease."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

import bot.handling
from adapters.slack import SlackAdapter
from bot.handling import HandlerWorker, OnLoop
from bot.metrics import Metrics
from storage import inbound
from tests.bot.test_handling import write as handling_write
from tests.fakes.slack import FakeSlack
from tests.support.company import make_app, seed
from tests.support.slack import BOT_TOKEN


def write(engine: Engine, fake: FakeSlack, *messages: tuple[str, str]) -> None:
    """Each (user id, text) as a slash command whose answer goes to response_url `r<n>`."""
    handling_write(engine, *messages, response_url=fake.response_url)


@pytest.fixture
def handled_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The thread each `handle` ran on."""
    threads: list[str] = []
    handle = bot.handling.handle

    def recorded(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return handle(*args)

    monkeypatch.setattr(bot.handling, "handle", recorded)
    yield threads


@pytest.fixture
def claimed_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The thread each claim ran on."""
    threads: list[str] = []
    claim = inbound.claim

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return claim(*args, **kwargs)

    monkeypatch.setattr(inbound, "claim", recorded)
    yield threads


def worker(engine: Engine, fake: FakeSlack, **options: Any) -> tuple[HandlerWorker, SlackAdapter]:
    adapter = SlackAdapter(bot_token=BOT_TOKEN, signing_secret="s", api_base_url=fake.api_url)
    receivers = {"slack": adapter}
    made = HandlerWorker(
        make_app(engine),
        receivers,
        receivers,
        name="w1",
        metrics=Metrics(),
        **{"on_loop": OnLoop.QUICK, **options},
    )
    return made, adapter


def run_until(made: HandlerWorker, adapter: SlackAdapter, done: Callable[[], bool]) -> None:
    """Run the worker until `done`, then stop it (what is still out is left behind)."""

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(made.run(stop, grace_seconds=0.2))
        while not done():
            await asyncio.sleep(0.01)
        stop.set()
        await running
        await adapter.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def names(fake: FakeSlack) -> list[str]:
    return [name for name, _ in fake.responses]


def test_answers_are_handled_and_sent_on_the_loop(
    engine: Engine, fake_slack: FakeSlack, handled_on: list[str], claimed_on: list[str]
) -> None:
    seed(engine)
    write(engine, fake_slack, *((f"U00{number}", "help") for number in range(1, 5)))
    made, adapter = worker(engine, fake_slack)

    async def drained() -> int:
        answered = await made.drain()
        await adapter.stop()
        return answered

    assert asyncio.run(drained()) == 4
    assert sorted(names(fake_slack)) == ["r0", "r1", "r2", "r3"]
    assert handled_on == ["MainThread"] * 4  # the loop's thread: no handler thread
    assert set(claimed_on) == {"MainThread"}  # nor a hop to the writer thread per pass
    assert inbound.counts_by_state(engine) == {inbound.DONE: 4}
    assert made.metrics._counters[("inbound_answered_total", "slack")] == 4


def test_the_loop_reads_on_the_connection_it_keeps(
    engine: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows handled on the loop read on the worker's `ReadSessions` (one connection kept, not
    one checked out per answer), given back when the worker is done."""
    seed(engine)
    write(engine, fake_slack, *((f"U00{number}", "coverage") for number in range(1, 4)))
    made, adapter = worker(engine, fake_slack)
    given: list[bool] = []
    handle = bot.handling.handle

    def recorded(app: Any, event: Any, reads: Any = None) -> Any:
        given.append(reads is made.loop_reads)
        return handle(app, event, reads)

    monkeypatch.setattr(bot.handling, "handle", recorded)

    async def drained() -> int:
        answered = await made.drain()
        await adapter.stop()
        return answered

    assert asyncio.run(drained()) == 3
    assert given == [True] * 3
    assert engine.pool.checkedout() == 0


def test_the_serving_process_handles_only_reads_on_its_loop_and_claims_on_the_writer(
    engine: Engine, fake_slack: FakeSlack, handled_on: list[str], claimed_on: list[str]
) -> None:
    """`OnLoop.READS` (`[chat] workers = 0` on SQLite): the loop also acks, so a command that
    may write (waiting for SQLite's write lock) and the claims stay off it."""
    seed(engine)
    write(engine, fake_slack, ("U001", "help"), ("U002", "contributions"), ("U003", "coverage"))
    made, adapter = worker(engine, fake_slack, on_loop=OnLoop.READS)

    async def drained() -> int:
        answered = await made.drain()
        await adapter.stop()
        return answered

    assert asyncio.run(drained()) == 3
    assert sorted(names(fake_slack)) == ["r0", "r1", "r2"]
    loop_thread = threading.current_thread().name
    elsewhere = [name for name in handled_on if name != loop_thread]
    assert handled_on.count(loop_thread) == 2  # help and coverage
    assert len(elsewhere) == 1 and elsewhere[0].startswith("handler")  # contributions
    assert claimed_on and not set(claimed_on) & {loop_thread}


@pytest.mark.parametrize(("slots", "on_the_loop"), [(8, 3), (3, 0)])
def test_a_postgresql_worker_handles_on_its_loop_only_what_a_caught_up_pass_took(
    engine: Engine,
    fake_slack: FakeSlack,
    handled_on: list[str],
    slots: int,
    on_the_loop: int,
) -> None:
    """`OnLoop.CAUGHT_UP`: 3 rows for 8 free slots are every row there was, handled on the
    loop; 3 rows filling 3 slots may be a backlog's first, handled on the threads."""
    seed(engine)
    write(engine, fake_slack, *((f"U00{number}", "help") for number in range(1, 4)))
    made, adapter = worker(engine, fake_slack, on_loop=OnLoop.CAUGHT_UP, slots=slots)
    run_until(made, adapter, lambda: len(fake_slack.responses) == 3)
    assert sorted(names(fake_slack)) == ["r0", "r1", "r2"]
    loop_thread = threading.current_thread().name
    assert handled_on.count(loop_thread) == on_the_loop
    assert all(name.startswith("handler") for name in handled_on if name != loop_thread)
    assert inbound.counts_by_state(engine) == {inbound.DONE: 3}


def test_after_a_failed_claim_a_caught_up_worker_claims_off_its_loop(
    engine: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim on the loop that fails may have waited for a connection there: the next one
    goes to the writer thread until a pass is caught up again."""
    seed(engine)
    write(engine, fake_slack, ("U001", "help"))
    claimed_on: list[str] = []
    claim = inbound.claim

    def failing_second(*args: Any, **kwargs: Any) -> Any:
        claimed_on.append(threading.current_thread().name)
        if len(claimed_on) == 2:
            raise OperationalError("claim", {}, ConnectionError("database away"))
        return claim(*args, **kwargs)

    monkeypatch.setattr(inbound, "claim", failing_second)
    made, adapter = worker(engine, fake_slack, on_loop=OnLoop.CAUGHT_UP)
    run_until(made, adapter, lambda: len(claimed_on) >= 3)
    loop_thread = threading.current_thread().name
    first, failed, after = claimed_on[:3]
    assert first.startswith("inbound")  # no pass was caught up yet
    assert failed == loop_thread  # the first pass took every row there was
    assert after.startswith("inbound")
    assert names(fake_slack) == ["r0"]


def test_an_answer_slow_to_come_back_does_not_hold_the_others(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    seed(engine)
    fake_slack.hang_response("r0")
    write(engine, fake_slack, ("U001", "help"), ("U002", "help"), ("U003", "help"))
    made, adapter = worker(engine, fake_slack)
    run_until(made, adapter, lambda: len(fake_slack.responses) == 2)
    assert (sorted(names(fake_slack)), fake_slack.hung) == (["r1", "r2"], ["r0"])
    # Its answer never came back: the row is handed back, not marked done.
    assert inbound.counts_by_state(engine) == {inbound.DONE: 2, inbound.PENDING: 1}


def test_one_users_answers_go_out_in_order(engine: Engine, fake_slack: FakeSlack) -> None:
    seed(engine)
    fake_slack.slow_response("r0", 0.2)
    write(engine, fake_slack, ("U001", "help"), ("U001", "coverage"), ("U001", "help"))
    made, adapter = worker(engine, fake_slack)
    run_until(made, adapter, lambda: len(fake_slack.responses) == 3)
    assert names(fake_slack) == ["r0", "r1", "r2"]
    assert inbound.counts_by_state(engine) == {inbound.DONE: 3}


def test_a_worker_on_one_slot_goes_on_as_each_answer_comes_back(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    seed(engine)
    write(engine, fake_slack, *((f"U00{number}", "help") for number in range(1, 4)))
    made, adapter = worker(engine, fake_slack, slots=1)
    run_until(made, adapter, lambda: len(fake_slack.responses) == 3)
    assert inbound.counts_by_state(engine) == {inbound.DONE: 3}


def test_a_refused_answer_is_logged_and_not_sent_again(
    engine: Engine, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    seed(engine)
    fake_slack.fail_next("response_url", status=404, error="expired_url")
    write(engine, fake_slack, ("U001", "help"))
    made, adapter = worker(engine, fake_slack)

    async def drained() -> int:
        answered = await made.drain()
        await adapter.stop()
        return answered

    with caplog.at_level(logging.WARNING, logger="bot.handling"):
        assert asyncio.run(drained()) == 1
    assert names(fake_slack) == ["r0"]
    assert "answer on slack failed: DeliveryError" in caplog.text
    assert inbound.counts_by_state(engine) == {inbound.DONE: 1}


def test_a_row_whose_handler_failed_is_left_to_its_lease(
    engine: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(engine)
    write(engine, fake_slack, ("U001", "help"))
    failed: list[str] = []

    def failing(*_: object) -> None:
        failed.append("help")
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(bot.handling, "handle", failing)
    made, adapter = worker(engine, fake_slack)
    # Claimed (and held), then failed, then given up: no longer renewed.
    run_until(made, adapter, lambda: bool(failed) and not made._held)
    assert fake_slack.responses == []
    assert inbound.counts_by_state(engine) != {inbound.DONE: 1}

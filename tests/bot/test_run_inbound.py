"""Nothing acked is lost (issue 18): real `coverwatch run` and `coverwatch worker` processes,
slash commands signed as Slack signs them, answers counted where they arrive (the fake Slack's
response_url). Slash commands are the hard case: Slack never sends one again once acked.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.handling import HANDLER_THREADS
from tests.fakes.slack import FakeSlack
from tests.support.run import free_port, healthz, wait_for
from tests.support.run_inbound import (
    USERS,
    TcpProxy,
    answered,
    command,
    open_rows,
    process,
    seed_chat,
    write_chat_config,
)

pytestmark = pytest.mark.slow
RUNNING = "coverwatch running on"
"""Logged once start-up (the scheduler's catch-up included) is over."""


def test_kill_9_after_the_ack_and_before_the_answer_then_restart_answers_once(
    sqlite_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    seed_chat(sqlite_url)
    port = free_port()
    config = write_chat_config(
        tmp_path / "cw.toml", sqlite_url, port, fake_slack, workers=0, spool=tmp_path / "sp"
    )
    deadline = time.monotonic() + 120
    fake_slack.hang_response("first")  # the answer is on its way when the process dies
    with process(config, "run", tmp_path / "first.log", port) as first:
        wait_for(lambda: healthz(port) == 200, deadline, "run to start", first.log)
        assert command(fake_slack, port, "U001", "help", "first").status_code == 200
        wait_for(lambda: fake_slack.hung == ["first"], deadline, "the answer", first.log)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    with process(config, "run", tmp_path / "second.log", port) as second:
        wait_for(lambda: "first" in answered(fake_slack), deadline, "the answer", second.log)
        wait_for(lambda: open_rows(sqlite_url) == 0, deadline, "the row done", second.log)
    assert answered(fake_slack) == {"first": 1}, "answered once, after the restart"


def test_kill_9_of_run_while_its_worker_process_answers_then_restart_answers_each_once(
    sqlite_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """`[chat] workers = 1`: the commands are claimed and being answered by the worker process
    when `run` dies by SIGKILL. The orphaned worker (ended by its parent-death signal, its sends
    still on their way) keeps no claim past its lease: the restarted `run`'s worker answers
    each command, once. One command per handler thread, so every answer is in flight at the
    kill and none waits for a thread (a claim waiting past its 2-s lease would be taken again
    by the same worker)."""
    seed_chat(sqlite_url)
    port = free_port()
    config = write_chat_config(
        tmp_path / "cw.toml", sqlite_url, port, fake_slack, workers=1, spool=tmp_path / "sp"
    )
    names = [f"k{number}" for number in range(HANDLER_THREADS)]
    for name in names:  # each answer is on its way when the process dies
        fake_slack.hang_response(name)
    deadline = time.monotonic() + 120
    with process(config, "run", tmp_path / "first.log", port) as first:
        wait_for(lambda: RUNNING in first.output(), deadline, "run to start", first.log)
        for user, name in zip(USERS, names, strict=False):
            assert command(fake_slack, port, user, "help", name).status_code == 200
        wait_for(lambda: sorted(fake_slack.hung) == names, deadline, "the answers", first.log)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    assert answered(fake_slack) == {}
    with process(config, "run", tmp_path / "second.log", port) as second:
        wait_for(lambda: len(answered(fake_slack)) == len(names), deadline, "answers", second.log)
        wait_for(lambda: open_rows(sqlite_url) == 0, deadline, "every row done", second.log)
    assert answered(fake_slack) == {name: 1 for name in names}, "answered once, after the restart"


def test_an_answer_slower_than_the_claim_lease_is_sent_once(
    sqlite_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """No process dies: Slack takes 5 s to take the answer, longer than the claim's 2-s lease
    (`[chat] claim_lease_seconds`). The worker holding the claim is alive, so the event must
    not be claimed and answered a second time while its answer is on its way."""
    seed_chat(sqlite_url)
    port = free_port()
    config = write_chat_config(
        tmp_path / "cw.toml", sqlite_url, port, fake_slack, workers=1, spool=tmp_path / "sp"
    )
    fake_slack.slow_response("slow", 5.0)
    deadline = time.monotonic() + 120
    with process(config, "run", tmp_path / "run.log", port) as running:
        wait_for(lambda: RUNNING in running.output(), deadline, "run to start", running.log)
        assert command(fake_slack, port, "U001", "help", "slow").status_code == 200
        wait_for(lambda: open_rows(sqlite_url) == 0, deadline, "the row done", running.log)
        wait_for(lambda: "slow" in answered(fake_slack), deadline, "the answer", running.log)
    assert answered(fake_slack) == {"slow": 1}


def test_sigterm_during_a_database_outage_then_restore_answers_every_command_once(
    pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """The scenario of the issue: 10 commands acked while PostgreSQL is unreachable, SIGTERM,
    database back, restart: all 10 answered, once each (they waited in the spool)."""
    seed_chat(pg_url)
    parts = urlsplit(pg_url)
    with TcpProxy(parts.port or 5432) as proxy:
        url = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
        port = free_port()
        config = write_chat_config(
            tmp_path / "cw.toml", url, port, fake_slack, workers=1, spool=tmp_path / "sp.jsonl"
        )
        deadline = time.monotonic() + 150
        with process(config, "run", tmp_path / "first.log", port) as first:
            wait_for(lambda: RUNNING in first.output(), deadline, "run to start", first.log)
            proxy.cut()
            for number in range(10):
                user = USERS[number % len(USERS)]
                answer = command(fake_slack, port, user, "help", f"c{number}")
                assert answer.status_code == 200, "acked: Slack will not send it again"
            first.process.send_signal(signal.SIGTERM)
            assert first.process.wait(timeout=60) == 0, first.output()
        assert answered(fake_slack) == {}
        assert len((tmp_path / "sp.jsonl").read_text().splitlines()) == 10
        proxy.restore()
        with process(config, "run", tmp_path / "second.log", port) as second:
            wait_for(lambda: len(answered(fake_slack)) == 10, deadline, "answers", second.log)
            wait_for(lambda: open_rows(pg_url) == 0, deadline, "every row done", second.log)
    assert answered(fake_slack) == {f"c{number}": 1 for number in range(10)}
    assert not (tmp_path / "sp.jsonl").exists()


def test_two_servers_and_a_separate_worker_answer_each_event_once_in_each_users_order(
    pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Two `run` (a worker process each) and one `coverwatch worker` on one PostgreSQL; every
    command is also delivered to the other server (a retry landing elsewhere)."""
    seed_chat(pg_url)
    ports = [free_port(), free_port()]
    configs = [
        write_chat_config(
            tmp_path / f"cw{n}.toml", pg_url, port, fake_slack, workers=1, spool=tmp_path / f"s{n}"
        )
        for n, port in enumerate(ports)
    ]
    deadline = time.monotonic() + 150
    sent: dict[str, list[str]] = {user: [] for user in USERS}
    with (
        process(configs[0], "run", tmp_path / "a.log", ports[0]) as a,
        process(configs[1], "run", tmp_path / "b.log", ports[1]) as b,
        process(configs[0], "worker", tmp_path / "w.log") as worker,
    ):
        for port, instance in zip(ports, (a, b), strict=True):
            wait_for(lambda port=port: healthz(port) == 200, deadline, "run", instance.log)
        for number in range(30):
            user = USERS[number % len(USERS)]
            name = f"m{number}"
            sent[user].append(name)
            first, second = (ports[0], ports[1]) if number % 2 else (ports[1], ports[0])
            assert command(fake_slack, first, user, "help", name).status_code == 200
            assert command(fake_slack, second, user, "help", name).status_code == 200
        wait_for(lambda: len(answered(fake_slack)) == 30, deadline, "answers", worker.log)
        wait_for(lambda: open_rows(pg_url) == 0, deadline, "every row done", worker.log)
    assert answered(fake_slack) == {f"m{number}": 1 for number in range(30)}
    order = [name for name, _ in fake_slack.responses]
    for user, names in sent.items():
        assert [name for name in order if name in names] == names, f"{user}'s order kept"

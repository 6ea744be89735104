"""The inbound queue's claims, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage import inbound
from storage.db import make_engine
from storage.inbound import NewEvent, admit, backlog, claim, complete, release_own, renew
from storage.models import InboundEvent
from tests.conftest import Migrated

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def event(event_id: str, user: str = "U1", platform: str = "slack") -> NewEvent:
    return NewEvent(
        platform=platform,
        event_id=event_id,
        user_key=f"{platform}:{user}",
        payload=f'{{"id": "{event_id}"}}',
    )


def test_an_event_id_is_admitted_once_per_platform(engine: Engine) -> None:
    assert admit(engine, event("Ev1"), now=NOW)
    assert not admit(engine, event("Ev1"), now=NOW + timedelta(seconds=5))
    assert admit(engine, event("Ev1", platform="wecom"), now=NOW)
    assert backlog(engine) == 2


def test_an_admitted_row_reads_back_as_written(engine: Engine) -> None:
    """On SQLite `admit` binds the row itself (`_admit_on_sqlite`): the time is stored as
    SQLAlchemy stores it (in UTC, its text form), so reads and comparisons agree."""
    in_shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert admit(engine, event("Ev7", user="U7"), now=in_shanghai)
    with engine.connect() as connection:
        [row] = connection.execute(select(InboundEvent.__table__)).mappings().all()  # type: ignore[attr-defined]
    assert row["received_at"] == NOW and row["received_at"].tzinfo is not None
    assert (row["platform"], row["event_id"], row["user_key"]) == ("slack", "Ev7", "slack:U7")
    assert (row["payload"], row["state"], row["attempts"]) == ('{"id": "Ev7"}', "pending", 0)
    assert inbound.forget_before(engine, NOW + timedelta(days=1)) == 0  # open: kept


def test_an_admit_the_database_refuses_raises_sqlalchemys_error_and_frees_the_connection(
    tmp_path: Path, migrated: Migrated
) -> None:
    """The sink tells an outage by `SQLAlchemyError` (refuse or spool): the DB-API error of
    SQLite's own cursor is raised as one, without the event's text, and the write is rolled
    back, its connection fit for the next."""
    engine = migrated(f"sqlite:///{tmp_path}/refusing.db")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbound BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    secret = NewEvent(platform="slack", event_id="Ev8", user_key="slack:U8", payload="S3CRET")
    with pytest.raises(SQLAlchemyError) as refused:
        admit(engine, secret, now=NOW)
    assert "S3CRET" not in str(refused.value)
    with engine.begin() as connection:  # no write transaction was left open
        connection.exec_driver_sql("DROP TRIGGER refuse")
    assert admit(engine, secret, now=NOW)
    assert backlog(engine) == 1
    engine.dispose()


def test_a_claim_takes_the_oldest_row_of_each_user_and_keeps_the_rest_waiting(
    engine: Engine,
) -> None:
    for event_id, user in (("a1", "A"), ("b1", "B"), ("a2", "A"), ("a3", "A"), ("b2", "B")):
        admit(engine, event(event_id, user), now=NOW)
    first = claim(engine, worker="w1", now=NOW, limit=10)
    assert [row.payload for row in first] == ['{"id": "a1"}', '{"id": "b1"}']
    assert claim(engine, worker="w2", now=NOW, limit=10) == []  # A and B are being answered
    assert complete(engine, [first[0].id], worker="w1", now=NOW) == {first[0].id}
    [second] = claim(engine, worker="w2", now=NOW, limit=10)
    assert second.payload == '{"id": "a2"}'  # A's next, never before A's first was answered


def test_a_claim_whose_lease_ran_out_is_taken_over_and_the_dead_worker_cannot_finish_it(
    engine: Engine,
) -> None:
    admit(engine, event("Ev1"), now=NOW)
    [mine] = claim(engine, worker="dead", now=NOW, lease=LEASE)
    assert claim(engine, worker="alive", now=NOW + LEASE - timedelta(seconds=1)) == []
    [taken] = claim(engine, worker="alive", now=NOW + LEASE + timedelta(seconds=1))
    assert (taken.id, taken.attempts) == (mine.id, 2)
    assert complete(engine, [mine.id], worker="dead", now=NOW + LEASE) == set()
    assert complete(engine, [taken.id], worker="alive", now=NOW + LEASE) == {taken.id}
    assert backlog(engine) == 0


def test_lapsed_claims_and_pending_rows_are_taken_oldest_first_up_to_the_limit(
    engine: Engine,
) -> None:
    for event_id, user in (("a1", "A"), ("b1", "B"), ("c1", "C"), ("d1", "D")):
        admit(engine, event(event_id, user), now=NOW)
    dead = claim(engine, worker="dead", now=NOW, limit=2, lease=LEASE)  # a1 and b1
    admit(engine, event("e1", "E"), now=NOW)
    later = NOW + LEASE + timedelta(seconds=1)
    taken = claim(engine, worker="alive", now=later, limit=3)
    assert [row.payload for row in taken] == ['{"id": "a1"}', '{"id": "b1"}', '{"id": "c1"}']
    assert [row.id for row in taken[:2]] == [row.id for row in dead]
    rest = claim(engine, worker="alive", now=later, limit=3)
    assert [row.payload for row in rest] == ['{"id": "d1"}', '{"id": "e1"}']


def test_a_renewed_lease_keeps_a_live_workers_claim_and_a_lost_one_is_not_renewed(
    engine: Engine,
) -> None:
    admit(engine, event("r1", "A"), now=NOW)
    admit(engine, event("r2", "B"), now=NOW)
    [first, second] = claim(engine, worker="w1", now=NOW, limit=2, lease=LEASE)
    later = NOW + LEASE / 2
    assert inbound.renew(engine, [first.id], worker="w1", now=later, lease=LEASE) == {first.id}
    # Past the first lease: the renewed row stays w1's, the other is taken over by w2 ...
    taken = claim(engine, worker="w2", now=NOW + LEASE + timedelta(seconds=1), limit=10)
    assert [row.id for row in taken] == [second.id]
    # ... and w1 cannot renew what it lost, nor what another worker holds.
    assert inbound.renew(engine, [first.id, second.id], worker="w1", now=later) == {first.id}
    assert complete(engine, [first.id], worker="w1", now=later) == {first.id}
    assert inbound.renew(engine, [first.id], worker="w1", now=later) == set(), "done: no lease"


def test_a_clean_stop_hands_its_claims_back(engine: Engine) -> None:
    admit(engine, event("Ev1"), now=NOW)
    claim(engine, worker="w1", now=NOW)
    assert release_own(engine, worker="w1") == 1
    [again] = claim(engine, worker="w2", now=NOW)
    assert again.attempts == 2


def test_concurrent_claimers_share_the_rows_without_taking_one_twice(engine: Engine) -> None:
    for number in range(60):
        admit(engine, event(f"Ev{number}", user=f"U{number}"), now=NOW)

    def drain(worker: str) -> list[int]:
        taken: list[int] = []
        while rows := claim(engine, worker=worker, now=NOW, limit=5):
            for row in rows:
                assert complete(engine, [row.id], worker=worker, now=NOW) == {row.id}
                taken.append(row.id)
        return taken

    with ThreadPoolExecutor(3) as pool:
        shares = list(pool.map(drain, ["w1", "w2", "w3"]))
    everything = [row_id for share in shares for row_id in share]
    assert len(everything) == len(set(everything)) == 60
    assert backlog(engine) == 0


def test_answered_rows_are_forgotten_after_the_retention_and_open_ones_never(
    engine: Engine,
) -> None:
    admit(engine, event("old-done"), now=NOW - timedelta(days=8))
    admit(engine, event("old-open", user="U2"), now=NOW - timedelta(days=8))
    [done] = claim(engine, worker="w", now=NOW, limit=1)
    assert complete(engine, [done.id], worker="w", now=NOW) == {done.id}
    assert inbound.forget_before(engine, NOW - inbound.RETENTION) == 1
    assert backlog(engine) == 1
    assert admit(engine, event("old-done"), now=NOW)  # forgotten: a new event again


def test_answered_rows_are_marked_done_in_the_claim_that_takes_the_next(engine: Engine) -> None:
    for event_id in ("a1", "a2", "a3"):
        admit(engine, event(event_id, "A"), now=NOW)
    admit(engine, event("b1", "B"), now=NOW)
    first = claim(engine, worker="w1", now=NOW, limit=10)
    assert [row.payload for row in first] == ['{"id": "a1"}', '{"id": "b1"}']
    # A's second is claimable only once A's first is done: both in one call.
    [second] = claim(engine, worker="w1", now=NOW, limit=10, answered=[first[0].id])
    assert second.payload == '{"id": "a2"}'
    assert claim(engine, worker="w1", now=NOW, limit=0, answered=[first[1].id, second.id]) == []
    assert backlog(engine) == 1  # a3, claimable now
    assert [row.payload for row in claim(engine, worker="w1", now=NOW)] == ['{"id": "a3"}']


def test_a_lost_claim_marked_answered_keeps_its_users_next_row_waiting(engine: Engine) -> None:
    """On PostgreSQL the mark and the take are one statement, both reading its first
    snapshot: the take treats as answered only the rows the mark did mark, not every id it
    was given, so a row another worker took over still holds its user's next."""
    admit(engine, event("a1", "A"), now=NOW)
    admit(engine, event("a2", "A"), now=NOW)
    [stalled] = claim(engine, worker="dead", now=NOW, lease=LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    [taken_over] = claim(engine, worker="alive", now=later)
    assert taken_over.id == stalled.id
    assert claim(engine, worker="dead", now=later, answered=[stalled.id]) == []
    [second] = claim(engine, worker="alive", now=later, answered=[taken_over.id])
    assert second.payload == '{"id": "a2"}'


def test_a_batch_marks_only_the_rows_still_claimed_by_its_worker(engine: Engine) -> None:
    admit(engine, event("Ev1", "A"), now=NOW)
    admit(engine, event("Ev2", "B"), now=NOW)
    mine, lost = claim(engine, worker="dead", now=NOW, lease=LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    [taken, _] = claim(engine, worker="alive", now=later)
    assert taken.id == mine.id
    assert complete(engine, [mine.id, lost.id], worker="dead", now=later) == set()
    assert complete(engine, [mine.id, lost.id], worker="alive", now=later) == {mine.id, lost.id}
    assert backlog(engine) == 0


def test_a_claim_takes_at_most_its_limit(engine: Engine) -> None:
    """On PostgreSQL the due rows are read once: taken by `IN (SELECT … LIMIT n)`, the
    subquery was read again for each row updated and a claim took more than `n`."""
    for number in range(10):
        admit(engine, event(f"Ev{number}", user=f"U{number}"), now=NOW)
    first = claim(engine, worker="w1", now=NOW, limit=3)
    second = claim(engine, worker="w2", now=NOW, limit=3)
    assert [row.payload for row in first] == [f'{{"id": "Ev{n}"}}' for n in (0, 1, 2)]
    assert [row.payload for row in second] == [f'{{"id": "Ev{n}"}}' for n in (3, 4, 5)]
    assert [row.attempts for row in first + second] == [1] * 6


def test_a_lapsed_claim_newer_than_a_blocked_pending_row_is_taken_over(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oldest pending row waits behind its user's live claim, and a dead worker's claims
    are newer than the head of the open rows reaches: on PostgreSQL the claim reads every
    open row then, as it does for pending rows past the head."""
    monkeypatch.setattr(inbound, "CLAIM_WINDOW_PER_ROW", 1)
    admit(engine, event("a1", "A"), now=NOW)
    admit(engine, event("a2", "A"), now=NOW)
    [a1] = claim(engine, worker="alive", now=NOW, limit=1)
    admit(engine, event("b1", "B"), now=NOW)
    admit(engine, event("c1", "C"), now=NOW)
    assert len(claim(engine, worker="dead", now=NOW, limit=5)) == 2  # b1, c1; a2 waits
    assert renew(engine, [a1.id], worker="alive", now=NOW + LEASE / 2) == {a1.id}
    later = NOW + LEASE + timedelta(seconds=1)
    taken = claim(engine, worker="rescuer", now=later, limit=1)
    assert [row.payload for row in taken] == ['{"id": "b1"}']


@dataclass
class _Modelled:
    """One admitted event, as the queue's rules say it stands."""

    user: str
    state: str = inbound.PENDING
    worker: str = ""
    lease_until: datetime = NOW


def _model_claim(
    rows: dict[str, _Modelled], worker: str, now: datetime, limit: int, answered: list[str]
) -> list[str]:
    """`claim` by its rules, over every open row: the answered rows marked done, then each
    user's oldest open row, pending or with its lease run out, oldest first, up to `limit`."""
    for event_id in answered:
        if rows[event_id].state == inbound.HANDLING and rows[event_id].worker == worker:
            rows[event_id].state = inbound.DONE
    firsts: dict[str, str] = {}
    for event_id, row in rows.items():  # in the order admitted: the ids' order
        if row.state != inbound.DONE:
            firsts.setdefault(row.user, event_id)
    due = [
        event_id
        for event_id in firsts.values()
        if rows[event_id].state == inbound.PENDING or rows[event_id].lease_until < now
    ][:limit]
    for event_id in due:
        rows[event_id].state, rows[event_id].worker = inbound.HANDLING, worker
        rows[event_id].lease_until = now + LEASE
    return due


def _model_renew(rows: dict[str, _Modelled], event_id: str, worker: str, now: datetime) -> bool:
    """`renew` by its rules: a row still claimed by `worker` gets a lease from `now`."""
    row = rows[event_id]
    if row.state != inbound.HANDLING or row.worker != worker:
        return False
    row.lease_until = now + LEASE
    return True


@pytest.mark.parametrize("window_per_row", [1, inbound.CLAIM_WINDOW_PER_ROW])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_claims_follow_the_queues_rules_through_backlogs_blocked_users_and_takeovers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, seed: int, window_per_row: int
) -> None:
    """Random admits, claims by two workers (one stops answering at times; a live one answers
    some of its rows and renews the rest, `_model_renew`) and lapsed leases, each claim
    checked against the rules read over every open row (`_model_claim`). On
    PostgreSQL the claim reads only the head of the open rows, and every open row when a few
    users fill it; a window of one row per slot has it fall back often."""
    monkeypatch.setattr(inbound, "CLAIM_WINDOW_PER_ROW", window_per_row)
    chance = random.Random(seed)
    rows: dict[str, _Modelled] = {}
    held: dict[str, dict[int, str]] = {"w1": {}, "w2": {}}  # row id -> event id
    now = NOW
    for step in range(80):
        for number in range(chance.choice([0, 0, 1, 3, 8])):
            event_id, user = f"E{step}-{number}", chance.choice("ABCDEFG"[: chance.randint(1, 7)])
            assert admit(engine, event(event_id, user), now=now)
            rows[event_id] = _Modelled(user)
        worker = chance.choice(["w1", "w2"])
        now += timedelta(seconds=chance.choice([1, 5, 31]))
        stalled = worker == "w2" and step % 20 < 10
        answering = [] if stalled else [r for r in held[worker] if chance.random() < 0.6]
        answered = [held[worker].pop(row_id) for row_id in answering]
        if not stalled and held[worker]:  # a live worker renews what it still answers
            kept = renew(engine, list(held[worker]), worker=worker, now=now, lease=LEASE)
            assert kept == {
                r for r in held[worker] if _model_renew(rows, held[worker][r], worker, now)
            }
        limit = chance.randint(0, 4)
        now += timedelta(seconds=1)
        expected = _model_claim(rows, worker, now, limit, answered)
        taken = claim(engine, worker=worker, now=now, limit=limit, answered=answering)
        assert [json.loads(row.payload)["id"] for row in taken] == expected, step
        other = held["w2" if worker == "w1" else "w1"]
        for row in taken:  # a row taken over is no longer its first claimer's
            held[worker][row.id] = json.loads(row.payload)["id"]
            other.pop(row.id, None)


@pytest.mark.postgres
def test_an_admit_postgres_refuses_raises_sqlalchemys_error_and_leaves_no_autocommit(
    pg_url: str, migrated: Migrated
) -> None:
    """`admit` and `claim` run in autocommit on the pooled connection's driver: a refused
    write is raised as SQLAlchemy's error, without the event's text, and the connection goes
    back to the pool in transactions again (a later rollback still undoes its writes)."""
    engine = migrated(pg_url)
    engine.dispose()
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no'; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON inbound FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    secret = NewEvent(platform="slack", event_id="Ev8", user_key="slack:U8", payload="S3CRET")
    with pytest.raises(SQLAlchemyError) as refused:
        admit(engine, secret, now=NOW)
    assert "S3CRET" not in str(refused.value)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse ON inbound")
    assert admit(engine, secret, now=NOW)
    assert [row.payload for row in claim(engine, worker="w", now=NOW)] == ["S3CRET"]
    with engine.connect() as connection:  # the one pooled connection, used by both above
        connection.execute(delete(InboundEvent.__table__))  # type: ignore[attr-defined]
        connection.rollback()
    assert backlog(engine) == 1
    engine.dispose()


def test_admit_and_claim_raise_sqlalchemys_error_when_postgresql_cannot_be_reached() -> None:
    """The sink tells an outage by `SQLAlchemyError` (refuse or spool): on PostgreSQL the pool's
    connect raises the driver's own error, raised as SQLAlchemy's (it answered 500 instead)."""
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")
    with pytest.raises(SQLAlchemyError):
        admit(engine, event("Ev1"), now=NOW)
    with pytest.raises(SQLAlchemyError):
        claim(engine, worker="w", now=NOW, answered=[1])
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("analyzed", [False, True], ids=["no-statistics", "analyzed"])
def test_a_claim_on_postgres_reads_rows_bounded_by_its_limit_not_by_the_backlog(
    pg_url: str, migrated: Migrated, analyzed: bool
) -> None:
    """Each user's first row is read from the head of the open rows (`_POSTGRES_CLAIM`): a
    backlog 20 times longer may not make the claim 20 times dearer. Without statistics (a
    new database, a backlog grown in seconds) the `NOT EXISTS` of an earlier version became an
    anti join that read the open rows again for each candidate (84 ms a claim at 3,200); with
    statistics that took the backlog for the common case, the head's walk went down the
    primary key through every answered row kept for the retention. Counted by EXPLAIN
    ANALYZE's rows, loops and rows removed by filters, not by time."""
    engine = migrated(pg_url)

    def rows_read(open_rows: int, answered_rows: int = 5_000) -> int:
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM inbound")
            connection.exec_driver_sql(
                "INSERT INTO inbound (platform, event_id, user_key, payload, received_at, state,"
                " attempts) SELECT 'slack', 'E' || n, 'slack:U' || (n %% 200), '', now(),"
                " CASE WHEN n <= %(answered)s THEN 'done' ELSE 'pending' END, 0"
                " FROM generate_series(1, %(answered)s + %(count)s) AS n",
                {"count": open_rows, "answered": answered_rows},
            )
        if analyzed:
            with engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE inbound"
                )
        values = inbound.postgres_claim_params(engine.dialect, "w", NOW, 8, LEASE, [])
        with engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + inbound._POSTGRES_CLAIM, values
            ).scalars()
            read = 0
            for line in plan:
                for rows, loops in re.findall(r"rows=(\d+) loops=(\d+)", line):
                    read += int(rows) * int(loops)
                for removed in re.findall(r"Rows Removed by Filter: (\d+)", line):
                    read += int(removed)
            connection.rollback()
        return read

    small, large = rows_read(1_000), rows_read(20_000)
    assert large < 2 * small, (small, large)
    assert rows_read(0, answered_rows=20_000) < small  # caught up: the answered rows unread
    engine.dispose()


def test_a_claim_on_sqlite_does_work_bounded_by_its_limit_not_by_the_backlog(
    sqlite_url: str, migrated: Migrated
) -> None:
    """Pending rows and lapsed leases read as two ordered walks of the open-rows index: the
    `OR` of the two states had SQLite read every open row and sort them (~2 ms a claim at
    2,000 open rows, `[chat] max_backlog`, with the write lock held). Counted in SQLite
    virtual-machine steps (a progress handler), not by time: a backlog 20 times longer may
    not make the claim 20 times dearer."""
    engine = migrated(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    statement = inbound._sqlite_claim(engine.dialect)
    values = {
        "now": statement.stamp(NOW),
        "claimer": "w",
        "until": statement.stamp(NOW + LEASE),
        "limit": 8,
    }

    def steps_of_a_claim(open_rows: int) -> int:
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("DELETE FROM inbound")
            connection.executemany(
                "INSERT INTO inbound (platform, event_id, user_key, payload, received_at,"
                " state, attempts) VALUES ('slack', ?, ?, '', ?, 'pending', 0)",
                [(f"E{n}", f"slack:U{n % 200}", statement.stamp(NOW)) for n in range(open_rows)],
            )
            connection.commit()
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            connection.set_progress_handler(count, 100)
            taken = connection.execute(statement.take.sql, statement.take.bind(values)).fetchall()
            connection.set_progress_handler(None, 100)
            connection.rollback()
        assert len(taken) == 8
        return steps[0]

    assert steps_of_a_claim(20_000) < 2 * steps_of_a_claim(1_000)
    engine.dispose()


def test_admit_if_free_writes_at_once_and_declines_while_another_writer_holds_the_lock(
    engine: Engine,
) -> None:
    """The server admits on its event loop only when SQLite's write lock is free; else it
    gets None at once (nothing written) and admits on its writer thread."""
    if engine.dialect.name != "sqlite":
        assert inbound.admit_if_free(engine, event("Ev1"), now=NOW) is None
        return
    assert inbound.admit_if_free(engine, event("Ev1"), now=NOW) is True
    assert inbound.admit_if_free(engine, event("Ev1"), now=NOW) is False  # a duplicate
    with closing(sqlite3.connect(str(engine.url.database), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        assert inbound.admit_if_free(engine, event("Ev2"), now=NOW) is None
        other.execute("ROLLBACK")
    assert backlog(engine) == 1, "nothing written while the lock was held"
    assert inbound.admit_if_free(engine, event("Ev2"), now=NOW) is True
    with engine.connect() as connection:  # the pooled connection waits for locks again
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000

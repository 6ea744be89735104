"""PostgreSQL connections are pinged only when in doubt (`storage.db._pinger`): not at every
checkout, but after a while unused and when the server ended the session meanwhile."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import storage.db
from storage.db import make_engine
from tests.support.databases import counted_pings, end_backend

pytestmark = pytest.mark.postgres


@pytest.fixture
def pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    """An engine and the list its pings are counted in."""
    engine = make_engine(pg_url)
    yield engine, counted_pings(engine, monkeypatch)
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_again_at_once_is_not_pinged(pinged: tuple[Engine, list[int]]) -> None:
    engine, pings = pinged
    first = _backend(engine)
    assert [_backend(engine) for _ in range(3)] == [first] * 3
    assert pings == []


def test_a_connection_unused_for_a_while_is_pinged(
    pinged: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, pings = pinged
    first = _backend(engine)
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)
    assert _backend(engine) == first
    assert pings == [1]


def test_a_session_the_server_ended_is_replaced_without_an_error(
    pinged: tuple[Engine, list[int]],
) -> None:
    """As after a restart: the server sends its FATAL message and closes the socket."""
    engine, pings = pinged
    first = _backend(engine)
    end_backend(first)
    assert _backend(engine) != first
    assert pings == [1]


def test_a_socket_numbered_past_what_select_takes_is_looked_at() -> None:
    """A busy server holds more than 1,024 descriptors; `select` refused a socket numbered past
    that (ValueError), and the checkout would have failed the command."""
    left, right = socket.socketpair()
    high = fcntl.fcntl(left.fileno(), fcntl.F_DUPFD, 1100)
    try:
        assert not storage.db._readable(high)
        right.send(b"FATAL")
        assert storage.db._readable(high)
    finally:
        os.close(high)
        left.close()
        right.close()

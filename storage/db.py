"""Engines and sessions: a SQLite file by default (WAL), PostgreSQL by URL for several instances."""

from __future__ import annotations

import os
import select
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import ArgumentError, InvalidatePoolError, NoSuchModuleError
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUrlError(ValueError):
    """A database URL we cannot use; the message names the fix."""


SUPPORTED_URLS = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:5432/DATABASE"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    Raises `DatabaseUrlError` for a malformed URL, an unsupported scheme or a missing driver.
    """
    for alias in ("postgresql://", "postgres://"):  # postgres:// as Heroku and libpq write it
        if url.startswith(alias):
            url = "postgresql+psycopg://" + url.removeprefix(alias)
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme.split("+")[0] not in ("sqlite", "postgresql"):
        shown = f"scheme {scheme!r} is not supported" if scheme else "no scheme"
        raise DatabaseUrlError(f"database url: {shown}; use {SUPPORTED_URLS}")
    try:
        return _create(url, **kwargs)
    except (ArgumentError, ValueError) as exc:  # ValueError: make_url's int() of a bad port
        reason = str(exc).splitlines()[0]
        raise DatabaseUrlError(
            f"database url: malformed ({reason}); use {SUPPORTED_URLS}"
        ) from None
    except NoSuchModuleError:
        raise DatabaseUrlError(
            f"database url: scheme {scheme!r} is not supported; use {SUPPORTED_URLS}"
        ) from None
    except ModuleNotFoundError as exc:
        raise DatabaseUrlError(
            f"database url: driver {exc.name!r} for {scheme!r} is not installed; "
            "use postgresql:// (psycopg, installed with coverwatch) or sqlite:///"
        ) from None


PG_CONNECT_TIMEOUT_SECONDS = 5
"""How long connecting to PostgreSQL may take: an outage is told, and answered, quickly."""


def is_sqlite(url: str) -> bool:
    """A SQLite URL: one writer at a time, one instance (ARCHITECTURE.md §1)."""
    return url.startswith("sqlite")


def _create(url: str, **kwargs: Any) -> Engine:
    # A failed statement's message would otherwise carry its parameters (id numbers, salaries)
    # into every log line and traceback that shows it (docs/SECURITY.md, "Logs").
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        create_private(engine.url.database)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("connect_args", {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS})
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", _pinger(engine.dialect))
    return engine


IDLE_PING_SECONDS = 5.0
"""A pooled PostgreSQL connection unused this long is pinged before it is used again."""


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _pinger(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    """SQLAlchemy's pessimistic disconnect handling, the `checkout` listener raising
    `DisconnectionError` (docs.sqlalchemy.org/en/20/core/pooling.html, "Disconnect Handling -
    Pessimistic"), instead of `pool_pre_ping`, which pings at every checkout: one of a chat
    command's eight round trips.

    A connection is pinged when it sat in the pool longer than `IDLE_PING_SECONDS` (a
    firewall may have dropped it silently) or when its socket has something to read while
    idle: a server that restarts or ends the session (`pg_terminate_backend`) sends its
    FATAL message and closes the socket, which a zero-timeout `select` sees without a round
    trip. A failed ping invalidates the pool, as pre-ping does; a new connection (its `info`
    cleared) is not pinged."""

    def ping_when_in_doubt(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")
        if since is None or not _in_doubt(dbapi_connection, since):
            return
        try:
            dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # no transaction left open: `read_only` autocommits
        except Exception as exc:
            raise InvalidatePoolError(f"ping failed: {type(exc).__name__}") from None

    return ping_when_in_doubt


def _in_doubt(dbapi_connection: Any, idle_since: float) -> bool:
    """Whether a PostgreSQL connection unused since `idle_since` (`time.monotonic`) must be
    pinged before it is used: idle `IDLE_PING_SECONDS` or longer, or its socket readable."""
    return time.monotonic() - idle_since >= IDLE_PING_SECONDS or _readable(
        dbapi_connection.fileno()
    )


def _readable(fd: int) -> bool:
    """Whether a socket has something to read (or hung up), without waiting: `poll`, which
    takes any descriptor, where `select` refuses one past FD_SETSIZE (1024) in a busy server
    with many open sockets; `select` where there is no `poll` (Windows)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


def create_private(path: str | Path | None) -> None:
    """Create a new file readable by its owner only (0600): a SQLite database (it holds
    salaries and ID numbers, issue 15 item 9), a backup of one, a report of people's
    contributions. SQLite gives the `-wal` and `-shm` files the database file's permissions
    (https://www.sqlite.org/tempfiles.html, "same permissions as the database file";
    os_unix.c findCreateFileMode), so they are 0600 too. An existing file is left as its
    owner set it; `:memory:` and URI filenames are not files we create."""
    name = str(path or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    try:
        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    except OSError:
        return  # a missing directory: the writer's own error says it better


SQLITE_BUSY_TIMEOUT_MS = 30000
"""How long a SQLite connection waits for another's write lock before it fails."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(script_location: Path = MIGRATIONS) -> Config:
    """Alembic's settings for the app's own migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "storage/migrations has no revisions"
    return head


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for a database without our schema."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (`coverwatch init`)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ping(engine: Engine, *, timeout: float = 2.0) -> bool:
    """True when the database answers within `timeout` seconds (for `/healthz`).

    SQLite is probed on a connection of its own: the engine's connections wait up to 30 s on
    a lock, far longer than any health probe waits for an answer.
    """
    try:
        if engine.dialect.name == "sqlite":
            database = engine.url.database or ":memory:"
            with closing(sqlite3.connect(database, timeout=timeout)) as probe:
                probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return True
        with engine.connect() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error.

    `read_only`: the block only reads, so on PostgreSQL each statement runs on its own
    (autocommit), consistent in itself: no BEGIN and COMMIT round trips, a quarter of a chat
    command's (docs/PERFORMANCE.md, chat_http). SQLite's driver begins no transaction for a
    read anyway. Nothing is committed then: closing the session ends it, and the commit's
    bookkeeping was a twelfth of a `coverage` answer's CPU."""
    with Session(engine, expire_on_commit=False) as session:
        if read_only and is_postgres(engine):
            session.connection(execution_options=AUTOCOMMIT)
        try:
            yield session
            if not read_only:
                session.commit()
        except BaseException:
            session.rollback()
            raise


class ReadSessions:
    """Read-only sessions, one at a time, on one connection kept between them: what a
    handler worker's event loop answers (`bot.handling.HandlerWorker`), one command after
    another. `session_scope(read_only=True)` checks a connection out of the pool and back in
    each time, and on PostgreSQL sets autocommit on it and resets it: ~165 µs of CPU a
    session with one statement, here ~90 (docs/PERFORMANCE.md, session 11). On PostgreSQL the
    statements run in autocommit, as `session_scope`'s do, and a connection idle
    `IDLE_PING_SECONDS` or whose socket is readable is pinged first, as the pool pings what
    it hands out (`_pinger`); one that fails the ping, or that an error invalidated, is
    replaced. Not thread-safe: one thread uses it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._idle_since = 0.0

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads only: nothing is committed (raises what its statements raise)."""
        connection = self._usable()
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                yield session
        finally:
            self._idle_since = time.monotonic()

    def _usable(self) -> Connection:
        connection = self._connection
        if connection is not None and not connection.invalidated and is_postgres(self.engine):
            dbapi_connection = connection.connection.dbapi_connection
            if dbapi_connection is not None and _in_doubt(dbapi_connection, self._idle_since):
                try:
                    self.engine.dialect.do_ping(dbapi_connection)
                except Exception:
                    connection.invalidate()
        if connection is not None and connection.invalidated:
            connection.close()
            connection = None
        if connection is None:
            connection = self._connection = self.engine.connect()
            if is_postgres(self.engine):
                connection.execution_options(**AUTOCOMMIT)
        return connection

    def close(self) -> None:
        """Give the connection back to the pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

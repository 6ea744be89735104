"""Harness of `test_run_inbound.py`: `coverwatch run` / `coverwatch worker` processes answering
signed Slack slash commands at the loopback fake Slack, and a TCP proxy in front of PostgreSQL
that a test closes to make the database unreachable (the real server is never touched).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select, update

from storage.db import make_engine, session_scope, upgrade
from storage.models import Employee, InboundEvent
from tests.fakes.slack import FakeSlack
from tests.support.company import seed
from tests.support.run import COVERWATCH, Instance, free_port
from tests.support.run_slack import slash
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, signed

FORM = "application/x-www-form-urlencoded"
USERS = ("U001", "U002", "U003", "U004", "U005", "U006")
"""Slack ids given to E001…E006 (`tests.support.company.PEOPLE`)."""


def seed_chat(url: str) -> None:
    """The small company, every person with a Slack id."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        seed(engine)
        with session_scope(engine) as session:
            session.execute(update(Employee).values(slack_user_id=None))
            for user in USERS:
                session.execute(
                    update(Employee)
                    .where(Employee.employee_id == "E" + user[1:])  # type: ignore[arg-type]
                    .values(slack_user_id=user)
                )
    finally:
        engine.dispose()


def write_chat_config(
    path: Path, url: str, port: int, fake: FakeSlack, *, workers: int, spool: Path
) -> Path:
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        f"[http]\nport = {port}\n"
        f'[slack]\nenabled = true\nmode = "http"\napi_base_url = "{fake.api_url}"\n'
        f"[chat]\nworkers = {workers}\nclaim_lease_seconds = 2\nslow_workers = 0\n"
        f'spool_path = "{spool}"\n',
        encoding="utf-8",
    )
    return path


ENV = {
    **os.environ,
    "COVERWATCH_SLACK__BOT_TOKEN": BOT_TOKEN,
    "COVERWATCH_SLACK__SIGNING_SECRET": SIGNING_SECRET,
}


@contextmanager
def process(config: Path, command: str, log: Path, port: int = 0) -> Iterator[Instance]:
    """`coverwatch run` or `coverwatch worker`; SIGTERM (then SIGKILL) when the block ends."""
    with log.open("ab") as sink:
        child = subprocess.Popen(
            [COVERWATCH, "--config", str(config), command],
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(process=child, log=log, port=port)
    try:
        yield instance
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


def command(fake: FakeSlack, port: int, user: str, text: str, name: str) -> httpx.Response:
    """`/coverwatch text` from `user`, answered at response_url `name`."""
    body = slash(fake, user, text, name=name)
    return httpx.post(
        f"http://127.0.0.1:{port}/slack/events",
        content=body.encode(),
        headers=signed(body, FORM),
        timeout=10,
    )


def answered(fake: FakeSlack) -> Counter[str]:
    """response_url ids with how many answers each got."""
    return Counter(name for name, _ in fake.responses)


def open_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = session.execute(select(InboundEvent.state)).scalars().all()
            return sum(state != "done" for state in rows)
    finally:
        engine.dispose()


class TcpProxy:
    """Loopback TCP forwarder to `target_port`; `cut` closes the port and every connection
    through it (the database is unreachable), `restore` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept (Linux)
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)

"""The local spool: inbound events acked while the database was unreachable.

Only for platforms that never send an event again once they had an answer (Slack slash
commands and clicks, Slack Socket Mode, DingTalk Stream, the console): they were acked, so
they must not be lost. Each event is one JSON line, flushed and fsynced before the ack; the
file is bounded by `[chat] spool_max_bytes` (past it the event is refused, and the adapter
answers 503). When the database answers again, `replay` writes the lines into the inbound
table in order (a line already there is a duplicate and dropped) and empties the file.
Appends and replays hold an exclusive `flock` on `<path>.lock`, so two processes given the
same path (two `run` started in one directory) never lose each other's lines.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from storage.db import create_private
from storage.inbound import NewEvent

log = logging.getLogger(__name__)

Admit = Callable[[NewEvent, datetime], object]
"""Writes one event into the inbound table (raises while the database is unreachable)."""


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's threads, then other processes: one writer of the file at a time."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.with_name(self.path.name + ".lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield

    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def append(self, item: NewEvent, received_at: datetime) -> bool:
        """Keep one event; False when the spool is full (the event is not kept)."""
        line = (
            json.dumps(
                {
                    "platform": item.platform,
                    "event_id": item.event_id,
                    "user_key": item.user_key,
                    "payload": item.payload,
                    "received_at": received_at.isoformat(),
                },
                ensure_ascii=False,
            )
            + "\n"
        ).encode()
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line) > self.max_bytes:
                return False
            create_private(self.path)  # chat texts and reply URLs: owner only (docs/SECURITY.md)
            with self.path.open("ab") as file:
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
        return True

    def replay(self, admit: Admit) -> int:
        """Write every kept event into the table, oldest first; returns how many went.

        A failure stops the replay: what went is cut from the file, the rest stays for the
        next try. A line that cannot be read (a torn last write) is logged and dropped."""
        with self._locked():
            if not self.pending():
                return 0
            lines = self.path.read_bytes().splitlines()
            done = 0
            try:
                for raw in lines:
                    try:
                        body = json.loads(raw)
                        item = NewEvent(
                            platform=body["platform"],
                            event_id=body["event_id"],
                            user_key=body["user_key"],
                            payload=body["payload"],
                        )
                        received_at = datetime.fromisoformat(body["received_at"])
                    except (ValueError, KeyError, TypeError):
                        log.error("spool %s: an unreadable line dropped", self.path)
                        done += 1
                        continue
                    admit(item, received_at)
                    done += 1
            finally:
                self._keep(lines[done:])
            return done

    def _keep(self, lines: list[bytes]) -> None:
        """Rewrite the file with what is left (atomically: a crash keeps the old or the new)."""
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        create_private(temporary)
        with temporary.open("wb") as file:
            file.write(b"".join(line + b"\n" for line in lines))
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.path)

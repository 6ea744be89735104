"""Benchmark databases: seed a template once, hand each side its own identical copy.

SQLite copies are file copies (after a WAL checkpoint); PostgreSQL copies are
`CREATE DATABASE … TEMPLATE …`, which clones the files without replaying inserts. Every
database made here is dropped by `close()`, PostgreSQL ones included.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_reason(url: str) -> str | None:
    """None when the PostgreSQL server answers, else why not (the benchmark is skipped)."""
    try:
        import psycopg

        with psycopg.connect(_libpq(url), connect_timeout=3, autocommit=True):
            return None
    except Exception as exc:  # any failure means: no server to measure on
        return f"no PostgreSQL server at {url}: {type(exc).__name__}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Databases:
    """Templates by key, and per-side copies, on one backend (`sqlite` or `postgres`)."""

    def __init__(self, backend: str, workdir: Path, pg_url: str = DEFAULT_PG) -> None:
        self.backend = backend
        self.workdir = workdir
        self.pg_url = pg_url
        self._templates: dict[str, str] = {}
        self._made: list[str] = []

    def template(self, key: str, seed: Callable[[Engine], None], base: str | None = None) -> str:
        """The URL of a database seeded by `seed` (on a copy of the `base` template, if given),
        built on first request and then reused."""
        if key not in self._templates:
            from storage.db import make_engine

            url = self._new_url(f"tpl_{key}") if base is None else self.copy(base, f"tpl_{key}")
            engine = make_engine(url)
            try:
                seed(engine)
            finally:
                engine.dispose()
            if self.backend == "sqlite":
                with sqlite3.connect(self._path(url)) as connection:
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._templates[key] = url
        return self._templates[key]

    def copy(self, template_url: str, side: str) -> str:
        url = self._new_url(side, template=template_url)
        if self.backend == "sqlite":
            shutil.copyfile(self._path(template_url), self._path(url))
        return url

    def drop_copies(self) -> None:
        """Drop every database but the templates (a 1M-employee copy is gigabytes)."""
        keep = set(self._templates.values())
        self._drop([url for url in self._made if url not in keep])
        self._made = [url for url in self._made if url in keep]

    def empty(self, side: str) -> str:
        return self._new_url(side)

    def _new_url(self, label: str, template: str | None = None) -> str:
        name = f"cwbench_{label}_{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            url = f"sqlite:///{self.workdir / name}.db"
        else:
            import psycopg

            clause = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
            with psycopg.connect(_libpq(self.pg_url), autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"{clause}'.encode())
            url = f"{self.pg_url.rsplit('/', 1)[0]}/{name}"
        self._made.append(url)
        return url

    @staticmethod
    def _path(url: str) -> Path:
        return Path(url.removeprefix("sqlite:///"))

    def close(self) -> None:
        self._drop(self._made)
        self._made.clear()
        self._templates.clear()

    def _drop(self, urls: list[str]) -> None:
        if self.backend == "postgres":
            import psycopg

            with psycopg.connect(_libpq(self.pg_url), autocommit=True) as connection:
                for url in reversed(urls):
                    name = url.rsplit("/", 1)[1]
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        else:
            for url in urls:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(self._path(url)) + suffix).unlink(missing_ok=True)

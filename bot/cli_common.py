"""What every CLI command shares: global options, one-line errors, the progress bar.

ARCHITECTURE.md §3: every command that can fail exits non-zero with a one-line reason on
stderr. Commands raise `CliError` (or a known library error) and `reported` turns it into that
line and exit code 1; a traceback would bury the reason an operator needs.
"""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from bot.app import AppError, database_error, fixed_clock, open_app, shifted_clock
from bot.config import ConfigError, Settings, load_settings
from core.policy_loader import PolicyError
from handlers.context import AppContext, utc_now
from storage.audit import record_views
from storage.db import DatabaseUrlError
from storage.imports import ImportFileError
from storage.sealing import DataKeyError

P = ParamSpec("P")
R = TypeVar("R")
EXIT_FAILURE = 1


class CliError(Exception):
    """A failure the user can act on; its message is the whole one-line report."""


@dataclass(frozen=True)
class Options:
    """The global options, kept on the Typer context for every command."""

    config: Path | None = None
    db: str | None = None
    today: date | None = None
    """Hidden `--today YYYY-MM-DD`: freeze the clock (tests, reproducible demos)."""

    def settings(self) -> Settings:
        settings = load_settings(self.config, database_url=self.db)
        for note in settings.deprecations:
            typer.echo(f"warning: {note}", err=True)
        return settings

    def local_today(self, settings: Settings) -> date:
        """Today in the company's time zone (or `--today`), without opening the database."""
        if self.today is not None:
            return self.today
        return utc_now().astimezone(ZoneInfo(settings.bot.timezone)).date()

    def app(self, settings: Settings | None = None, *, running: bool = False) -> AppContext:
        """The app context; `--today` stops the clock, or shifts it for a running bot."""
        settings = settings or self.settings()
        clock = None
        if self.today is not None:
            zone = ZoneInfo(settings.bot.timezone)
            clock = (
                shifted_clock(self.today, zone, utc_now)
                if running
                else fixed_clock(self.today, zone)
            )
        return open_app(settings, clock=clock)


def cli_user() -> str:
    """Who runs the command, for the audit log: the operating-system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def cli_actor() -> str:
    """The audit log's actor of a CLI command: `cli:` and the operating-system user."""
    return f"cli:{cli_user()}"


def record_cli_views(
    session: Session, context: AppContext, subjects: Iterable[str | None], command: str
) -> None:
    """The people a command's output shows, as views by whoever runs it (storage.audit.VIEW)."""
    record_views(
        session, at=context.now(), actor=cli_actor(), subjects=subjects, detail=command, via="cli"
    )


def options(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    return found if found is not None else Options()


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_FAILURE)


def reported(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (
            CliError,
            AppError,
            ConfigError,
            PolicyError,
            ImportFileError,
            DatabaseUrlError,
            DataKeyError,
        ) as exc:
            raise fail(str(exc)) from None
        except DBAPIError as exc:
            raise fail(str(database_error(exc))) from None

    return wrapper


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{option}: not a date (expected YYYY-MM-DD): {text!r}") from None


def print_json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich bar on stderr fed by `(done, total)` callbacks; silent when stderr is no terminal,
    so scripts and CI logs get only the summary line."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update

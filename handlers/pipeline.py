"""THE entry point of every conversation: adapters, the CLI's `ask` and the console call `handle`.

One path for everyone: route, identify the user, choose the reply language, check the role,
run the command in one transaction (a command that only reads: its statements each on their
own, `Command.reads_only`). It never raises: a user-caused problem is an answer
(usage hint, refusal, "not registered"), anything else a short apology. Logs name the command,
platform and event, and the failure's type and stack, never the text, figures or exception
message, which may hold an ID number or a salary (ARCHITECTURE.md §2 "Secrets and PII").
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlmodel import Session

from core.locales import DEFAULT_LOCALE, ZH_HK
from core.policy import AccountSettings
from handlers.alert_actions import BUTTON_COMMANDS, button_arguments
from handlers.commands import build_router
from handlers.context import AppContext
from handlers.i18n import normalize_locale, translate
from handlers.router import Command, Request, Router
from handlers.types import Action, Message, Reply
from storage.db import ReadSessions, session_scope
from storage.employees import Asker, asker

logger = logging.getLogger(__name__)
HK_TAG = "hk"
"""Policy tag of Hong Kong accounts: their staff are answered in Traditional Chinese by default."""


@cache
def router() -> Router:
    """The one router of every command, built on first use."""
    return build_router()


@dataclass
class _Progress:
    """How far a request got, so the apology and the log line can say it."""

    locale: str
    command: str = "-"


def handle(app: AppContext, event: Message | Action, reads: ReadSessions | None = None) -> Reply:
    """The reply to one message or button click; never raises. `reads`: where a command that
    only reads runs, when the caller keeps a connection for them (a handler worker's loop)."""
    progress = _Progress(locale=normalize_locale(app.default_locale) or DEFAULT_LOCALE)
    try:
        matched = _route(event, app.today())
        reads_only = matched is None or matched[0].reads_only
        scope = (
            reads.session()
            if reads is not None and reads_only
            else session_scope(app.engine, read_only=reads_only)
        )
        with scope as session:
            return _handle(app, event, session, progress, matched)
    except Exception as exc:
        logger.error(
            "command %s failed on %s (event %s): %s\n%s",
            progress.command,
            event.platform,
            event.event_id,
            type(exc).__name__,
            _frames(exc),
        )
        return Reply(text=translate(progress.locale, "error.internal"))


@dataclass(frozen=True)
class Traits:
    """What the command an event asks for needs, to choose where it is answered."""

    slow: bool
    """`Command.slow`: the KPI figures, on a thread apart."""
    reads_only: bool
    """`Command.reads_only` (also true of what matches no command, answered without a write)."""


def traits(app: AppContext, event: Message | Action) -> Traits:
    """The event's command's `Traits`. Never raises: what cannot be matched here is answered
    (and its failure logged) by `handle`, as a command that may write."""
    try:
        matched = _route(event, app.today())
    except Exception:
        return Traits(slow=False, reads_only=False)
    if matched is None:
        return Traits(slow=False, reads_only=True)
    return Traits(slow=matched[0].slow, reads_only=matched[0].reads_only)


def _frames(exc: BaseException) -> str:
    """Where it failed (file, line, function), without source lines or local values."""
    frames = traceback.extract_tb(exc.__traceback__)
    return "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in frames)


def _handle(
    app: AppContext,
    event: Message | Action,
    session: Session,
    progress: _Progress,
    matched: tuple[Command, tuple[str, ...]] | None,
) -> Reply:
    is_direct = isinstance(event, Message) and event.is_direct
    found = asker(session, event.platform, event.user_id)
    if found is None:
        return Reply(
            text=translate(progress.locale, "error.not_registered"), ephemeral=not is_direct
        )
    employee = found.employee
    progress.locale = _locale(app, found, event)
    if matched is None:
        return Reply(text=translate(progress.locale, "error.unknown"))
    command, args = matched
    progress.command = command.name
    if not command.allows(employee.role):
        refusal = translate(progress.locale, "error.forbidden")
        return Reply(text=refusal, ephemeral=not is_direct)
    request = Request(
        event=event,
        employee=employee,
        account_settings=found.account,
        session=session,
        locale=progress.locale,
        app=app,
        command=command.name,
        args=args,
        is_direct=is_direct,
    )
    return router().invoke(command, request)


def _locale(app: AppContext, found: Asker, event: Message | Action) -> str:
    """`lang` preference > the employee's imported locale > the message's locale > Traditional
    Chinese for a Hong Kong account's staff > default."""
    message_locale = normalize_locale(event.locale) if isinstance(event, Message) else None
    fallback = (
        message_locale
        or _regional_locale(app, found.account)
        or normalize_locale(app.default_locale)
        or DEFAULT_LOCALE
    )
    chosen = found.chosen_locale or found.employee.locale or fallback
    return normalize_locale(chosen) or fallback


def _regional_locale(app: AppContext, account: AccountSettings | None) -> str | None:
    policy = app.policies.get(account.policy_id) if account is not None else None
    return ZH_HK if policy is not None and HK_TAG in policy.tags else None


def _route(event: Message | Action, today: date) -> tuple[Command, tuple[str, ...]] | None:
    if isinstance(event, Message):
        return router().match(event.text, today=today)
    name = BUTTON_COMMANDS.get(event.action_id)
    command = None if name is None else router().get(name)
    if command is None:
        return None
    return command, button_arguments(event.value)

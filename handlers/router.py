"""The explicit command router: aliases in both languages, roles, help and usage per command.

As in errbot, a handler *returns* its reply and declares its help where it is registered; the
router is a plain object (no globals), so tests and the console build the same one as the
platforms. Matching forgives what chat clients add: case, full-width characters and spaces
(NFKC), a trailing `?`/`？`, and Slack's `/coverwatch` prefix.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

from sqlmodel import Session

from core.periods import Period
from core.policy import AccountSettings
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.types import Action, Message, Reply
from handlers.understanding import fold, understand
from storage.accounts import AccountPolicy, account_policies, account_policy
from storage.employees import Person

_PREFIXES = ("/coverwatch", "coverwatch")
_TRAILING = "?!.。 "
_LEADING_FILLERS = frozenset({"my", "show", "me", "please", "what", "what's", "whats", "is", "the"})
_LEADING_FILLERS_ZH = ("请帮我查询", "请查询", "查询", "查看", "查一下", "看看", "请", "我的")
_ARGUMENT_FILLERS = frozenset({"for", "of", "in", "please", "的"})
"""Trailing punctuation people add to a question (full-width forms are already NFKC-folded)."""


class UserError(Exception):
    """A problem the user caused (an alert not in scope, a plan too late): a catalog answer."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class UsageError(UserError):
    """The arguments do not fit the command: the answer adds the command's usage hint."""

    def __init__(self, key: str = "", **values: object) -> None:
        super().__init__(key, **values)


@dataclass(frozen=True, kw_only=True)
class Request:
    """Everything a command handler needs; built by the pipeline for one message or click."""

    event: Message | Action
    employee: Person
    account_settings: AccountSettings | None = None
    """The asker's account as stored, read with the asker (`storage.employees.asker`)."""
    session: Session
    locale: str
    app: AppContext
    command: str
    args: tuple[str, ...] = ()
    is_direct: bool = False
    """Button clicks carry no conversation type, so they count as shared (masked)."""
    router: Router | None = None
    """The router that dispatched this request (what `help` lists)."""

    def t(self, key: str, /, **values: object) -> str:
        return translate(self.locale, key, **values)

    @property
    def today(self) -> date:
        return self.app.today()

    @cached_property
    def accounts(self) -> dict[str, AccountPolicy]:
        return account_policies(self.session, self.app.policies)

    @cached_property
    def account(self) -> AccountPolicy:
        """The asker's own account, without the query of every account that `accounts` is."""
        settings = self.account_settings
        if settings is None:  # not stored: the same KeyError `accounts` gives
            return self.accounts[self.employee.account_id]
        return account_policy(settings, self.app.policies)


Handler = Callable[[Request], Reply]


@dataclass(frozen=True, kw_only=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    handler: Handler
    help_key: str
    usage_key: str
    roles: frozenset[str] | None = None
    """None: every registered user may ask."""
    min_args: int = 0
    max_args: int = 0
    personal: bool = False
    """Answers with the asker's own data: ephemeral when asked in a shared conversation."""
    reads_only: bool = False
    """Writes nothing, and reads what it shows in one statement after the asker's: it runs
    without a transaction around it on PostgreSQL (no BEGIN and COMMIT round trips;
    `storage.db.session_scope`), as unknown commands and unregistered users are answered."""
    slow: bool = False
    """Computes over the whole company (the KPI figures): a handler worker answers it on a
    thread of its own, so a burst of it never holds the threads quick commands wait for."""

    def allows(self, role: str) -> bool:
        return self.roles is None or role in self.roles


@dataclass
class Router:
    _commands: dict[str, Command] = field(default_factory=dict)
    _aliases: dict[str, Command] = field(default_factory=dict)

    def command(
        self,
        name: str,
        *aliases: str,
        help_key: str,
        usage_key: str,
        roles: Collection[str] | None = None,
        args: tuple[int, int] = (0, 0),
        personal: bool = False,
        reads_only: bool = False,
        slow: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a handler under its name and aliases (matched case-insensitively)."""

        def register(handler: Handler) -> Handler:
            self.add(
                Command(
                    name=name,
                    aliases=(name, *aliases),
                    handler=handler,
                    help_key=help_key,
                    usage_key=usage_key,
                    roles=None if roles is None else frozenset(roles),
                    min_args=args[0],
                    max_args=args[1],
                    personal=personal,
                    reads_only=reads_only,
                    slow=slow,
                )
            )
            return handler

        return register

    def add(self, command: Command) -> None:
        for alias in command.aliases:
            key = normalize(alias).casefold()
            if key in self._aliases:
                raise ValueError(f"alias {alias!r} is already registered")
            self._aliases[key] = command
        self._commands[command.name] = command

    def include(self, other: Router) -> None:
        for command in other:
            self.add(command)

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def match(
        self, text: str, *, today: date | None = None
    ) -> tuple[Command, tuple[str, ...]] | None:
        """The command a text asks for and its arguments, or None.

        People write "my contributions for 2026-10" or "我的医保状态?": when the literal
        text does not fit a command, the same text without polite filler words is tried, and
        then the phrasings of `handlers.understanding` (`today` dates "this month").
        """
        cleaned = normalize(text)
        if not cleaned:
            return None
        fallback = None
        for candidate in dict.fromkeys((cleaned, without_fillers(cleaned))):
            found = self._match_literal(candidate)
            if found is None:
                continue
            command, args = found
            useful = tuple(a for a in args if a.casefold() not in _ARGUMENT_FILLERS)
            if command.min_args <= len(useful) <= command.max_args:
                return command, useful
            fallback = fallback or found
        meant = understand(cleaned, today, self._commands)
        if meant is not None and (fallback is None or _reads_better(fallback, meant)):
            return self._commands[meant[0]], meant[1]
        return fallback

    def _match_literal(self, cleaned: str) -> tuple[Command, tuple[str, ...]] | None:
        head, _, rest = cleaned.partition(" ")
        if head.casefold() in self._aliases:
            return self._aliases[head.casefold()], tuple(rest.split())
        # Chinese needs no space between command and argument: `缴费明细2025-06`, `确认12`.
        # The argument must then start with ASCII, so `查看告警` is not `查` + `看告警`.
        for alias in sorted(self._aliases, key=len, reverse=True):
            if not alias.isascii() and cleaned.startswith(alias):
                rest = cleaned[len(alias) :]
                if rest[:1].isascii():
                    return self._aliases[alias], tuple(rest.split())
        return None

    def invoke(self, command: Command, request: Request) -> Reply:
        """Check the argument count, run the handler, answer bad arguments with the usage hint."""
        request = replace(request, command=command.name, router=self)
        try:
            if not command.min_args <= len(request.args) <= command.max_args:
                raise UsageError()
            reply = command.handler(request)
        except UserError as error:
            return Reply(text=error_text(request, command, error), ephemeral=not request.is_direct)
        if command.personal and not request.is_direct:
            reply = replace(reply, ephemeral=True)
        return reply


def _reads_better(
    literal: tuple[Command, tuple[str, ...]], meant: tuple[str, tuple[str, ...]]
) -> bool:
    """A sentence naming its command may still need understanding (`kpi last month`); typed
    arguments that do not fit (`coverage of everyone`, `contributions 2025-06 extra`) keep
    the usage hint."""
    command, typed = literal
    name, understood = meant
    return name == command.name and bool(understood) and not set(understood) & set(typed)


def error_text(request: Request, command: Command, error: UserError) -> str:
    lines = [request.t(error.key, **error.values)] if error.key else []
    if isinstance(error, UsageError):
        lines.append(request.t("format.usage", usage=request.t(command.usage_key)))
    return "\n".join(lines)


def normalize(text: str) -> str:
    """Fold what chat clients vary: width, spacing, Traditional characters, a trailing `?` and
    `/coverwatch`.

    Case is kept (arguments are echoed back as typed); command words compare casefolded.
    """
    folded = " ".join(fold(unicodedata.normalize("NFKC", text)).split())
    lowered = folded.casefold()
    for prefix in _PREFIXES:
        if lowered == prefix or lowered.startswith(prefix + " "):
            folded = folded[len(prefix) :].strip()
            break
    return folded.rstrip(_TRAILING)


def without_fillers(text: str) -> str:
    """The text without leading filler words ("my", "show me", "我的", "查询")."""
    words = text.split(" ")
    while len(words) > 1 and words[0].casefold() in _LEADING_FILLERS:
        words = words[1:]
    stripped = " ".join(words)
    for prefix in _LEADING_FILLERS_ZH:
        if stripped.startswith(prefix) and len(stripped) > len(prefix):
            return stripped[len(prefix) :].strip()
    return stripped


def period_arg(value: str) -> Period:
    """A `YYYY-MM` argument, or a usage error that names what was wrong."""
    try:
        return Period.parse(value)
    except ValueError:
        raise UsageError("error.bad_period", value=value) from None

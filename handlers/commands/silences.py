"""`silence` / `静默`: mute an account, a kind or one alert for a while (hr, finance).

`silence shanghai 3d bureau system down`, `静默 due_soon 2d`, `silence 12 overdue 1d`: the words
before the duration name what to mute (an account, a kind, an alert; together they must all
match), the rest is the reason, which goes into the audit log. The rules, urgent kinds muted
only by naming their kind among them, are `core.silences`. `silence list` / `静默 列表` shows
the silences in force and `silence remove 3` / `静默 解除 3` ends one early, as
`coverwatch silence list|remove` do: HR should not need a terminal to undo a silence.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.alerts import URGENT_KINDS, AlertKind
from core.escalation import parse_duration
from core.locales import SUPPORTED_LOCALES
from core.silences import MAX_SILENCE, SilenceError, new_silence
from handlers.alert_actions import parse_alert_id
from handlers.formatting import account_name, label, moment, person
from handlers.i18n import translate
from handlers.router import Request, Router, UsageError, UserError
from handlers.types import Reply
from handlers.understanding import fold
from storage.alerts import get_alert
from storage.employees import COMPANY_ROLES
from storage.models import Alert, Silence
from storage.silences import add_silence, remove_silence, silences_in_force

router = Router()
MAX_WORDS = 40
"""Targets, the duration and a reason of a sentence or two."""
LIST_WORDS = frozenset({"list", "ls", "列表", "清单", "清單"})
REMOVE_WORDS = frozenset({"remove", "rm", "解除", "取消"})


@dataclass
class _Target:
    account_id: str | None = None
    kind: AlertKind | None = None
    alert: Alert | None = None


def _word(text: str) -> str:
    return fold(text).casefold()


def _kind(word: str) -> AlertKind | None:
    """A kind by its id (`overdue`) or its name in any language (`已逾期`), or by the one name
    that contains the word (`逾期`, `停保`): people shorten the names they read."""
    names = {
        kind: {
            _word(kind.value),
            *(_word(translate(loc, f"kind.{kind}")) for loc in SUPPORTED_LOCALES),
        }
        for kind in AlertKind
    }
    typed = _word(word)
    exact = [kind for kind, known in names.items() if typed in known]
    within = [kind for kind, known in names.items() if any(typed in name for name in known)]
    found = exact or (within if len(typed) >= 2 else [])
    return found[0] if len(found) == 1 else None


def _account(request: Request, word: str) -> str | None:
    """An account by its id (`shanghai`) or the name people call it (`上海`, `Hong Kong MPF`)."""
    for account_id, account in request.accounts.items():
        names = {account_id, request.app.account_names.get(account_id, account_id)}
        names |= {account.policy.display_name(loc) for loc in SUPPORTED_LOCALES}
        if _word(word) in {_word(name) for name in names}:
            return account_id
    return None


def _targets(request: Request, words: tuple[str, ...]) -> _Target:
    target = _Target()
    taken: object
    for word in words:
        alert_id = parse_alert_id(word)
        if alert_id is not None:
            alert = get_alert(request.session, alert_id)
            if alert is None:
                raise UserError("alert.not_found", id=alert_id)
            taken, target.alert = target.alert, alert
        elif (kind := _kind(word)) is not None:
            taken, target.kind = target.kind, kind
        elif (account_id := _account(request, word)) is not None:
            taken, target.account_id = target.account_id, account_id
        else:
            raise UsageError("silence.bad_target", value=word)
        if taken is not None:
            raise UsageError("silence.twice", value=word)
    return target


def _duration_at(args: tuple[str, ...]) -> int:
    """Where the duration is: the first word starting with a digit that is not an alert id."""
    for index, word in enumerate(args):
        if word[:1].isdigit() and parse_alert_id(word) is None:
            return index
    raise UsageError("silence.no_duration")


@router.command(
    "silence",
    "静默",
    "靜默",
    "mute",
    help_key="cmd.silence.help",
    usage_key="cmd.silence.usage",
    roles=COMPANY_ROLES,
    args=(1, MAX_WORDS),
)
def silence(request: Request) -> Reply:
    first = _word(request.args[0])
    if first in LIST_WORDS and len(request.args) == 1:
        return _in_force(request)
    if first in REMOVE_WORDS:
        return _remove(request)
    if len(request.args) < 2:
        raise UsageError()
    at = _duration_at(request.args)
    if at == 0:
        raise UsageError()
    try:
        length = parse_duration(request.args[at], longest=MAX_SILENCE)
    except ValueError:
        raise UsageError("silence.bad_duration", value=request.args[at]) from None
    target = _targets(request, request.args[:at])
    alert = target.alert
    if alert is not None and target.kind is None and alert.kind in URGENT_KINDS:
        kind = label(request, "kind", alert.kind)
        raise UserError("silence.urgent_alert", id=alert.id, kind=kind, kind_id=alert.kind)
    now = request.app.now()
    rule = new_silence(
        now=now,
        duration=length,
        account_id=target.account_id,
        kind=target.kind,
        alert_id=alert.id if alert is not None else None,
    )
    row = add_silence(
        request.session,
        rule,
        reason=" ".join(request.args[at + 1 :]),
        by=request.employee.employee_id,
        via=request.event.platform,
        at=now,
    )
    until = moment(row.ends_at, request.app.timezone)
    lines = [request.t("silence.done", id=row.id, what=_what(request, row), until=until)]
    if target.kind is None and alert is None:
        lines.append(request.t("silence.urgent_kept", target=request.args[0]))
    return Reply(text="\n".join(lines))


def _what(request: Request, row: Silence) -> str:
    """What a silence mutes, as people name it: `北京 · 已逾期 · #12`."""
    what = [account_name(request, row.account_id)] if row.account_id else []
    what += [label(request, "kind", row.kind)] if row.kind else []
    what += [f"#{row.alert_id}"] if row.alert_id is not None else []
    return " · ".join(what)


def _in_force(request: Request) -> Reply:
    rows = silences_in_force(request.session, request.app.now())
    if not rows:
        return Reply(text=request.t("silence.none"))
    lines = [request.t("silence.title", count=len(rows))]
    for row in rows:
        line = request.t(
            "silence.row",
            id=row.id,
            what=_what(request, row),
            until=moment(row.ends_at, request.app.timezone),
            by=person(request, row.created_by),
        )
        reason = request.t("silence.reason", reason=row.reason) if row.reason else ""
        lines.append(line + reason)
    lines.append(request.t("silence.remove_hint"))
    return Reply(text="\n".join(lines))


def _remove(request: Request) -> Reply:
    if len(request.args) != 2:
        raise UsageError()
    silence_id = parse_alert_id(request.args[1])
    if silence_id is None:
        raise UsageError("silence.bad_id", value=request.args[1])
    try:
        remove_silence(
            request.session,
            silence_id,
            by=request.employee.employee_id,
            via=request.event.platform,
            at=request.app.now(),
        )
    except SilenceError:
        raise UserError("silence.not_in_force", id=silence_id) from None
    return Reply(text=request.t("silence.removed", id=silence_id))

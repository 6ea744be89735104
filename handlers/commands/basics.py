"""`help` and `lang`: what this user may ask, and the language they want answers in."""

from __future__ import annotations

from handlers.formatting import list_reply
from handlers.i18n import normalize_locale, translate
from handlers.router import Request, Router, UsageError
from handlers.types import Reply
from storage.employees import set_locale

router = Router()


@router.command("help", "帮助", "h", help_key="cmd.help.help", usage_key="cmd.help.usage")
def help_command(request: Request) -> Reply:
    """Only the commands this user's role may use, so help never advertises a refusal."""
    commands = request.router or router
    lines = [
        request.t("format.help_line", usage=request.t(c.usage_key), help=request.t(c.help_key))
        for c in commands
        if c.allows(request.employee.role)
    ]
    return list_reply(request.t("help.title"), lines)


@router.command(
    "lang",
    "语言",
    "language",
    help_key="cmd.lang.help",
    usage_key="cmd.lang.usage",
    args=(1, 1),
)
def lang(request: Request) -> Reply:
    locale = normalize_locale(request.args[0])
    if locale is None:
        raise UsageError("lang.unsupported", value=request.args[0])
    set_locale(request.session, request.employee.employee_id, locale)
    # The confirmation is already in the chosen language.
    return Reply(text=translate(locale, "lang.done"))

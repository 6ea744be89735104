"""`help` and `lang`: what this user may ask, and the language they want answers in."""

from __future__ import annotations

from core.periods import Period
from handlers.formatting import list_reply
from handlers.i18n import has_key, normalize_locale, translate
from handlers.router import Request, Router, UsageError
from handlers.types import Reply
from storage.employees import set_locale

router = Router()


@router.command(
    "help", "帮助", "h", help_key="cmd.help.help", usage_key="cmd.help.usage", reads_only=True
)
def help_command(request: Request) -> Reply:
    """Only the commands this user's role may use (help never advertises a refusal), each with
    an example to copy."""
    commands = request.router or router
    month = str(Period.of(request.today).prev())
    lines = []
    for command in commands:
        if not command.allows(request.employee.role):
            continue
        usage, text = request.t(command.usage_key), request.t(command.help_key)
        example_key = command.help_key.removesuffix(".help") + ".example"
        if has_key(example_key):
            example = request.t(example_key, month=month, today=request.today.isoformat())
            lines.append(
                request.t("format.help_line_example", usage=usage, help=text, example=example)
            )
        else:
            lines.append(request.t("format.help_line", usage=usage, help=text))
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

"""`oncall` / `值班`: who answers for company-wide alerts now and next, and each account's owners.

Everyone may ask: an employee whose cover is at risk should know whom HR has on it. The answer
comes from the same `core.oncall.Rotation` and `[accounts.<id>] owners` that routing uses
(`storage.routing.company_owners`), so the chat never disagrees with who was notified.
"""

from __future__ import annotations

from handlers.formatting import account_name, person
from handlers.router import Request, Router
from handlers.types import Reply

router = Router()


@router.command(
    "oncall",
    "值班",
    "on-call",
    help_key="cmd.oncall.help",
    usage_key="cmd.oncall.usage",
    reads_only=True,
)
def oncall(request: Request) -> Reply:
    rotation, today = request.app.rotation, request.today
    lines = []
    member = rotation.on_call(today)
    if member is None:
        lines.append(request.t("oncall.nobody"))
    else:
        lines.append(request.t("oncall.now", who=person(request, member)))
        change = rotation.next_change(today)
        if change is not None:
            day, following = change
            lines.append(
                request.t("oncall.next", who=person(request, following), date=day.isoformat())
            )
    owners = request.app.account_owners
    for account_id in sorted(request.accounts):
        ids = owners.get(account_id, ())
        named = request.t("oncall.sep").join(person(request, e) for e in ids)
        who = named or request.t("oncall.no_owner")
        lines.append(request.t("oncall.owners", account=account_name(request, account_id), who=who))
    return Reply(text="\n".join(lines))

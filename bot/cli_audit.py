"""`coverwatch audit [--employee ID] [--since YYYY-MM-DD] [--json]` (ARCHITECTURE.md §3).

Who viewed whose personal data, and the changes made from chat or the API, oldest first.
`--since` is a day in the company's timezone (`[bot] timezone`), as people read the log.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated

import typer

from bot.cli_common import options, parse_date, print_json, reported
from bot.json_output import audit_json
from storage.audit import audit_entries
from storage.db import session_scope


@reported
def audit(
    ctx: typer.Context,
    employee: Annotated[
        str | None, typer.Option("--employee", help="Entries by or about this employee id.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this day on (YYYY-MM-DD).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
) -> None:
    """Who viewed whose personal data, and changes made from chat."""
    context = options(ctx).app()
    start = None
    if since is not None:
        local = datetime.combine(parse_date(since, "--since"), time(), tzinfo=context.timezone)
        start = local.astimezone(UTC)
    with session_scope(context.engine) as session:
        entries = audit_entries(session, employee=employee, since=start)
    if as_json:
        print_json(audit_json(entries))
        return
    if not entries:
        typer.echo("no audit entries")
    for entry in entries:
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        when = at.astimezone(context.timezone).strftime("%Y-%m-%d %H:%M")
        subject = f" {entry.subject}" if entry.subject else ""
        via = f" ({entry.via})" if entry.via else ""
        detail = f": {entry.detail}" if entry.detail else ""
        typer.echo(f"{when} {entry.actor} {entry.action}{subject}{via}{detail}")

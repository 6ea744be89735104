"""`coverwatch silence add|list|remove`: mute an account, a kind or one alert for a while.

The rules are `core.silences` (urgent kinds only by an explicit `--kind`, at most 31 days);
`storage.silences` stores and audits them, the operating-system user as the actor. A silence
ends by itself: nothing needs to run when it does.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import CliError, cli_user, options, print_json, reported
from bot.json_output import silences_json
from core.alerts import AlertKind
from core.escalation import parse_duration
from core.silences import MAX_SILENCE, SilenceError, new_silence
from storage.alerts import get_alert
from storage.db import session_scope
from storage.models import Account
from storage.silences import add_silence, describe, remove_silence, silences_in_force

app = typer.Typer(help="Mute notifications and escalation for a while (audited, self-expiring).")
VIA = "cli"


def _kind(text: str | None) -> AlertKind | None:
    if text is None:
        return None
    try:
        return AlertKind(text)
    except ValueError:
        kinds = ", ".join(kind.value for kind in AlertKind)
        raise CliError(f"--kind: unknown alert kind {text!r} (one of {kinds})") from None


@app.command()
@reported
def add(
    ctx: typer.Context,
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 4h, 3d (at most 31d).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")],
    account: Annotated[str | None, typer.Option("--account", help="An account id.")] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="An alert kind; overdue/suspension_imminent need it named."),
    ] = None,
    alert: Annotated[int | None, typer.Option("--alert", help="One alert's id.")] = None,
) -> None:
    """Mute the alerts matching every option given, until the time runs out."""
    try:
        length = parse_duration(duration, longest=MAX_SILENCE)
    except ValueError as exc:
        raise CliError(f"--for: {exc}") from None
    if not reason.strip():
        raise CliError("--reason: say why (it goes into the audit log)")
    context = options(ctx).app()
    now = context.now()
    with session_scope(context.engine) as session:
        if account is not None and session.get(Account, account) is None:
            raise CliError(f"--account: unknown account {account!r}")
        named = get_alert(session, alert) if alert is not None else None
        if alert is not None and named is None:
            raise CliError(f"--alert: no alert #{alert}")
        try:
            silence = new_silence(
                now=now,
                duration=length,
                account_id=account,
                kind=_kind(kind),
                alert_id=alert,
                alert_kind=AlertKind(named.kind) if named is not None else None,
            )
        except SilenceError as exc:
            raise CliError(str(exc)) from None
        row = add_silence(
            session, silence, reason=reason.strip(), by=f"cli:{cli_user()}", via=VIA, at=now
        )
        summary = f"silence #{row.id}: {describe(row)}"
    typer.echo(summary)


@app.command("list")
@reported
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The silences in force, soonest end first."""
    context = options(ctx).app()
    with session_scope(context.engine) as session:
        rows = silences_in_force(session, context.now())
        document = silences_json(rows)
    if as_json:
        print_json(document)
        return
    if not document["silences"]:
        typer.echo("no silences in force")
    for row in document["silences"]:
        typer.echo(f"#{row['id']} {row['summary']} (by {row['created_by']})")


@app.command()
@reported
def remove(
    ctx: typer.Context, silence_id: Annotated[int, typer.Argument(help="The silence's id.")]
) -> None:
    """End a silence now: what it held goes out, escalation resumes."""
    context = options(ctx).app()
    try:
        with session_scope(context.engine) as session:
            remove_silence(session, silence_id, by=f"cli:{cli_user()}", via=VIA, at=context.now())
    except SilenceError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"silence #{silence_id} removed")

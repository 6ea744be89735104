"""`coverwatch doctor [--json]`: every check of `bot.doctor`, one line each; exit 1 on a fail."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_common import options, print_json, progress_bar, reported
from bot.config import ConfigError
from bot.doctor import Check, Level, run_checks


@reported
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The checks as JSON.")] = False,
) -> None:
    """Check the config, the database, each platform's credentials, who can be reached and
    how far the policies can be trusted; exit 1 when any check fails."""
    opts = options(ctx)
    try:
        settings = opts.settings()
    except ConfigError as exc:
        checks = [Check(name="config", level=Level.FAIL, detail=str(exc))]
    else:
        with progress_bar("doctor: checking"):  # a platform that does not answer takes seconds
            checks = run_checks(settings, today=opts.local_today(settings))
    if as_json:
        print_json(
            {
                "ok": all(c.level is not Level.FAIL for c in checks),
                "checks": [
                    {
                        "name": c.name,
                        "level": str(c.level),
                        "detail": c.detail,
                        "fix": c.fix or None,
                    }
                    for c in checks
                ],
            }
        )
    else:
        for check in checks:
            fix = f" — fix: {check.fix}" if check.fix else ""
            typer.echo(f"{check.level:<4} {check.name}: {check.detail}{fix}")
    if any(c.level is Level.FAIL for c in checks):
        raise typer.Exit(1)

"""`coverwatch sync users --platform slack|dingtalk|wecom [--dry-run] [--force] [--json]`.

Prints one line per employee that needs attention (matched, replaced, conflict, not found,
error) and a summary; `--json` prints every outcome. Writes happen in one transaction after
all look-ups, so an interrupted run or refused credentials change nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated, Any

import typer
from sqlmodel import Session

from adapters.directory import LookupRefused, UserDirectory
from bot.cli_common import CliError, options, print_json, progress_bar, reported
from bot.config import Settings
from bot.user_sync import STORED, Outcome, Status, sync_users
from core.platforms import PLATFORMS as CHAT_PLATFORMS
from storage.user_ids import ids_in_use, set_user_ids, sync_candidates

PLATFORMS = tuple(spec.name for spec in CHAT_PLATFORMS)

app = typer.Typer(help="Fill platform user ids from the employees' email or mobile.")


def directory_for(settings: Settings, platform: str) -> UserDirectory:
    """The platform's directory from config; a missing credential is one line naming the key."""

    def secret(section: str, key: str, value: Any) -> str:
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if not text:
            raise CliError(
                f"[{section}] {key} is not set (or COVERWATCH_{section.upper()}__{key.upper()})"
            )
        return str(text)

    if platform == "slack":
        from adapters.slack.directory import SlackDirectory

        return SlackDirectory(
            bot_token=secret("slack", "bot_token", settings.slack.bot_token),
            api_base_url=settings.slack.api_base_url,
        )
    if platform == "dingtalk":
        from adapters.dingtalk.directory import DingTalkDirectory

        return DingTalkDirectory(
            client_id=secret("dingtalk", "client_id", settings.dingtalk.client_id),
            client_secret=secret("dingtalk", "client_secret", settings.dingtalk.client_secret),
            api_base_url=settings.dingtalk.api_base_url,
        )
    from adapters.wecom.directory import WeComDirectory

    return WeComDirectory(
        corp_id=secret("wecom", "corp_id", settings.wecom.corp_id),
        secret=secret("wecom", "secret", settings.wecom.secret),
        api_base_url=settings.wecom.api_base_url,
        agent_id=settings.wecom.agent_id,
    )


@app.command("users")
@reported
def users(
    ctx: typer.Context,
    platform: Annotated[str, typer.Option("--platform", help="slack, dingtalk or wecom.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Look up; store nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a stored id the platform contradicts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Every outcome as JSON.")] = False,
) -> None:
    """Look each current employee up (Slack by email; DingTalk by mobile; WeCom by mobile,
    else email) and store the user id found."""
    if platform not in PLATFORMS:
        raise CliError(f"--platform: expected one of {', '.join(PLATFORMS)}, got {platform!r}")
    opts = options(ctx)
    settings = opts.settings()
    context = opts.app(settings)
    directory = directory_for(settings, platform)
    with Session(context.engine) as session:
        candidates = sync_candidates(session, platform, context.today())
        in_use = ids_in_use(session, platform)
    with progress_bar(f"sync users {platform}") as progress:
        try:
            outcomes = asyncio.run(_run(directory, candidates, in_use, force, progress))
        except LookupRefused as exc:
            raise CliError(f"{exc}; nothing stored") from None
    stored = {o.employee_id: o.user_id for o in outcomes if o.status in STORED and o.user_id}
    if not dry_run and stored:
        with Session(context.engine) as session:
            set_user_ids(session, platform, stored)
            session.commit()
    _report(platform, outcomes, dry_run=dry_run, as_json=as_json)


async def _run(
    directory: UserDirectory,
    candidates: list[Any],
    in_use: dict[str, str],
    force: bool,
    progress: Any,
) -> list[Outcome]:
    try:
        return await sync_users(directory, candidates, in_use, force=force, progress=progress)
    finally:
        await directory.close()


def _report(platform: str, outcomes: list[Outcome], *, dry_run: bool, as_json: bool) -> None:
    counts = Counter(str(outcome.status) for outcome in outcomes)
    if as_json:
        print_json(
            {
                "platform": platform,
                "dry_run": dry_run,
                "counts": {str(status): counts.get(str(status), 0) for status in Status},
                "employees": [
                    {
                        "employee_id": o.employee_id,
                        "status": str(o.status),
                        "user_id": o.user_id,
                        "previous": o.previous,
                        "reason": o.reason,
                    }
                    for o in outcomes
                ],
            }
        )
        return
    for o in outcomes:
        if o.status in (Status.UNCHANGED, Status.NO_CONTACT):
            continue
        found = f" {o.user_id}" if o.user_id else ""
        why = f" ({o.reason})" if o.reason else ""
        typer.echo(f"{o.employee_id}: {o.status}{found}{why}")
    summary = ", ".join(f"{counts.get(str(s), 0)} {s}".replace("_", " ") for s in Status)
    prefix = "dry run, nothing stored: " if dry_run else ""
    typer.echo(f"{prefix}sync users {platform}: {summary}")

"""`coverwatch doctor`: is everything wired right? One line per check, `ok`/`warn`/`fail`
with the fix, so a first-time operator finds the wrong token or the forgotten `init` before
the first alert is lost. Credentials are proven with a real call to each enabled platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import or_, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from adapters.directory import LookupFailed, LookupRefused
from bot.cli_common import CliError
from bot.cli_sync import PLATFORMS, directory_for
from bot.config import Settings
from core.calendars import cn_calendar_reach
from core.policy import Policy
from core.policy_loader import PolicyError, load_policies
from storage.db import (
    DatabaseUrlError,
    head_revision,
    is_postgres,
    make_engine,
    ping,
    schema_revision,
)
from storage.employees import PLATFORM_ID_COLUMNS
from storage.models import Account, Delivery, Employee, InboundEvent
from storage.rekey import check_keys, plain_id_numbers, stored_key_ids
from storage.sealing import DATA_KEY_VARIABLE, DataKeyError

UNREACHABLE_SHOWN = 5


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str = ""


def run_checks(settings: Settings, *, today: date) -> list[Check]:
    """Every check, in the order an operator fixes things."""
    checks = [Check(name="config", level=Level.OK, detail="loaded and valid")]
    engine, database = _database(settings.database.url)
    checks += database
    enabled = [p for p in PLATFORMS if getattr(settings, p).enabled]
    checks += [_credentials(settings, platform) for platform in enabled]
    checks += list(_callbacks(settings))
    if enabled and engine is not None and all(c.level is not Level.FAIL for c in database):
        checks.append(_reach(engine, enabled, today))
    checks.append(_hr_leads(settings))
    if engine is not None and all(c.level is not Level.FAIL for c in database):
        checks.append(_owners(settings, engine))
    if engine is not None and all(c.level is not Level.FAIL for c in database):
        checks.append(_data_keys(settings, engine))
    checks += _policies(settings, today)
    return checks


def _database(url: str) -> tuple[Engine | None, list[Check]]:
    try:
        engine = make_engine(url)
    except DatabaseUrlError as exc:
        return None, [Check(name="database", level=Level.FAIL, detail=str(exc))]
    if not ping(engine, timeout=5.0):
        return engine, [
            Check(
                name="database",
                level=Level.FAIL,
                detail=f"{engine.url.render_as_string(hide_password=True)} does not answer",
                fix="start the database or correct [database] url / COVERWATCH_DATABASE__URL",
            )
        ]
    found, head = schema_revision(engine), head_revision()
    if found == head:
        schema = Check(name="schema", level=Level.OK, detail=f"at revision {head}")
    else:
        at = "no coverwatch schema" if found is None else f"at revision {found}, code has {head}"
        schema = Check(name="schema", level=Level.FAIL, detail=at, fix="run `coverwatch init`")
    checks = [Check(name="database", level=Level.OK, detail="reachable"), schema]
    if is_postgres(engine) and schema.level is Level.OK:
        checks.append(_autovacuum(engine))
    return engine, checks


QUEUES = (str(InboundEvent.__tablename__), str(Delivery.__tablename__))
"""The tables whose rows are claimed and answered all day: each claim and answer leaves a dead
row version behind."""


def _autovacuum(engine: Engine) -> Check:
    """PostgreSQL's autovacuum clears the queues' dead rows and refreshes the statistics their
    claims are planned on. Without it the tables only grow, and a claim's plan cached while
    the table was small scans the whole table every pass (docs/PERFORMANCE.md, session 11)."""
    with engine.connect() as connection:
        server = [
            str(connection.execute(text(f"SHOW {setting}")).scalar_one())
            for setting in ("autovacuum", "track_counts")
        ]
        rows = connection.execute(
            text(
                "SELECT relname FROM pg_class WHERE relname = ANY(:tables)"
                " AND 'autovacuum_enabled=false' = ANY(reloptions)"
            ),
            {"tables": list(QUEUES)},
        )
        tables_off = sorted(str(name) for name in rows.scalars())
    server_off = [
        f"{name} is off"
        for name, value in zip(("autovacuum", "track_counts"), server, strict=True)
        if value != "on"
    ]
    off = server_off + [f"autovacuum_enabled is false on table {name}" for name in tables_off]
    if not off:
        return Check(name="autovacuum", level=Level.OK, detail="on for the queues")
    fixes = ["set autovacuum = on and track_counts = on (postgresql.conf)"] if server_off else []
    fixes += [f"ALTER TABLE {name} RESET (autovacuum_enabled)" for name in tables_off]
    return Check(
        name="autovacuum",
        level=Level.WARN,
        detail=(
            f"{'; '.join(off)}: the {' and '.join(QUEUES)} queues keep their dead rows and"
            " their claims slow down as they grow"
        ),
        fix=f"{'; '.join(fixes)}; or run VACUUM ANALYZE {', '.join(QUEUES)} every few minutes",
    )


def _credentials(settings: Settings, platform: str) -> Check:
    name = f"{platform} credentials"
    try:
        directory = directory_for(settings, platform)
    except CliError as exc:
        return Check(name=name, level=Level.FAIL, detail=str(exc))

    async def verify() -> str:
        try:
            return await directory.verify()
        finally:
            await directory.close()

    try:
        return Check(name=name, level=Level.OK, detail=asyncio.run(verify()))
    except LookupRefused as exc:
        return Check(name=name, level=Level.FAIL, detail=str(exc), fix=f"docs/setup/{platform}.md")
    except LookupFailed as exc:
        return Check(
            name=name,
            level=Level.FAIL,
            detail=str(exc),
            fix=f"check this server can reach {getattr(settings, platform).api_base_url}",
        )


def _callbacks(settings: Settings) -> Iterator[Check]:
    """Where each platform must be pointed; what is missing for the interactive parts."""
    if settings.slack.enabled:
        if settings.slack.mode == "http":
            detail = (
                "Request URL https://YOUR-HOST/slack/events for Event Subscriptions, "
                f"Interactivity and /coverwatch (served on {settings.http.host}:"
                f"{settings.http.port} behind your TLS proxy)"
            )
        else:
            detail = "Socket Mode: no public URL needed"
        yield Check(name="slack callbacks", level=Level.OK, detail=detail)
    if settings.wecom.enabled:
        yield Check(
            name="wecom callbacks",
            level=Level.OK,
            detail="接收消息 URL https://YOUR-HOST/wecom/callback; the server's public IP must "
            "be in the app's 企业可信IP",
        )
    if settings.dingtalk.enabled:
        robot = settings.dingtalk.robot_code
        if robot and robot != settings.dingtalk.client_id:
            yield Check(
                name="dingtalk callbacks",
                level=Level.WARN,
                detail=f"robot_code {robot!r} differs from client_id",
                fix="an internal app's robot code is its client id (AppKey): remove robot_code",
            )
        if not settings.dingtalk.card_template_id:
            yield Check(
                name="dingtalk cards",
                level=Level.WARN,
                detail="no card_template_id: alerts arrive as markdown without buttons",
                fix="import the card template (docs/setup/dingtalk.md) and set card_template_id",
            )
        else:
            yield Check(name="dingtalk callbacks", level=Level.OK, detail="Stream mode: no URL")
    if not (settings.slack.enabled or settings.dingtalk.enabled or settings.wecom.enabled):
        yield Check(
            name="platforms",
            level=Level.WARN,
            detail="no chat platform enabled: alerts reach nobody but the console",
            fix="enable [slack], [dingtalk] or [wecom] (docs/setup/)",
        )


def _reach(engine: Engine, enabled: list[str], today: date) -> Check:
    """Current employees with no user id on any enabled platform get no alert anywhere."""
    columns = [PLATFORM_ID_COLUMNS[p] for p in enabled]
    current = or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= today)
    unreached = (col(c).is_(None) for c in columns)
    with Session(engine) as session:
        total = session.exec(select(func.count()).where(current)).one()
        missing = list(
            session.exec(
                select(Employee.employee_id)
                .where(current, *unreached)
                .order_by(col(Employee.employee_id))
            )
        )
    if not missing:
        return Check(name="reach", level=Level.OK, detail=f"all {total} employees reachable")
    shown = ", ".join(missing[:UNREACHABLE_SHOWN]) + (
        " …" if len(missing) > UNREACHABLE_SHOWN else ""
    )
    sync = " / ".join(f"coverwatch sync users --platform {p}" for p in enabled)
    return Check(
        name="reach",
        level=Level.WARN,
        detail=f"{len(missing)} of {total} employees have no {' or '.join(enabled)} id: {shown}",
        fix=f"add email/mobile to the employees file, then {sync}",
    )


def _hr_leads(settings: Settings) -> Check:
    if settings.alerts.hr_leads:
        return Check(name="hr_leads", level=Level.OK, detail=", ".join(settings.alerts.hr_leads))
    return Check(
        name="hr_leads",
        level=Level.WARN,
        detail="empty: unacknowledged alerts escalate no further than managers",
        fix='set [alerts] hr_leads = ["EMPLOYEE_ID", …]',
    )


def _owners(settings: Settings, engine: Engine) -> Check:
    """An account without owners sends its company-wide alerts to the on-call member, or to
    every HR and finance user: nobody in particular owns them."""
    owned = settings.account_owners()
    with Session(engine) as session:
        accounts = session.exec(select(Account.id).order_by(col(Account.id))).all()
    ownerless = [account for account in accounts if account not in owned]
    if not ownerless:
        return Check(name="owners", level=Level.OK, detail="every account has owners")
    fallback = "the on-call member" if settings.oncall.members else "every HR and finance user"
    return Check(
        name="owners",
        level=Level.WARN,
        detail=f"no owners for {', '.join(ownerless)}: their alerts go to {fallback}",
        fix='set [accounts.<id>] owners = ["EMPLOYEE_ID", …]',
    )


def _data_keys(settings: Settings, engine: Engine) -> Check:
    """Whether the keys given open every sealed id number, and what `rotate-key` has left."""
    keys = settings.security.data_keys()
    with Session(engine) as session:
        sealed = stored_key_ids(session)
        plain = plain_id_numbers(session)
        try:
            check_keys(session, keys)
        except DataKeyError as exc:
            return Check(name="data key", level=Level.FAIL, detail=str(exc))
    rotate = "coverwatch security rotate-key (docs/SECURITY.md)"
    if keys is None:
        if not plain:
            return Check(name="data key", level=Level.OK, detail="no id numbers stored")
        return Check(
            name="data key",
            level=Level.WARN,
            detail=f"{plain} id numbers stored unsealed: no [security] data_key",
            fix=f"set {DATA_KEY_VARIABLE} (coverwatch security generate-key), then {rotate}",
        )
    older = sum(n for key, n in sealed.items() if key != keys.current_id)
    if plain or older:
        return Check(
            name="data key",
            level=Level.WARN,
            detail=f"{plain} id numbers unsealed, {older} under previous keys",
            fix=rotate,
        )
    current = sealed.get(keys.current_id, 0)
    detail = f"{current} id numbers sealed under data key {keys.current_id}"
    if keys.ids != {keys.current_id}:
        return Check(
            name="data key",
            level=Level.WARN,
            detail=f"{detail}; previous_data_keys open nothing any more",
            fix="remove COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS",
        )
    return Check(name="data key", level=Level.OK, detail=detail)


def _policies(settings: Settings, today: date) -> list[Check]:
    try:
        policies = load_policies()
    except PolicyError as exc:
        return [Check(name="policies", level=Level.FAIL, detail=str(exc))]
    used = {a.policy_id for a in settings.account_settings().values()} or set(policies)
    doubtful = [
        f"{pid}: {what}" for pid in sorted(used & set(policies)) for what in _doubts(policies[pid])
    ]
    checks = [
        Check(
            name="policy trust",
            level=Level.WARN if doubtful else Level.OK,
            detail=(
                f"{len(doubtful)} unconfirmed figure(s): "
                + "; ".join(doubtful[:4])
                + (" …" if len(doubtful) > 4 else "")
                if doubtful
                else "every figure in use is confirmed"
            ),
            fix="check them against the local notice (core/policies/*.toml `source`)"
            if doubtful
            else "",
        )
    ]
    reach = cn_calendar_reach()
    if reach <= today.year:
        checks.append(
            Check(
                name="holiday calendar",
                level=Level.WARN,
                detail=f"the official holiday calendar is known up to {reach}: due dates "
                "after that skip weekends only (flagged as estimates)",
                fix="upgrade the holidays (or chinesecalendar) package once the State Council "
                "notice is out",
            )
        )
    else:
        checks.append(Check(name="holiday calendar", level=Level.OK, detail=f"known up to {reach}"))
    return checks


def _doubts(policy: Policy) -> Iterator[str]:
    for version in policy.versions:
        if version.provisional:
            yield f"version from {version.effective} provisional"
        elif not version.confirmed:
            yield f"version from {version.effective} unconfirmed"
    if not policy.due.confirmed:
        yield "due-day rule"
    if policy.suspension is not None and not policy.suspension.confirmed:
        yield "suspension rule"

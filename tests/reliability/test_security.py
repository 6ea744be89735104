"""Security checks: no secret or ID number in logs, no one else's data, no forged button.

ARCHITECTURE.md §2 "Secrets and PII": logs never hold a token, a secret or a full ID number;
personal commands answer only about the asker; a button's value is an input like any text,
so another department's alert or a made-up id gets the same "not found" as a typed command.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from adapters.base import Adapter
from adapters.slack import SlackAdapter
from adapters.webhook import WebhookAdapter
from adapters.wecom import WeComAdapter
from core.alert_rules import RuleSettings
from core.locales import ZH_CN, ZH_HK
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.pipeline import handle, router
from handlers.types import Action, Message, Reply
from storage.alerts import sending_alerts
from storage.db import make_engine, session_scope, upgrade
from storage.imports import import_employees
from storage.imports.employees import COLUMNS
from storage.models import Alert, AlertEvent, Delivery, Employee, InboundEvent, LedgerLine
from storage.outbox import AlertPayload, NewDelivery, enqueue
from storage.routing import Routing
from storage.scan import run_scan
from tests.fakes.slack import FakeSlack
from tests.fakes.webhook_server import WebhookServer
from tests.fakes.wecom import FakeWeCom
from tests.support.company import ID_NUMBER, NOW, PEOPLE, make_app, seed
from tests.support.live import LiveRuntime
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET
from tests.support.wecom import AES_KEY, AGENT_ID, CORP_ID, TOKEN, encrypted_post, fixture_xml
from tests.support.wecom import SECRET as WECOM_SECRET

WEBHOOK_SECRET = "security-webhook-secret-5e1f"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, WECOM_SECRET, TOKEN, AES_KEY, WEBHOOK_SECRET)
OTHER_ID_NUMBER = "440301198502023456"
IMPORTED_ID_NUMBER = "110101199001011234"
IMPORTED_SALARY = "87654.32"
SQL_ECHO = ("sqlalchemy.engine", "sqlalchemy.pool")
"""SQLAlchemy's statement echo (`create_engine(echo=True)`), which prints every parameter and
row by design; `storage.db.make_engine` never turns it on, so it stays at its default level."""
WIRE = ("urllib3.", "slack_sdk.")
"""HTTP clients that log each request at DEBUG: urllib3 its request line, query string included
(WeCom's `gettoken` carries the corpsecret there), slack_sdk the body (the reply's figures).
At DEBUG they would leak; bot.log_safety keeps their request lines and drops query strings
and bodies, whoever turned DEBUG on (tested apart)."""
FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
"""A full mainland ID number (GB 11643: 17 digits and a check character)."""


def _company(engine: Engine) -> AppContext:
    """The handler tests' company, alerts opened by a scan, and a second person's ID number."""
    upgrade(engine)
    seed(engine)
    app = make_app(engine)
    run_scan(
        engine,
        as_of=NOW.date(),
        now=NOW,
        policies=app.policies,
        rules=RuleSettings(lead_days=(7, 3, 1)),
        routing=Routing(),
    )
    with session_scope(engine) as session:
        session.execute(Delivery.__table__.delete())  # type: ignore[attr-defined]
        session.execute(
            update(Employee)
            .where(Employee.employee_id == "E005")  # type: ignore[arg-type]
            .values(id_number=OTHER_ID_NUMBER)
        )
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppContext]:
    engine = make_engine(f"sqlite:///{tmp_path}/coverwatch.db")
    yield _company(engine)
    engine.dispose()


def _message(user: str, text: str, *, is_direct: bool = True, platform: str = "console") -> Message:
    conversation = "D" if is_direct else "G-team"
    return Message(
        platform=platform,
        user_id=user,
        conversation_id=conversation,
        is_direct=is_direct,
        text=text,
        event_id=f"sec-{time.monotonic_ns()}",
    )


def _reply_text(reply: Reply) -> str:
    parts = [reply.text]
    if reply.card is not None:
        parts.append(reply.card.title)
        parts += [f"{f.label} {f.value}" for f in reply.card.fields]
        parts += [f"{b.label} {b.value}" for b in reply.card.buttons]
    return "\n".join(parts)


def _amount_forms(value: Decimal) -> set[str]:
    """How an amount can be written: plain, with two decimals, with thousands separators."""
    return {str(value), f"{value:.2f}", f"{value:,.2f}", f"{value:,}"}


# --- No secret or full ID number in logs -----------------------------------------------------


def _slack_command(client: httpx.Client, fake: FakeSlack, user: str, text: str) -> None:
    fields = {
        "team_id": "T0001",
        "channel_id": "D0001",
        "user_id": user,
        "command": "/coverwatch",
        "text": text,
        "response_url": fake.response_url(f"r-{text}"),
        "trigger_id": f"trigger-{time.time_ns()}",
    }
    body = urlencode(fields).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": f"v0={mac.hexdigest()}",
    }
    assert client.post("/slack/events", content=body, headers=headers).status_code == 200


def _enqueue_alert_deliveries(engine: Engine) -> int:
    """One alert to Slack (the bot token is used) and one to the signed webhook."""
    with session_scope(engine) as session:
        alert = sending_alerts(session)[0]
        assert alert.id is not None
        payload = AlertPayload(alert_id=alert.id, stage="sec")
        targets = [("slack", "U001", False), ("webhook", "webhook", True)]
        items = [
            NewDelivery(
                idempotency_key=f"sec:{platform}",
                alert_id=alert.id,
                platform=platform,
                address=address,
                is_group=group,
                payload=payload,
                urgent=True,
                not_before=NOW,
            )
            for platform, address, group in targets
        ]
        enqueue(session, items, now=NOW)
    return len(items)


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run_live_flows(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack slash commands, a WeCom message, and dispatcher sends via Slack and the webhook."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    wecom = FakeWeCom(
        corp_id=CORP_ID, secret=WECOM_SECRET, agent_id=AGENT_ID, users=frozenset({"W003"})
    )
    with (
        FakeSlack(bot_token=BOT_TOKEN) as slack,
        wecom.running(),
        WebhookServer(WEBHOOK_SECRET) as hook,
    ):
        adapters: dict[str, Adapter] = {
            "slack": SlackAdapter(
                bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_base_url=slack.api_url
            ),
            "wecom": WeComAdapter(
                corp_id=CORP_ID,
                secret=WECOM_SECRET,
                agent_id=AGENT_ID,
                token=TOKEN,
                encoding_aes_key=AES_KEY,
                api_base_url=wecom.base_url,
            ),
            "webhook": WebhookAdapter(hook.url, WEBHOOK_SECRET),
        }
        sent = _enqueue_alert_deliveries(app.engine)
        with (
            LiveRuntime(app, adapters) as live,
            httpx.Client(base_url=live.url, timeout=10, trust_env=False) as client,
        ):
            for text in ("coverage", "contributions", "contributions 2025-05"):
                _slack_command(client, slack, "U001", text)
            xml = fixture_xml("text_message", FromUserName="W003", Content="dues")
            query, body = encrypted_post(xml, timestamp=int(time.time()))
            assert client.post("/wecom/callback", params=query, content=body).status_code == 200

            def settled() -> bool:
                with Session(app.engine) as session:
                    done = session.exec(
                        select(func.count()).select_from(Delivery).where(Delivery.state == "sent")
                    ).one()
                    seen = session.exec(select(func.count()).select_from(InboundEvent)).one()
                return done == sent and seen == 4 and len(slack.responses) == 3

            _wait(settled)
            _wait(lambda: any(call.api == "message/send" for call in wecom.calls))


def _run_in_process_flows(app: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Personal commands in private and in a group, company commands, a failing command, and
    an import whose file carries ID numbers (one of them invalid, so a row error is made)."""
    for user, text in [
        ("E001", "coverage"),
        ("E001", "contributions"),
        ("E001", "contributions 2025-04"),
        ("E003", "dues"),
        ("E003", "arrears"),
        ("E003", "alerts"),
        ("E002", "kpi 2025-06"),
    ]:
        handle(app, _message(user, text))
    handle(app, _message("E001", "coverage", is_direct=False))

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError(f"id {ID_NUMBER} salary 12000.00 token {BOT_TOKEN}")

    monkeypatch.setattr("handlers.commands.personal.employee_cover", broken)
    reply = handle(app, _message("E001", "coverage"))
    assert reply.text == translate(ZH_CN, "error.internal")  # the failure did happen
    monkeypatch.undo()

    names = [column.name for column in COLUMNS]
    row = dict.fromkeys(names, "")
    row.update(
        employee_id="N100",
        name="新同事",
        department="Engineering",
        account="beijing",
        hire_date="2025-03-01",
        salary=IMPORTED_SALARY,
        role="employee",
        id_number=IMPORTED_ID_NUMBER,
    )
    bad = {**row, "employee_id": "N101", "id_number": IMPORTED_ID_NUMBER[:-1] + "0"}
    for rows in ([row], [row, bad]):
        path = tmp_path / f"employees-{len(rows)}.csv"
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
        with session_scope(app.engine) as session:
            import_employees(session, path, known_accounts={"beijing", "hk"}, dry_run=True)


def _logged_text(
    app: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> dict[str, str]:
    """Every flow run with every logger at DEBUG; the captured text per logger name."""
    names = sorted(logging.root.manager.loggerDict, key=lambda name: not name.startswith(SQL_ECHO))
    for name in names:  # `set_level` also sets the capture handler's level: DEBUG comes last
        level = logging.WARNING if name.startswith(SQL_ECHO) else logging.DEBUG
        caplog.set_level(level, logger=name)
    caplog.set_level(logging.DEBUG)
    _run_in_process_flows(app, tmp_path, monkeypatch)
    _run_live_flows(app, monkeypatch)
    assert len(caplog.records) > 10, "the flows logged something to scan"
    formatter = logging.Formatter("%(name)s %(message)s")
    texts: dict[str, list[str]] = {}
    for record in caplog.records:
        texts.setdefault(record.name, []).append(formatter.format(record))
    return {name: "\n".join(lines) for name, lines in texts.items()}


def _assert_no_secret(logged: str) -> None:
    for secret in SECRETS:
        assert secret not in logged, f"a secret was logged: {secret[:4]}…"


def _assert_no_pii(logged: str) -> None:
    assert FULL_ID.search(logged) is None, "a full ID number was logged"
    for amount in {Decimal(IMPORTED_SALARY), *(Decimal(p[5]) for p in PEOPLE)}:
        for form in _amount_forms(amount):
            if len(form) >= 6:  # shorter forms (e.g. "9000") also occur as ports or counts
                assert form not in logged, f"an unmasked salary was logged: {form}"


def test_no_secret_or_full_id_number_in_logs(
    app: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = _logged_text(app, tmp_path, monkeypatch, caplog)
    assert {"handlers.pipeline", "bot.dispatcher"} & set(logged), "coverwatch's own logs"
    # slack_sdk logs each Web API call at DEBUG but redacts the token: checked here too.
    _assert_no_secret("\n".join(t for n, t in logged.items() if not n.startswith(WIRE[0])))
    _assert_no_pii("\n".join(t for n, t in logged.items() if not n.startswith(WIRE)))


def test_third_party_request_lines_hold_no_secret(
    app: AppContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = _logged_text(app, tmp_path, monkeypatch, caplog)
    wire = "\n".join(text for name, text in logged.items() if name.startswith(WIRE))
    assert wire, "the clients did log their requests"
    _assert_no_secret(wire)
    _assert_no_pii(wire)


# --- An employee cannot read another's data --------------------------------------------------

ARGUMENTS = [
    "", "E005", "E002", "E001", "U001", "D002", "W003", "张三", "何七", "2025-04", "2025-05",
    "2025-06", "E005 2025-05", "2025-05 E005", "1", "#1", "2", "99", "1 4h", "1 2", "all",
    "--all", "@E005", "<@U001>", "beijing", "hk", "Sales", "Engineering",
]  # fmt: skip


def _others_marks(app: AppContext) -> set[str]:
    """What identifies someone other than E001: names, ids, salaries, bases, ID numbers."""
    marks = {OTHER_ID_NUMBER}
    with Session(app.engine) as session:
        for person in session.exec(select(Employee).where(Employee.employee_id != "E001")):
            marks |= {person.name, person.employee_id}
            marks |= {f for f in _amount_forms(person.salary) if len(f) >= 6}
        lines = select(LedgerLine).where(LedgerLine.employee_id != "E001")
        for line in session.exec(lines):
            if line.base > 0:
                marks |= {f for f in _amount_forms(line.base) if len(f) >= 6}
    return marks


def test_an_employee_never_sees_another_employees_data(app: AppContext) -> None:
    marks = _others_marks(app)
    own = _amount_forms(Decimal("12000"))
    assert not marks & own, "the marks are distinctive: E001's own salary is not among them"
    asked = 0
    for command in router():
        for word in (command.name, command.aliases[-1]):
            for argument in ARGUMENTS:
                for is_direct in (True, False):
                    text = f"{word} {argument}".strip()
                    reply = _reply_text(handle(app, _message("E001", text, is_direct=is_direct)))
                    for token in argument.split():  # an echoed argument is not a leak; a
                        reply = reply.replace(token, "")  # leak also shows name or figures
                    leaked = sorted(mark for mark in marks if mark in reply)
                    assert not leaked, (text, leaked, reply)
                    assert ID_NUMBER not in reply, "the full ID number, even the owner's"
                    asked += 1
    assert asked >= len(list(router())) * len(ARGUMENTS) * 4
    # The control: the employee's own figures are answered, so the checks above see replies.
    mine = _reply_text(handle(app, _message("E001", "contributions 2025-05")))
    assert "12,000.00" in mine or "12000" in mine, mine


# --- Forged button values ----------------------------------------------------------------------


def _audit_and_states(engine: Engine) -> tuple[int, dict[int, tuple[str, datetime | None]]]:
    with Session(engine) as session:
        audit = int(session.exec(select(func.count()).select_from(AlertEvent)).one())
        states = {
            alert.id: (alert.state, alert.snoozed_until)
            for alert in session.exec(select(Alert))
            if alert.id is not None
        }
    return audit, states


def _click(user: str, action: str, value: str, *, platform: str = "console") -> Action:
    return Action(
        platform=platform,
        user_id=user,
        conversation_id="G-hr",
        action_id=action,
        value=value,
        event_id=f"forged-{time.monotonic_ns()}",
    )


def test_forged_button_values_are_refused(app: AppContext) -> None:
    with Session(app.engine) as session:
        alerts = list(session.exec(select(Alert).where(Alert.state == "open")))
        highest = session.exec(select(func.max(Alert.id))).one()
    # E006 manages Sales, insured on the HK account: Beijing's alerts are outside the scope.
    foreign = next(a for a in alerts if a.account_id == "beijing" and a.employee_id is None)
    missing = int(highest or 0) + 1000
    not_found = {
        translate(locale, "alert.not_found", id=alert_id)
        for locale in (ZH_CN, ZH_HK, "en")  # E006 works on the HK account: zh-HK
        for alert_id in (foreign.id, missing)
    }
    unknown = {translate(locale, "error.not_registered") for locale in (ZH_CN, "en")}
    forbidden = {translate(locale, "error.forbidden") for locale in (ZH_CN, "en")}
    before = _audit_and_states(app.engine)
    forged = [
        (_click("E006", "ack", str(foreign.id)), not_found),
        (_click("E006", "snooze", f"{foreign.id}:4h"), not_found),
        (_click("E003", "ack", str(missing)), not_found),
        (_click("E003", "snooze", f"{missing}:4h"), not_found),
        (_click("U999", "ack", str(foreign.id), platform="slack"), unknown),
        (_click("E999", "snooze", f"{foreign.id}:4h"), unknown),
        # A click from a plain employee (U001 is E001 on Slack): employees act on no alert.
        (_click("U001", "ack", str(foreign.id), platform="slack"), forbidden),
    ]
    for action, expected in forged:
        reply = handle(app, action)
        assert reply.text in expected, (action, reply.text)
        assert _audit_and_states(app.engine) == before, action
    # The control: the same click by someone in scope does change the alert and is audited.
    handle(app, _click("E003", "ack", str(foreign.id)))
    audit, states = _audit_and_states(app.engine)
    assert audit > before[0] and states[foreign.id or 0][0] == "acknowledged"

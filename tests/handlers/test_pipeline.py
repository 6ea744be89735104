"""The single entry point: identity, language, routing, refusals, and never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection

import handlers.commands.personal as personal
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.pipeline import handle, router
from handlers.types import Action, Message, Reply
from storage.db import ReadSessions, is_postgres, make_engine, session_scope, upgrade
from storage.models import Employee
from tests.support.company import ID_NUMBER, Ask, asker, make_app, seed

INTERNAL_ZH = translate(ZH_CN, "error.internal")


def test_unknown_user_gets_not_registered_in_the_default_locale(ask: Ask) -> None:
    reply = ask("UNKNOWN", "help", platform="slack", locale="en")
    assert reply.text == translate(ZH_CN, "error.not_registered")
    assert reply.card is None


def test_unknown_user_in_a_group_is_answered_only_to_them(ask: Ask) -> None:
    reply = ask("UNKNOWN", "我的医保", platform="slack", is_direct=False)
    assert reply.ephemeral
    assert "2025" not in reply.text


@pytest.mark.parametrize(
    ("platform", "user_id"), [("slack", "U001"), ("dingtalk", "D002"), ("wecom", "W003")]
)
def test_platform_users_are_identified_by_their_platform_id(
    ask: Ask, platform: str, user_id: str
) -> None:
    reply = ask(user_id, "coverage", platform=platform)
    assert reply.card is not None
    assert reply.card.title == "我的医保"


def test_a_platform_id_is_not_an_employee_id(ask: Ask) -> None:
    reply = ask("E001", "coverage", platform="slack")
    assert reply.text == translate(ZH_CN, "error.not_registered")


def test_unknown_text_gets_a_hint_pointing_to_help(ask: Ask) -> None:
    assert ask("E001", "what is the weather").text == translate(ZH_CN, "error.unknown")
    assert ask("E001", "天气怎么样", locale="en").text == translate("en", "error.unknown")
    assert "帮助" in ask("E001", "").text


def test_bad_arguments_get_the_usage_hint(ask: Ask) -> None:
    reply = ask("E001", "contributions 2025-06 extra", locale="en")
    assert reply.text == "Usage: contributions [YYYY-MM]"
    reply = ask("E001", "缴费明细 六月")
    assert (
        reply.text
        == "“六月”不是有效的月份，请写成 YYYY-MM，例如 2025-06。\n用法：缴费明细 [YYYY-MM]"
    )
    assert ask("E003", "ack").text == "用法：确认 告警编号"


def test_message_locale_is_used_when_the_user_has_no_preference(ask: Ask) -> None:
    assert ask("E001", "help", locale="en-US").text.startswith("You can ask me:")
    assert ask("E001", "help").text.startswith("你可以问我：")
    assert ask("E001", "help", locale="fr").text.startswith("你可以问我：")


def test_employee_locale_beats_the_message_locale(app: AppContext, ask: Ask) -> None:
    with session_scope(app.engine) as session:
        employee = session.get(Employee, "E005")
        assert employee is not None
        employee.locale = "en"
    assert ask("E005", "帮助", locale=ZH_CN).text.startswith("You can ask me:")


def test_refusal_is_polite_and_reveals_nothing(ask: Ask) -> None:
    reply = ask("E002", "dues")
    assert reply.text == translate(ZH_CN, "error.forbidden")
    reply = ask("E001", "arrears 2025-06", is_direct=False, locale="en")
    assert reply.text == translate("en", "error.forbidden")
    assert reply.ephemeral


def test_unexpected_failure_is_an_apology_and_the_log_holds_no_pii(
    ask: Ask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"salary 12000.00 of {ID_NUMBER}")

    monkeypatch.setattr(personal, "employee_cover", broken)
    with caplog.at_level(logging.ERROR, logger="handlers.pipeline"):
        reply = ask("E001", "我的医保")
    assert reply.text == INTERNAL_ZH
    assert "Traceback" not in reply.text and "RuntimeError" not in reply.text
    assert len(caplog.records) == 1
    logged = caplog.text
    assert "RuntimeError" in logged and "coverage" in logged
    assert ID_NUMBER not in logged and "12000" not in logged and "张三" not in logged


def test_a_failure_after_the_locale_is_known_apologises_in_that_locale(
    ask: Ask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(personal, "employee_cover", broken)
    assert ask("E001", "coverage", locale="en").text == translate("en", "error.internal")


def test_a_database_outage_is_an_apology(app: AppContext) -> None:
    app.engine.dispose()
    broken = AppContext(
        engine=create_engine("sqlite:////nonexistent/dir/x.db"),
        policies=app.policies,
        clock=app.clock,
    )
    message = Message(
        platform="console",
        user_id="E001",
        conversation_id="D",
        is_direct=True,
        text="coverage",
        event_id="e1",
    )
    assert handle(broken, message).text == INTERNAL_ZH


def test_an_unknown_button_gets_the_hint(app: AppContext) -> None:
    action = Action(
        platform="console",
        user_id="E003",
        conversation_id="G",
        action_id="explode",
        value="1",
        event_id="c1",
    )
    assert handle(app, action).text == translate(ZH_CN, "error.unknown")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=60), is_direct=st.booleans())
def test_any_text_gets_a_non_empty_reply_and_never_an_internal_error(
    app: AppContext, text: str, is_direct: bool
) -> None:
    for user in ("E001", "E003"):
        reply = asker(app)(user, text, is_direct=is_direct)
        assert reply.text.strip()
        assert reply.text not in (INTERNAL_ZH, translate("en", "error.internal"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from(
        ["缴费明细", "contributions", "dues", "确认", "snooze 1", "分期 1", "绩效"]
    ),
    argument=st.text(max_size=20),
)
def test_any_argument_gets_an_answer_not_an_internal_error(
    app: AppContext, command: str, argument: str
) -> None:
    reply = asker(app)("E003", f"{command} {argument}")
    assert reply.text.strip()
    assert reply.text != INTERNAL_ZH


def _statements(app: AppContext, ask: Callable[[], Reply]) -> list[tuple[str, bool]]:
    """Each statement `ask` ran, and whether its connection was in autocommit (PostgreSQL).
    Read where the driver gets them: on PostgreSQL a cursor of psycopg's records each (the
    hot reads run on the driver, unseen by SQLAlchemy's events: `storage.driver`)."""
    ran: list[tuple[str, bool]] = []

    def note(statement: object, autocommit: bool) -> None:
        ran.append((str(statement).lstrip().split()[0].upper(), autocommit))

    if not is_postgres(app.engine):

        def record(_conn: Connection, _cursor: object, statement: str, *_: object) -> None:
            note(statement, False)

        event.listen(app.engine, "before_cursor_execute", record)
        try:
            ask()
        finally:
            event.remove(app.engine, "before_cursor_execute", record)
        return ran

    import psycopg

    class Recording(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> Recording:
            note(query, self.connection.autocommit)
            return super().execute(query, params, **options)

    def recorded(dbapi_connection: Any, _record: object, _proxy: object) -> None:
        dbapi_connection.cursor_factory = Recording

    def unrecorded(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.cursor_factory = psycopg.Cursor

    event.listen(app.engine, "checkout", recorded)
    event.listen(app.engine, "checkin", unrecorded)
    try:
        ask()
    finally:
        event.remove(app.engine, "checkout", recorded)
        event.remove(app.engine, "checkin", unrecorded)
    return ran


def test_a_command_that_reads_only_writes_nothing(any_app: AppContext) -> None:
    """`Command.reads_only` runs without a transaction on PostgreSQL: it must not write."""
    ask = asker(any_app)
    reading = [command.name for command in router() if command.reads_only]
    assert {"coverage", "help"} <= set(reading)
    for name in reading:
        ran = _statements(any_app, partial(ask, "E003", name))
        assert ran and all(word == "SELECT" for word, _ in ran), (name, ran)


def test_a_command_that_reads_only_commits_nothing(any_app: AppContext) -> None:
    """Its session is closed, not committed (`storage.db.session_scope`); a write commits."""
    ask = asker(any_app)
    commits: list[int] = []

    def count(_conn: Connection) -> None:
        commits.append(1)

    event.listen(any_app.engine, "commit", count)
    try:
        ask("E003", "coverage")
        reading = len(commits)
        ask("E003", "lang en")
    finally:
        event.remove(any_app.engine, "commit", count)
    assert (reading, len(commits)) == (0, 1)


def test_given_kept_reads_a_reading_command_runs_there_and_a_writing_one_apart(
    any_app: AppContext,
) -> None:
    """A handler worker's loop passes `ReadSessions`: the commands that only read run on its
    one connection (no checkout each); a command that writes still commits its own."""
    reads = ReadSessions(any_app.engine)
    checkouts: list[int] = []
    commits: list[int] = []

    def checkout(*_: object) -> None:
        checkouts.append(1)

    def commit(_conn: Connection) -> None:
        commits.append(1)

    ask = partial(asker(any_app, reads), "E003")
    event.listen(any_app.engine, "checkout", checkout)
    event.listen(any_app.engine, "commit", commit)
    try:
        answers = [ask("coverage"), ask("help"), ask("coverage")]
        reading = (len(checkouts), len(commits))
        ask("lang en")
    finally:
        reads.close()
        event.remove(any_app.engine, "checkout", checkout)
        event.remove(any_app.engine, "commit", commit)
    assert [answer.card.title if answer.card else None for answer in answers[::2]] == [
        "我的医保",
        "我的医保",
    ]
    assert reading == (1, 0)
    assert (len(checkouts), len(commits)) == (2, 1)


@pytest.mark.postgres
def test_on_postgres_a_reading_command_runs_without_begin_and_commit(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    seed(engine)
    app = make_app(engine)
    ask = asker(app)
    reading = _statements(app, lambda: ask("E001", "coverage"))
    writing = _statements(app, lambda: ask("E001", "lang en"))
    engine.dispose()
    assert len(reading) == 2, reading  # the asker, then the account's periods in one statement
    assert all(autocommit for _, autocommit in reading)
    assert not any(autocommit for _, autocommit in writing)

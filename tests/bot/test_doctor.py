"""`coverwatch doctor`: every check on one line; real calls to each platform's fake prove the
credentials; a wrong token or an unreachable database is a `fail` and exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from bot.cli import app
from storage.db import make_engine
from storage.sealing import key_id, new_key
from tests.fakes.dingtalk import FakeDingTalk
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom
from tests.support.cli import TODAY, company

BOT_TOKEN = "xoxb-doctor"
AES_KEY = "a" * 43


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSlack, FakeDingTalk, FakeWeCom]]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    dingtalk = FakeDingTalk()
    dingtalk.start()
    wecom = FakeWeCom(corp_id="wwcorp", secret="wecom-secret", agent_id=1000002, users=frozenset())
    with FakeSlack(bot_token=BOT_TOKEN) as slack, wecom.running():
        yield slack, dingtalk, wecom
    dingtalk.stop()


def env_for(slack: FakeSlack, dingtalk: FakeDingTalk, wecom: FakeWeCom) -> dict[str, str]:
    return {
        "COVERWATCH_SLACK__ENABLED": "true",
        "COVERWATCH_SLACK__BOT_TOKEN": BOT_TOKEN,
        "COVERWATCH_SLACK__SIGNING_SECRET": "s3cret",
        "COVERWATCH_SLACK__API_BASE_URL": slack.api_url,
        "COVERWATCH_DINGTALK__ENABLED": "true",
        "COVERWATCH_DINGTALK__CLIENT_ID": dingtalk.client_id,
        "COVERWATCH_DINGTALK__CLIENT_SECRET": dingtalk.client_secret,
        "COVERWATCH_DINGTALK__API_BASE_URL": dingtalk.base_url,
        "COVERWATCH_DINGTALK__CARD_TEMPLATE_ID": "tpl.schema",
        "COVERWATCH_WECOM__ENABLED": "true",
        "COVERWATCH_WECOM__CORP_ID": "wwcorp",
        "COVERWATCH_WECOM__SECRET": "wecom-secret",
        "COVERWATCH_WECOM__AGENT_ID": "1000002",
        "COVERWATCH_WECOM__TOKEN": "callback-token",
        "COVERWATCH_WECOM__ENCODING_AES_KEY": AES_KEY,
        "COVERWATCH_WECOM__API_BASE_URL": wecom.base_url,
        "COVERWATCH_ALERTS__HR_LEADS": '["H001"]',
    }


def doctor(url: str, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", url, "--today", TODAY, "doctor", *args], env=env)


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/doctor.db"
    company(db, tmp_path)
    return db


def test_a_healthy_setup_prints_every_check(
    url: str, fakes: tuple[FakeSlack, FakeDingTalk, FakeWeCom]
) -> None:
    result = doctor(url, env_for(*fakes))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    names = [line.split(":", 1)[0].split(None, 1)[1] for line in lines]
    assert names[:8] == [
        "config",
        "database",
        "schema",
        "slack credentials",
        "dingtalk credentials",
        "wecom credentials",
        "slack callbacks",
        "wecom callbacks",
    ]
    assert "ok   slack credentials: bot coverwatch in workspace Coverwatch Test" in lines
    assert "ok   wecom credentials: app coverwatch (agent 1000002)" in lines
    assert "ok   hr_leads: H001" in lines
    owners = next(line for line in lines if " owners:" in line)
    assert owners.startswith(
        "warn owners: no owners for beijing, hk, shanghai: their alerts go to every HR and "
        "finance user — fix: set [accounts.<id>] owners"
    )
    reach = next(line for line in lines if " reach:" in line)
    assert reach.startswith("warn reach: 5 of 5 employees have no slack or dingtalk or wecom id")
    assert (
        "warn data key: 2 id numbers stored unsealed: no [security] data_key — fix: set "
        "COVERWATCH_SECURITY__DATA_KEY (coverwatch security generate-key), then coverwatch "
        "security rotate-key (docs/SECURITY.md)"
    ) in lines


def test_the_data_key_check_follows_a_rotation(url: str) -> None:
    key, wrong = new_key(), new_key()

    def check(environ: dict[str, str]) -> tuple[str, str]:
        result = doctor(url, {"COVERWATCH_SECURITY__DATA_KEY": "", **environ}, "--json")
        [found] = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "data key"]
        return found["level"], found["detail"]

    assert check({"COVERWATCH_SECURITY__DATA_KEY": key}) == (
        "warn",
        "2 id numbers unsealed, 0 under previous keys",
    )
    environ = {"COVERWATCH_SECURITY__DATA_KEY": key}
    sealed = CliRunner().invoke(
        app, ["--db", url, "--today", TODAY, "security", "rotate-key"], env=environ
    )
    assert sealed.exit_code == 0, sealed.output
    assert check(environ) == ("ok", f"2 id numbers sealed under data key {key_id(key)}")
    assert check(environ | {"COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS": f'["{wrong}"]'}) == (
        "warn",
        f"2 id numbers sealed under data key {key_id(key)}; previous_data_keys open nothing "
        "any more",
    )
    level, detail = check({"COVERWATCH_SECURITY__DATA_KEY": wrong})
    assert level == "fail" and f"sealed under data key {key_id(key)}" in detail
    assert key not in detail and wrong not in detail


@pytest.mark.parametrize(
    ("platform", "key", "expected"),
    [
        ("slack", "COVERWATCH_SLACK__BOT_TOKEN", "the bot token is invalid (invalid_auth)"),
        ("dingtalk", "COVERWATCH_DINGTALK__CLIENT_SECRET", "client_id/client_secret refused"),
        ("wecom", "COVERWATCH_WECOM__SECRET", "refused the app secret"),
        ("wecom", "COVERWATCH_WECOM__AGENT_ID", "errcode 40056"),
    ],
)
def test_a_wrong_credential_fails(
    url: str,
    fakes: tuple[FakeSlack, FakeDingTalk, FakeWeCom],
    platform: str,
    key: str,
    expected: str,
) -> None:
    wrong = "1000009" if key.endswith("AGENT_ID") else "wrong"
    result = doctor(url, env_for(*fakes) | {key: wrong}, "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    [failed] = [c for c in document["checks"] if c["level"] == "fail"]
    assert failed["name"] == f"{platform} credentials" and expected in failed["detail"]


def test_an_unreachable_database_fails(tmp_path: Path) -> None:
    result = doctor("postgresql://postgres@127.0.0.1:1/none", {})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith("fail database: postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert "fix: start the database" in lines[1]
    assert not any(" schema:" in line for line in lines)


def test_before_init_says_run_init(tmp_path: Path) -> None:
    result = doctor(f"sqlite:///{tmp_path}/empty.db", {})
    assert result.exit_code == 1
    assert "fail schema: no coverwatch schema — fix: run `coverwatch init`" in result.stdout


@pytest.mark.postgres
def test_on_postgres_a_queue_left_without_autovacuum_is_a_warning(
    pg_url: str, tmp_path: Path
) -> None:
    """Without autovacuum the queues keep their dead rows and a claim's cached plan scans
    them all (docs/PERFORMANCE.md, session 11)."""
    company(pg_url, tmp_path)

    def autovacuum_line() -> str:
        result = doctor(pg_url, {})
        return next(line for line in result.stdout.splitlines() if " autovacuum:" in line)

    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            server_on = connection.execute(text("SHOW autovacuum")).scalar_one() == "on"
        assert autovacuum_line().startswith("ok   autovacuum: on" if server_on else "warn")
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbound SET (autovacuum_enabled = false)"))
    finally:
        engine.dispose()
    line = autovacuum_line()
    assert line.startswith("warn autovacuum: ")
    assert "autovacuum_enabled is false on table inbound" in line
    assert ("autovacuum is off" in line) is not server_on
    assert "ALTER TABLE inbound RESET (autovacuum_enabled)" in line
    assert ("set autovacuum = on" in line) is not server_on
